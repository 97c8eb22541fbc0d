"""Areas an agreement clause may restrict a release to: a lon/lat box or a GeoJSON polygon.

Coordinates are WGS 84 degrees. A point on an area's edge counts as inside, for boxes and
polygons alike. A box whose west edge is east of its east edge crosses the antimeridian
(as ``mista.store.BBox``); polygons must not cross it (split them into a MultiPolygon).
Polygon tests use a prepared shapely geometry behind a box pre-check, so the common case
(a point far from the area) costs two comparisons.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from mista.errors import ConfigError

__all__ = ["Area", "bbox_area", "check_bbox", "load_layer_area", "short_repr"]

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 40, 40


def short_repr(value: object) -> str:
    """A bounded repr for messages: YAML aliases let a small file hold a huge nested value."""
    text = _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: GeoJSON geometry types that enclose an area.
POLYGON_TYPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True)
class Area:
    """A box (``bbox`` is W, S, E, N) or a polygon (``geometry``, with ``bbox`` its bounds)."""

    description: str
    bbox: tuple[float, float, float, float]
    geometry: Any = field(default=None, compare=False, repr=False)

    @property
    def is_polygon(self) -> bool:
        return self.geometry is not None

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point is inside the area or on its edge."""
        west, south, east, north = self.bbox
        if not south <= lat <= north:
            return False
        if west <= east:
            if not west <= lon <= east:
                return False
        elif not (lon >= west or lon <= east):
            return False
        if self.geometry is None:
            return True
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


def check_bbox(value: object) -> tuple[float, float, float, float]:
    """A W, S, E, N list as a tuple, or ``ValueError`` saying what is wrong with it."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise ValueError("must be a list of four numbers [W, S, E, N]")
    numbers: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ValueError(f"{short_repr(item)} is not a number: need [W, S, E, N] in degrees")
        number = float(item)
        if not math.isfinite(number):
            raise ValueError(f"{short_repr(item)} is not a finite number")
        numbers.append(number)
    west, south, east, north = numbers
    if not -90 <= south <= north <= 90:
        raise ValueError(f"south {south} / north {north}: need -90 <= S <= N <= 90")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise ValueError(f"west {west} / east {east}: need -180 <= W, E <= 180")
    return west, south, east, north


def bbox_area(value: object) -> Area:
    """The area of a ``[W, S, E, N]`` box; ``ValueError`` when it is not one."""
    box = check_bbox(value)
    return Area(description="bbox " + ",".join(f"{v:g}" for v in box), bbox=box)


def load_layer_area(path: Path, feature: str) -> Area:
    """The polygon of the feature whose ``name`` property is ``feature`` in a GeoJSON file.

    Raises ``ConfigError`` naming the file and what to fix: unreadable or non-GeoJSON
    file, no such feature (the names present are listed), several features of that name,
    a geometry that is not a valid Polygon/MultiPolygon inside -180..180, -90..90.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"GeoJSON layer {path} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"GeoJSON layer {path} cannot be read: {exc}") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ConfigError(f"GeoJSON layer {path} is not a FeatureCollection (no features list)")
    names: list[str] = []
    found: list[dict[str, Any]] = []
    for item in features:
        properties = item.get("properties") if isinstance(item, dict) else None
        name = properties.get("name") if isinstance(properties, dict) else None
        if isinstance(name, str):
            names.append(name)
            if name == feature:
                found.append(item)
    if not found:
        known = ", ".join(sorted(set(names))[:20]) or "none"
        raise ConfigError(
            f"GeoJSON layer {path} has no feature named {feature!r} (names present: {known})"
        )
    if len(found) > 1:
        raise ConfigError(
            f"GeoJSON layer {path} has {len(found)} features named {feature!r}: rename them "
            "so the name picks one"
        )
    geometry = found[0].get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in POLYGON_TYPES:
        raise ConfigError(
            f"feature {feature!r} of {path} is a {kind or 'missing geometry'}, not a Polygon "
            "or MultiPolygon: an area must enclose something"
        )
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError):
        raise ConfigError(f"feature {feature!r} of {path} has malformed coordinates") from None
    if polygon.is_empty or not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        raise ConfigError(
            f"feature {feature!r} of {path} is not a valid polygon ({reason}): fix the ring "
            "(closed, not self-crossing)"
        )
    west, south, east, north = (float(v) for v in polygon.bounds)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ConfigError(
            f"feature {feature!r} of {path} has coordinates outside lon -180..180 / "
            "lat -90..90 (GeoJSON is [lon, lat]; split areas that cross 180°)"
        )
    shapely.prepare(polygon)
    return Area(
        description=f"{path.name}#{feature}",
        bbox=(west, south, east, north),
        geometry=polygon,
    )
