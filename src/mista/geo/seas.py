"""Named seas: which sea, strait, or gulf a point is in (Natural Earth marine polygons)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from mista.errors import ConfigError
from mista.geo._data import packaged_json, read_features

#: Shipped seas: Natural Earth 1:50m marine polygons clipped to the region (data/README.md).
SEAS_FILE = "ne_50m_marine_region.json.gz"


class Seas:
    """Named marine polygons. Where they overlap, the smallest (most specific) wins, so a
    point in the Strait of Malacca is named for the strait, not the ocean around it."""

    _default: ClassVar[Seas | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, names: list[str], geometries: Any) -> None:
        geoms = np.asarray(list(geometries), dtype=object)
        if len(names) != len(geoms):
            raise ConfigError("seas: one name per geometry")
        order = np.argsort(shapely.area(geoms), kind="stable") if len(geoms) else np.zeros(0, int)
        self.names: list[str] = [names[i] for i in order]
        self.geometries: NDArray[Any] = geoms[order]
        self._tree = shapely.STRtree(self.geometries)

    @classmethod
    def default(cls) -> Seas:
        """The shipped marine polygons for lon 30..160, lat -45..45, loaded once and shared."""
        with cls._default_lock:
            if cls._default is None:
                data = packaged_json(SEAS_FILE)
                geoms = shapely.from_wkb([bytes.fromhex(h) for h in data["wkb"]])
                cls._default = cls(data["names"], geoms)
            return cls._default

    @classmethod
    def from_geojson(cls, path: str | Path) -> Seas:
        """Seas from a GeoJSON FeatureCollection of (Multi)Polygons with a "name" property."""
        names: list[str] = []
        geometries = []
        for index, feature in enumerate(read_features(path)):
            try:
                geometry = shapely.geometry.shape(feature["geometry"])
                name = feature.get("properties", {}).get("name")
            except Exception as exc:  # shapely raises many types on malformed input
                raise ConfigError(f"{path}: feature {index}: bad geometry: {exc}") from exc
            if geometry.geom_type not in ("Polygon", "MultiPolygon") or not name:
                raise ConfigError(f"{path}: feature {index}: need a named Polygon/MultiPolygon")
            names.append(str(name))
            geometries.append(geometry)
        return cls(names, geometries)

    def name_at(self, lon: ArrayLike, lat: ArrayLike) -> list[str | None]:
        """The sea name at each point, None where no polygon covers it (land, open ocean
        outside the region, NaN)."""
        lon_a, lat_a = np.broadcast_arrays(
            np.atleast_1d(np.asarray(lon, dtype=np.float64)),
            np.atleast_1d(np.asarray(lat, dtype=np.float64)),
        )
        lon_f, lat_f = lon_a.ravel(), lat_a.ravel()
        result: list[str | None] = [None] * len(lon_f)
        valid = np.flatnonzero(np.isfinite(lon_f) & np.isfinite(lat_f))
        if not len(valid) or not len(self.names):
            return result
        points = shapely.points(lon_f[valid], lat_f[valid])
        point_i, sea_i = self._tree.query(points, predicate="intersects")
        # geometries are sorted by area, so the smallest sea index per point is the answer
        best = np.full(len(valid), len(self.names), dtype=np.int64)
        np.minimum.at(best, point_i, sea_i)
        for k in np.flatnonzero(best < len(self.names)):
            result[int(valid[k])] = self.names[int(best[k])]
        return result
