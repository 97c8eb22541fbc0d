"""Dead reckoning on numpy arrays, over ``mista.geo``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mista.geo import KNOT_M_S, destination, haversine_m

__all__ = ["KNOT_M_S", "dead_reckon", "haversine_m"]

F64 = npt.NDArray[np.float64]


def dead_reckon(lat: F64, lon: F64, sog_kn: F64, cog_deg: F64, dt_s: F64) -> tuple[F64, F64]:
    """Positions after ``dt_s`` at constant speed and course (an unknown speed or course
    leaves the position where it was)."""
    known = np.isfinite(sog_kn) & np.isfinite(cog_deg)
    step = np.where(known, sog_kn, 0.0) * KNOT_M_S * dt_s
    out_lat, out_lon = destination(lat, lon, np.where(known, cog_deg, 0.0), step)
    return np.asarray(out_lat, np.float64), np.asarray(out_lon, np.float64)
