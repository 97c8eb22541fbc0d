"""The web map's basemap: Natural Earth 1:50m land (public domain), simplified for drawing.

Built once per process from the land shipped in ``mista.geo`` and kept in memory, plain and
gzip-compressed (about 0.8 MB and 0.3 MB). One Polygon feature per land polygon, so the map
cuts it into tiles quickly; coordinates rounded to 0.001 deg (about 110 m) after a 0.01 deg
simplification, which is finer than the map shows land at the zooms a picture is read at.
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

import numpy as np
import shapely

from mista.geo._data import packaged_bytes
from mista.geo.land import LAND_FILE

__all__ = ["ATTRIBUTION", "SIMPLIFY_DEG", "land_geojson", "land_geojson_gzip"]

#: Douglas-Peucker tolerance of the drawn coastline, degrees (about 1.1 km).
SIMPLIFY_DEG = 0.01
#: Decimal places kept in the coordinates (0.001 deg is about 110 m).
COORDINATE_DECIMALS = 3
#: The credit Natural Earth asks for (it does not require it); the map shows it.
ATTRIBUTION = "Made with Natural Earth"


def _ring(coords: Any) -> list[list[float]]:
    rounded = np.round(np.asarray(coords, dtype=np.float64), COORDINATE_DECIMALS)
    ring: list[list[float]] = rounded.tolist()
    return ring


def _polygon_feature(polygon: Any) -> dict[str, Any]:
    rings = [_ring(polygon.exterior.coords)]
    rings.extend(_ring(interior.coords) for interior in polygon.interiors)
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": rings},
    }


@functools.cache
def land_geojson() -> bytes:
    """The basemap land as a GeoJSON FeatureCollection (UTF-8 bytes), built on first use."""
    land = shapely.from_wkb(packaged_bytes(LAND_FILE))
    simple = shapely.simplify(land, SIMPLIFY_DEG, preserve_topology=True)
    polygons = [
        part
        for part in shapely.get_parts(simple)
        if shapely.get_type_id(part) == 3 and not part.is_empty
    ]
    document = {
        "type": "FeatureCollection",
        "attribution": ATTRIBUTION,
        "features": [_polygon_feature(polygon) for polygon in polygons],
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


@functools.cache
def land_geojson_gzip() -> bytes:
    """``land_geojson()`` gzip-compressed, for clients that accept it."""
    return gzip.compress(land_geojson(), compresslevel=6, mtime=0)
