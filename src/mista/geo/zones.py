"""Zones: named polygons with a security label (areas of interest, exclusion zones).

A zones file is a GeoJSON FeatureCollection; each feature has a Polygon or MultiPolygon and
properties ``id`` (required, unique text), ``name`` (optional, defaults to the id) and
``marking`` (optional; a label marking such as ``RESTRICTED//REL TO IND,USA`` read with
``mista.labels.parse_marking``; without it the zone takes the default label).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from mista.errors import ConfigError, LabelError
from mista.geo._data import read_features
from mista.labels import Label, Level, parse_marking

_MAX_ID_CHARS = 200


@dataclass(frozen=True)
class Zone:
    """One zone: ``geometry`` is a valid shapely Polygon or MultiPolygon (lon, lat degrees)."""

    id: str
    name: str
    label: Label
    geometry: Any


class Zones:
    """A set of zones and a vectorised inside test."""

    def __init__(self, zones: Iterable[Zone]) -> None:
        self.zones: tuple[Zone, ...] = tuple(zones)
        seen: set[str] = set()
        for zone in self.zones:
            if zone.id in seen:
                raise ConfigError(f"zones: id {zone.id!r} is used twice")
            seen.add(zone.id)
            shapely.prepare(zone.geometry)

    def __len__(self) -> int:
        return len(self.zones)

    @classmethod
    def from_geojson(
        cls,
        path: str | Path,
        *,
        originator: str,
        default_label: Label | None = None,
        groups: Mapping[str, Iterable[str]] | None = None,
    ) -> Zones:
        """Zones from a GeoJSON file; ``originator`` and ``groups`` are passed to
        ``parse_marking``. A feature without a marking gets ``default_label``, by default
        the originator's own: UNCLASSIFIED, releasable to nobody else. Any problem is a
        ``ConfigError`` naming the file and feature."""
        if default_label is None:
            default_label = Label(Level.UNCLASSIFIED, originator, frozenset({originator}))
        zones: list[Zone] = []
        seen: dict[str, int] = {}
        for index, feature in enumerate(read_features(path)):
            where = f"{path}: feature {index}"
            zone = _zone(feature, where, originator, default_label, groups)
            if zone.id in seen:
                raise ConfigError(
                    f"{where}: id {zone.id!r} already used by feature {seen[zone.id]}"
                )
            seen[zone.id] = index
            zones.append(zone)
        return cls(zones)

    def inside(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Boolean array of shape (n_points, n_zones): point i is strictly inside zone j
        (points on a boundary and NaN points are outside)."""
        lon_a, lat_a = np.broadcast_arrays(
            np.atleast_1d(np.asarray(lon, dtype=np.float64)),
            np.atleast_1d(np.asarray(lat, dtype=np.float64)),
        )
        lon_f, lat_f = lon_a.ravel(), lat_a.ravel()
        result = np.zeros((len(lon_f), len(self.zones)), dtype=bool)
        for j, zone in enumerate(self.zones):
            result[:, j] = shapely.contains_xy(zone.geometry, lon_f, lat_f)
        return result


def _zone(
    feature: Any,
    where: str,
    originator: str,
    default_label: Label,
    groups: Mapping[str, Iterable[str]] | None,
) -> Zone:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ConfigError(f'{where}: expected an object with "type": "Feature"')
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise ConfigError(f'{where}: "properties" must be an object with at least "id"')
    zone_id = properties.get("id")
    if not isinstance(zone_id, str) or not zone_id.strip() or len(zone_id) > _MAX_ID_CHARS:
        raise ConfigError(
            f'{where}: property "id" must be non-empty text (at most {_MAX_ID_CHARS} characters)'
        )
    name = properties.get("name", zone_id)
    if name is None:
        name = zone_id
    if not isinstance(name, str):
        raise ConfigError(f'{where}: property "name" must be text')
    label = default_label
    marking = properties.get("marking")
    if marking is not None:
        try:
            label = parse_marking(marking, originator, groups)
        except LabelError as exc:
            raise ConfigError(f'{where}: property "marking": {exc}') from exc
    return Zone(id=zone_id, name=name, label=label, geometry=_geometry(feature, where))


def _geometry(feature: dict[str, Any], where: str) -> Any:
    raw = feature.get("geometry")
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise ConfigError(f"{where}: geometry is {kind!r}; zones must be Polygon or MultiPolygon")
    try:
        geometry = shapely.geometry.shape(raw)
        coords = shapely.get_coordinates(geometry)
    except Exception as exc:  # shapely raises many types on malformed coordinates
        raise ConfigError(f"{where}: malformed {raw['type']} coordinates: {exc}") from exc
    if geometry.is_empty or not np.isfinite(coords).all():
        raise ConfigError(f"{where}: geometry is empty or has non-finite coordinates")
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise ConfigError(f"{where}: invalid {raw['type']} ({reason}); fix the polygon")
    return geometry
