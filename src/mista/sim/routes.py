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

__all__ = ["HUBS", "Lanes", "Path", "ashore_m", "offset_path", "path_length_m"]

F64 = npt.NDArray[np.float64]
Path = tuple[F64, F64]  # (lat, lon)
#: The lane offset shrinks to zero within this distance of either end (harbour approaches).
_TAPER_M = 15_000.0
#: Merchant ships call at this many hub ports, spread over the region (long-haul trade
#: concentrates on few ports; it also keeps the number of distinct lane paths small).
HUBS = 40
#: A lane still this far over land once moved to sea is no lane: ``searoute``'s network
#: has edges across isthmuses (Tottori to the Seto Inland Sea, 86 km over Honshu). Capes
#: the coarse coastline cuts stay under it.
LANE_ASHORE_MAX_M = 10_000.0
#: Harbour approaches: the stretch at either end of a lane that is not judged.
_ENDS_M = 5_000.0


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
        lon = np.asarray(ports.lon, np.float64)
        lat = np.asarray(ports.lat, np.float64)
        inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
        inside[inside] = _by_the_sea(lat[inside], lon[inside], land)
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
                path = _searoute(self.lon[a], self.lat[a], self.lon[b], self.lat[b])
                self._cache[key] = self._at_sea(path)
        return self._cache[key]

    def route_points(self, lat1: float, lon1: float, lat2: float, lon2: float) -> Path | None:
        """A sea-lane path between two arbitrary points (not cached)."""
        return self._at_sea(_searoute(lon1, lat1, lon2, lat2))

    def _at_sea(self, path: Path | None) -> Path | None:
        """``path`` moved to sea, or None when it still crosses land."""
        if path is None:
            return None
        moved = seaward(path, self.land, ends_m=_ENDS_M)
        if ashore_m(moved, self.land, ends_m=_ENDS_M) > LANE_ASHORE_MAX_M:
            return None
        return moved

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


def seaward(
    path: Path, land: LandMask, *, step_m: float = 10_000.0, ends_m: float = 5_000.0
) -> Path:
    """``path`` with its stretches over land (``searoute``'s network is coarse: it cuts
    capes and small islands of the 1:50m coastline) moved to sea: each segment that
    crosses land is cut every ``step_m`` and each point ashore is moved sideways by the
    smallest of 1, 2, 4 ... 32 km that puts it at sea. The first and last ``ends_m``
    (harbour approaches) are left alone."""
    lat, lon = path
    if len(lat) < 2:
        return path
    cut = _Cut(path, step_m)
    owner, frac, d_lat, d_lon = cut.owner, cut.frac, cut.lat, cut.lon
    ashore = np.asarray(land.on_land(d_lon, d_lat), np.bool_) & cut.judged(ends_m)
    if not ashore.any():
        return path
    idx = np.flatnonzero(ashore)
    heading = np.asarray(bearing_deg(lat[owner[idx]], lon[owner[idx]], lat[owner[idx] + 1],
                                     lon[owner[idx] + 1]))  # fmt: skip
    shifts = np.array([1e3, -1e3, 2e3, -2e3, 4e3, -4e3, 8e3, -8e3, 16e3, -16e3, 32e3, -32e3])
    c_lat, c_lon = destination(
        np.repeat(d_lat[idx], len(shifts)),
        np.repeat(d_lon[idx], len(shifts)),
        (np.repeat(heading, len(shifts)) + np.where(np.tile(shifts, len(idx)) > 0, 90.0, 270.0))
        % 360.0,
        np.abs(np.tile(shifts, len(idx))),
    )
    c_lat = np.asarray(c_lat).reshape(len(idx), len(shifts))
    c_lon = np.asarray(c_lon).reshape(len(idx), len(shifts))
    wet = ~np.asarray(land.on_land(c_lon.ravel(), c_lat.ravel()), np.bool_).reshape(c_lat.shape)
    found = wet.any(axis=1)
    first = np.argmax(wet, axis=1)
    fixed = idx[found]
    d_lat[fixed] = c_lat[found, first[found]]
    d_lon[fixed] = c_lon[found, first[found]]
    # Keep the cut points only on segments that crossed land; end with the last point.
    keep = (frac == 0) | np.isin(owner, owner[idx])
    return (
        np.concatenate([d_lat[keep], lat[-1:]]),
        np.concatenate([d_lon[keep], lon[-1:]]),
    )


def ashore_m(
    path: Path, land: LandMask, *, ends_m: float = _ENDS_M, step_m: float = 500.0
) -> float:
    """How many metres of ``path`` lie over land, sampled every ``step_m``, leaving out
    the first and last ``ends_m``."""
    if len(path[0]) < 2:
        return 0.0
    cut = _Cut(path, step_m)
    on = np.asarray(land.on_land(cut.lon, cut.lat), np.bool_) & cut.judged(ends_m)
    return float(cut.length_m[on].sum())


class _Cut:
    """A path cut into pieces of at most ``step_m``: each piece's start (``lat``,
    ``lon``), the segment it is on (``owner``), how far along that segment (``frac``) and
    along the path (``along``) it starts, and its length."""

    def __init__(self, path: Path, step_m: float) -> None:
        lat, lon = path
        seg = np.asarray(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]), np.float64)
        pieces = np.maximum(np.ceil(seg / step_m), 1).astype(np.int64)
        owner = np.repeat(np.arange(len(seg)), pieces)
        self.owner = owner
        self.frac = (np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / (
            pieces[owner]
        )
        self.lat = lat[owner] + self.frac * (lat[owner + 1] - lat[owner])
        self.lon = lon[owner] + self.frac * (lon[owner + 1] - lon[owner])
        starts = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
        self.along = starts[owner] + self.frac * seg[owner]
        self.length_m = seg[owner] / pieces[owner]
        self.total_m = float(seg.sum())

    def judged(self, ends_m: float) -> npt.NDArray[np.bool_]:
        """The pieces beyond ``ends_m`` from either end (harbour approaches are not)."""
        judged: npt.NDArray[np.bool_] = (self.along > ends_m) & (self.along < self.total_m - ends_m)
        return judged


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


def _by_the_sea(
    lat: F64, lon: F64, land: LandMask, radius_m: float = 3000.0
) -> npt.NDArray[np.bool_]:
    """Ports with sea (per the land mask) within ``radius_m``: river ports far up an
    estuary the 1:50m coastline fills in would have ships sail over land."""
    bearings = np.arange(0.0, 360.0, 30.0)
    ring_lat, ring_lon = destination(
        np.repeat(lat, len(bearings)), np.repeat(lon, len(bearings)),
        np.tile(bearings, len(lat)), radius_m,
    )  # fmt: skip
    wet = ~np.asarray(land.on_land(np.asarray(ring_lon), np.asarray(ring_lat)), np.bool_)
    here = ~np.asarray(land.on_land(lon, lat), np.bool_)
    return here | wet.reshape(len(lat), len(bearings)).any(axis=1)
