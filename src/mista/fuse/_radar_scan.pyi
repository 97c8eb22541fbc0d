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
