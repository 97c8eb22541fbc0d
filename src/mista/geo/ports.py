"""Ports: the nearest port to a point and the ports within a radius.

Ports sit in a k-d tree of unit 3-vectors; the straight-line (chord) distance it measures
converts exactly to the great-circle distance, so queries are right at any latitude and
across the antimeridian.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mista.errors import ConfigError
from mista.geo._data import packaged_json, read_features
from mista.geo.distance import EARTH_RADIUS_M

#: Shipped ports: Natural Earth 10m ports (see data/README.md).
PORTS_FILE = "ne_10m_ports.json.gz"


def _unit_vectors(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    lam, phi = np.radians(lon), np.radians(lat)
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def _chord_to_m(chord: NDArray[np.float64]) -> NDArray[np.float64]:
    metres: NDArray[np.float64] = 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / 2, 0.0, 1.0))
    return metres


def _m_to_chord(metres: float) -> float:
    angle = min(max(metres, 0.0) / EARTH_RADIUS_M, np.pi)
    return float(2.0 * np.sin(angle / 2))


class Ports:
    """Named port locations (``names``, ``lon``, ``lat`` in the same order)."""

    _default: ClassVar[Ports | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, names: list[str], lon: ArrayLike, lat: ArrayLike) -> None:
        self.names: list[str] = list(names)
        self.lon: NDArray[np.float64] = np.asarray(lon, dtype=np.float64).ravel()
        self.lat: NDArray[np.float64] = np.asarray(lat, dtype=np.float64).ravel()
        if not len(self.names) == len(self.lon) == len(self.lat):
            raise ConfigError("ports: names, lon and lat must have the same length")
        if not (np.isfinite(self.lon).all() and np.isfinite(self.lat).all()):
            raise ConfigError("ports: every port needs a finite lon and lat")
        from scipy.spatial import cKDTree  # here: importing scipy is slow

        self._tree: Any = cKDTree(_unit_vectors(self.lon, self.lat)) if len(self.names) else None

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def default(cls) -> Ports:
        """The shipped Natural Earth 10m ports, loaded once and shared."""
        with cls._default_lock:
            if cls._default is None:
                data = packaged_json(PORTS_FILE)
                cls._default = cls(data["names"], data["lon"], data["lat"])
            return cls._default

    @classmethod
    def from_geojson(cls, path: str | Path) -> Ports:
        """Ports from a GeoJSON FeatureCollection of Point features with a "name" property."""
        names: list[str] = []
        lons: list[float] = []
        lats: list[float] = []
        for index, feature in enumerate(read_features(path)):
            try:
                geometry = feature["geometry"]
                if geometry["type"] != "Point":
                    raise ValueError(f"{geometry['type']}, expected Point")
                lon, lat = (float(v) for v in geometry["coordinates"][:2])
                name = feature.get("properties", {}).get("name") or ""
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ConfigError(f"{path}: feature {index}: not a port point: {exc}") from exc
            if not (np.isfinite(lon) and np.isfinite(lat)):
                raise ConfigError(f"{path}: feature {index}: coordinates are not finite")
            names.append(str(name))
            lons.append(lon)
            lats.append(lat)
        return cls(names, lons, lats)

    def nearest(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """For each point, the index of the nearest port and its great-circle distance in
        metres (index -1 and distance inf when there are no ports or the point is NaN)."""
        points = self._points(lon, lat)
        index = np.full(len(points), -1, dtype=np.int64)
        distance = np.full(len(points), np.inf)
        valid = np.isfinite(points).all(axis=1)
        if self._tree is not None and valid.any():
            chord, found = self._tree.query(points[valid])
            index[valid] = found
            distance[valid] = _chord_to_m(np.asarray(chord, dtype=np.float64))
        return index, distance

    def within(self, lon: ArrayLike, lat: ArrayLike, radius_m: float) -> list[NDArray[np.int64]]:
        """For each point, the indexes (ascending) of the ports within ``radius_m`` metres."""
        points = self._points(lon, lat)
        empty = np.zeros(0, dtype=np.int64)
        if self._tree is None or not radius_m >= 0:  # also NaN
            return [empty for _ in range(len(points))]
        valid = np.isfinite(points).all(axis=1)
        result = [empty] * len(points)
        if valid.any():
            # a hair of slack on the chord, then the exact great-circle check
            found = self._tree.query_ball_point(points[valid], _m_to_chord(radius_m) * 1.000001)
            rows = np.flatnonzero(valid)
            for row, hits in zip(rows, found, strict=True):
                if hits:
                    hits_a = np.sort(np.asarray(hits, dtype=np.int64))
                    chord = np.linalg.norm(self._tree.data[hits_a] - points[row], axis=1)
                    result[row] = hits_a[_chord_to_m(chord) <= radius_m]
        return result

    @staticmethod
    def _points(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        lon_a, lat_a = np.broadcast_arrays(
            np.atleast_1d(np.asarray(lon, dtype=np.float64)),
            np.atleast_1d(np.asarray(lat, dtype=np.float64)),
        )
        return _unit_vectors(lon_a.ravel(), lat_a.ravel())
