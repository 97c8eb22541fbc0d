"""Great-circle distance, bearing, destination, and closest point of approach.

All functions broadcast like numpy: pass scalars for one answer (a ``float``) or arrays for
many (an ``ndarray``). Angles are degrees, distances metres, speeds knots, times seconds.
The earth is a sphere of radius ``EARTH_RADIUS_M`` (the mean radius): distances are within
about 0.5 % of the WGS 84 ellipsoid, which is far below AIS position noise.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Mean earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
#: One knot in metres per second (exactly 1852 m per hour).
KNOT_M_S = 1852.0 / 3600.0
#: Metres in a degree of latitude (and of longitude at the equator) on that sphere, to a
#: metre: for local flat approximations.
METRES_PER_DEGREE = 111_195.0

FloatArray = NDArray[np.float64]


def _out(value: FloatArray) -> Any:
    """A float for a 0-d result, the array otherwise (so scalar calls get scalars back)."""
    return float(value) if np.ndim(value) == 0 else value


def _f(value: ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


@overload
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...
@overload
def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any: ...
def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Great-circle distance in metres between points given in degrees (broadcasting)."""
    phi1, phi2 = np.radians(_f(lat1)), np.radians(_f(lat2))
    dphi = phi2 - phi1
    dlam = np.radians(_f(lon2) - _f(lon1))
    h = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2) ** 2
    # clip: rounding can push h a hair above 1 for antipodal points
    return _out(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


@overload
def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...
@overload
def bearing_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any: ...
def bearing_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in
    [0, 360). Coincident points give 0."""
    phi1, phi2 = np.radians(_f(lat1)), np.radians(_f(lat2))
    dlam = np.radians(_f(lon2) - _f(lon1))
    y = np.sin(dlam) * np.cos(phi2)
    x = np.cos(phi1) * np.sin(phi2) - np.sin(phi1) * np.cos(phi2) * np.cos(dlam)
    return _out(np.degrees(np.arctan2(y, x)) % 360.0)


@overload
def destination(
    lat: float, lon: float, bearing_deg: float, distance_m: float
) -> tuple[float, float]: ...
@overload
def destination(
    lat: ArrayLike, lon: ArrayLike, bearing_deg: ArrayLike, distance_m: ArrayLike
) -> tuple[Any, Any]: ...
def destination(
    lat: ArrayLike, lon: ArrayLike, bearing_deg: ArrayLike, distance_m: ArrayLike
) -> tuple[Any, Any]:
    """The point ``distance_m`` metres from (lat, lon) along the great circle that starts on
    ``bearing_deg``: ``(lat, lon)`` in degrees, longitude normalised to [-180, 180)."""
    phi1, lam1 = np.radians(_f(lat)), np.radians(_f(lon))
    theta = np.radians(_f(bearing_deg))
    delta = _f(distance_m) / EARTH_RADIUS_M
    sin_phi2 = np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(theta)
    phi2 = np.arcsin(np.clip(sin_phi2, -1.0, 1.0))
    lam2 = lam1 + np.arctan2(
        np.sin(theta) * np.sin(delta) * np.cos(phi1), np.cos(delta) - np.sin(phi1) * sin_phi2
    )
    lon2 = (np.degrees(lam2) + 180.0) % 360.0 - 180.0
    return _out(np.degrees(phi2)), _out(lon2)


@overload
def cpa_tcpa(
    lat1: float,
    lon1: float,
    sog1_kn: float,
    cog1_deg: float,
    lat2: float,
    lon2: float,
    sog2_kn: float,
    cog2_deg: float,
) -> tuple[float, float]: ...
@overload
def cpa_tcpa(
    lat1: ArrayLike,
    lon1: ArrayLike,
    sog1_kn: ArrayLike,
    cog1_deg: ArrayLike,
    lat2: ArrayLike,
    lon2: ArrayLike,
    sog2_kn: ArrayLike,
    cog2_deg: ArrayLike,
) -> tuple[Any, Any]: ...
def cpa_tcpa(
    lat1: ArrayLike,
    lon1: ArrayLike,
    sog1_kn: ArrayLike,
    cog1_deg: ArrayLike,
    lat2: ArrayLike,
    lon2: ArrayLike,
    sog2_kn: ArrayLike,
    cog2_deg: ArrayLike,
) -> tuple[Any, Any]:
    """Closest point of approach of two vessels on straight tracks: ``(cpa_m, tcpa_s)``.

    ``cpa_m`` is the distance in metres between the vessels at their closest, ``tcpa_s`` the
    seconds from now until then: negative when the closest point is in the past (they are
    drawing apart). Positions are degrees, speeds over ground knots, courses degrees true.
    When the relative speed is below 1e-6 m/s the distance never changes: ``tcpa_s`` is 0 and
    ``cpa_m`` the current distance. Uses a flat east/north plane around the midpoint, good
    for the tens of kilometres where CPA matters (error well under 1 % below 100 km).
    """
    la1, lo1, la2, lo2 = _f(lat1), _f(lon1), _f(lat2), _f(lon2)
    mid_lat = np.radians((la1 + la2) / 2)
    dlon = (lo2 - lo1 + 180.0) % 360.0 - 180.0  # across the antimeridian the short way
    east = np.radians(dlon) * np.cos(mid_lat) * EARTH_RADIUS_M
    north = np.radians(la2 - la1) * EARTH_RADIUS_M
    c1, c2 = np.radians(_f(cog1_deg)), np.radians(_f(cog2_deg))
    s1, s2 = _f(sog1_kn) * KNOT_M_S, _f(sog2_kn) * KNOT_M_S
    v_east = s2 * np.sin(c2) - s1 * np.sin(c1)
    v_north = s2 * np.cos(c2) - s1 * np.cos(c1)
    v2 = v_east**2 + v_north**2
    moving = v2 > 1e-12
    tcpa = np.where(moving, -(east * v_east + north * v_north) / np.where(moving, v2, 1.0), 0.0)
    cpa = np.hypot(east + v_east * tcpa, north + v_north * tcpa)
    return _out(cpa), _out(tcpa)
