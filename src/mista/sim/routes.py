"""Voyages on real sea lanes: ports of the region, ``searoute`` paths, lane offsets.

``searoute`` returns a shortest path on its bundled maritime network (lon/lat); the
simulator adds the end points, caches paths per port pair and shifts each vessel's copy
to starboard by a per-vessel lateral offset (tapered to zero near the ends) so ships on
one lane do not sail on one line, and ships meeting head-on pass apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mista.geo import LandMask, Ports, bearing_deg, destination, haversine_m
from mista.sim.places import REGION

__all__ = ["HUBS", "Lanes", "Path", "offset_path", "path_length_m"]

F64 = npt.NDArray[np.float64]
Path = tuple[F64, F64]  # (lat, lon)
#: The lane offset shrinks to zero within this distance of either end (harbour approaches).
_TAPER_M = 15_000.0
#: Merchant ships call at this many hub ports, spread over the region (long-haul trade
#: concentrates on few ports; it also keeps the number of distinct lane paths small).
HUBS = 40


def _searoute(lon1: float, lat1: float, lon2: float, lat2: float) -> Path | None:
    import searoute

    try:
        feature: Any = searoute.searoute([lon1, lat1], [lon2, lat2])
    except Exception:
        return None
    coords = np.asarray(feature["geometry"]["coordinates"], np.float64)
    if coords.ndim != 2 or len(coords) < 1:
        return None
    lat = np.concatenate([[lat1], coords[:, 1], [lat2]])
    lon = np.concatenate([[lon1], coords[:, 0], [lon2]])
    return lat, lon


def path_length_m(path: Path) -> float:
    lat, lon = path
    return float(np.sum(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])))


class Lanes:
    """The region's ports and sea-lane paths between them (cached per pair)."""

    def __init__(self, ports: Ports, land: LandMask) -> None:
        w, s, e, n = REGION
        inside = (ports.lon >= w) & (ports.lon <= e) & (ports.lat >= s) & (ports.lat <= n)
        self.port_index = np.flatnonzero(inside)
        self.names = [ports.names[i] for i in self.port_index.tolist()]
        self.lat = np.asarray(ports.lat, np.float64)[self.port_index]
        self.lon = np.asarray(ports.lon, np.float64)[self.port_index]
        self.land = land
        self._cache: dict[tuple[int, int], Path | None] = {}
        # Great-circle distances between region ports (a few hundred: small).
        self.distance_m = np.asarray(
            haversine_m(self.lat[:, None], self.lon[:, None], self.lat[None, :], self.lon[None, :])
        )

        self.hubs = _spread(self.distance_m, HUBS)

    def __len__(self) -> int:
        return len(self.names)

    def route(self, a: int, b: int) -> Path | None:
        """The sea-lane path from port ``a`` to port ``b`` (region indexes), or None."""
        key = (a, b)
        if key not in self._cache:
            rev = self._cache.get((b, a))
            if rev is not None:
                self._cache[key] = (rev[0][::-1].copy(), rev[1][::-1].copy())
            else:
                self._cache[key] = _searoute(self.lon[a], self.lat[a], self.lon[b], self.lat[b])
        return self._cache[key]

    def route_points(self, lat1: float, lon1: float, lat2: float, lon2: float) -> Path | None:
        """A sea-lane path between two arbitrary points (not cached)."""
        return _searoute(lon1, lat1, lon2, lat2)

    def destinations(
        self,
        rng: np.random.Generator,
        a: int,
        min_m: float,
        max_m: float,
        *,
        hubs_only: bool = False,
    ) -> int | None:
        """A random port whose great-circle distance from ``a`` is in [min_m, max_m]
        (only among the hub ports with ``hubs_only``)."""
        ok = (self.distance_m[a] >= min_m) & (self.distance_m[a] <= max_m)
        if hubs_only:
            ok &= np.isin(np.arange(len(self.names)), self.hubs)
        ok = np.flatnonzero(ok)
        if len(ok) == 0:
            return None
        return int(ok[int(rng.integers(len(ok)))])

    def is_clear(
        self, lat1: float, lon1: float, lat2: float, lon2: float, *, steps: int = 16
    ) -> bool:
        """Whether the straight line between two points stays off land (sampled)."""
        f = np.linspace(0.0, 1.0, steps)
        lat = lat1 + f * (lat2 - lat1)
        lon = lon1 + f * (lon2 - lon1)
        return not bool(np.asarray(self.land.on_land(lon[1:-1], lat[1:-1])).any())


def offset_path(path: Path, offset_m: float) -> Path:
    """``path`` shifted ``offset_m`` to starboard (right of the direction of travel),
    tapered to zero within 15 km of its ends."""
    lat, lon = path
    if len(lat) < 3 or offset_m == 0:
        return lat, lon
    step = np.asarray(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]))
    along = np.concatenate([[0.0], np.cumsum(step)])
    total = along[-1]
    taper = np.clip(np.minimum(along, total - along) / _TAPER_M, 0.0, 1.0)
    prev = np.concatenate([[0], np.arange(len(lat) - 1)])
    nxt = np.concatenate([np.arange(1, len(lat)), [len(lat) - 1]])
    heading = np.asarray(bearing_deg(lat[prev], lon[prev], lat[nxt], lon[nxt]))
    new_lat, new_lon = destination(lat, lon, (heading + 90.0) % 360.0, offset_m * taper)
    return np.asarray(new_lat, np.float64), np.asarray(new_lon, np.float64)


def _spread(distance_m: F64, count: int) -> npt.NDArray[np.int64]:
    """``count`` port indexes spread out (farthest-point order from the first port)."""
    n = len(distance_m)
    if n == 0:
        return np.zeros(0, np.int64)
    chosen = [0]
    nearest = distance_m[0].copy()
    while len(chosen) < min(count, n):
        k = int(np.argmax(nearest))
        chosen.append(k)
        nearest = np.minimum(nearest, distance_m[k])
    return np.asarray(sorted(chosen), np.int64)
