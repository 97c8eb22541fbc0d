"""Distances and dead reckoning on numpy arrays (spherical Earth; short-range flat steps)."""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

__all__ = ["KNOT_M_S", "dead_reckon", "haversine_m"]

F64 = npt.NDArray[np.float64]
EARTH_RADIUS_M = 6_371_008.8
KNOT_M_S = 1852.0 / 3600.0
_RAD = np.pi / 180.0


@overload
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...
@overload
def haversine_m(lat1: F64 | float, lon1: F64 | float, lat2: F64, lon2: F64) -> F64: ...
@overload
def haversine_m(lat1: F64, lon1: F64, lat2: F64 | float, lon2: F64 | float) -> F64: ...
def haversine_m(
    lat1: F64 | float, lon1: F64 | float, lat2: F64 | float, lon2: F64 | float
) -> F64 | float:
    """Great-circle distance in metres (broadcasting)."""
    p1 = np.multiply(lat1, _RAD)
    p2 = np.multiply(lat2, _RAD)
    dlat = p2 - p1
    dlon = np.multiply(np.subtract(lon2, lon1), _RAD)
    a = np.sin(dlat * 0.5) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon * 0.5) ** 2
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    if np.ndim(d) == 0:
        return float(d)
    out: F64 = d
    return out


def dead_reckon(lat: F64, lon: F64, sog_kn: F64, cog_deg: F64, dt_s: F64) -> tuple[F64, F64]:
    """Positions after ``dt_s`` at constant speed and course (flat step; an unknown speed or
    course leaves the position where it was)."""
    step = np.where(np.isfinite(sog_kn) & np.isfinite(cog_deg), sog_kn, 0.0) * KNOT_M_S * dt_s
    course = np.where(np.isfinite(cog_deg), cog_deg, 0.0) * _RAD
    north = step * np.cos(course)
    east = step * np.sin(course)
    dlat = north / (EARTH_RADIUS_M * _RAD)
    dlon = east / (EARTH_RADIUS_M * _RAD * np.maximum(np.cos(lat * _RAD), 1e-6))
    out_lat: F64 = lat + dlat
    out_lon: F64 = (lon + dlon + 180.0) % 360.0 - 180.0
    return out_lat, out_lon
