"""Type stub of the compiled radar association core (see _radar_scan.pyx)."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from .chunk import Association
from .config import FuseConfig
from .feed import PositionRows
from .radar_gate import GatedPairs
from .tracks import Track

CLOSE_X: float
CELL_DEG: float
M_PER_DEG: float

class Tracklet:
    last_t: float
    weight: float
    dark_first_t: float
    ais: int
    track: Track | None
    pending: list[tuple[PositionRows, int]]

    def __init__(self) -> None: ...
    @property
    def scores(self) -> dict[int, float]: ...
    @property
    def kept(self) -> list[tuple[float, float, float]]: ...
    def add(self, t: float, lat: float, lon: float, keep: int) -> None: ...
    def predict(self, t: float, sigma_m: float, c: FuseConfig) -> tuple[float, float, float]: ...

class RadarState:
    tracklets: list[Tracklet]
    owner: dict[int, Tracklet]
    cells: dict[int, set[Tracklet]]
    done_t: float
    expired_t: float
    period: float
    new_gaps: int
    last_close: dict[int, float]

    def __init__(self) -> None: ...
    def learn_period(self, number: int, t: float, scan_s: float) -> None: ...

def run_scans(
    state: RadarState,
    config: FuseConfig,
    sigma_m: float,
    gate2: float,
    decay: float,
    starts: npt.NDArray[np.intp],
    scan_t: npt.NDArray[np.float64],
    pairs: GatedPairs,
    rows: PositionRows,
    associations: list[Association],
    pending: dict[int, list[int]],
    confirm: Callable[[Tracklet], None],
) -> None: ...
def predict_track(
    all_t: npt.NDArray[np.float64],
    flags: npt.NDArray[np.uint16],
    all_lat: npt.NDArray[np.generic],
    all_lon: npt.NDArray[np.generic],
    all_sog: npt.NDArray[np.generic],
    all_cog: npt.NDArray[np.generic],
    when: npt.NDArray[np.float64],
    bad: int,
    c: FuseConfig,
    plat: npt.NDArray[np.float64],
    plon: npt.NDArray[np.float64],
    sigma: npt.NDArray[np.float64],
) -> None: ...
