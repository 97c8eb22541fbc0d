"""Type stub for the compiled payload core (``_payload.pyx``)."""

from typing import Any

import numpy as np
import numpy.typing as npt

def configure(
    ops: npt.NDArray[np.int32],
    type_start: npt.NDArray[np.int32],
    type_nops: npt.NDArray[np.int32],
    type_nslots: npt.NDArray[np.int32],
    min_bits: npt.NDArray[np.int32],
    max_bits: npt.NDArray[np.int32],
) -> None: ...
def configure_names(
    names: list[str],
    scales: list[float],
    labels: list[tuple[str, ...] | None],
    sources: list[int],
) -> None: ...
def decode_bulk(
    payload: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    fill_bits: npt.NDArray[np.uint8],
    n_common_int: int,
    n_common_float: int,
    n_common_valid: int,
) -> tuple[
    npt.NDArray[np.uint8],
    npt.NDArray[np.int16],
    npt.NDArray[np.int32],
    npt.NDArray[np.int64],
    dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]],
    npt.NDArray[np.uint8],
    tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.uint8]],
]: ...
def decode_one(chars: bytes, fill: int) -> tuple[int, int, int, int, dict[str, Any] | None]: ...
