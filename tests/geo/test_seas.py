"""Named seas of the region."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mista.errors import ConfigError
from mista.geo import Seas


@pytest.mark.parametrize(
    ("lon", "lat", "name"),
    [
        (65.0, 15.0, "Arabian Sea"),
        (88.0, 15.0, "Bay of Bengal"),
        (100.0, 4.0, "Strait of Malacca"),
        (113.0, 12.0, "South China Sea"),
        (96.0, 10.0, "Andaman Sea"),
        (130.0, 20.0, "Philippine Sea"),
        (75.0, -20.0, "Indian Ocean"),
    ],
)
def test_known_seas(lon: float, lat: float, name: str) -> None:
    assert Seas.default().name_at(lon, lat) == [name]


def test_land_nan_and_outside_region_are_none() -> None:
    names = Seas.default().name_at(
        np.array([78.0, np.nan, -30.0, 65.0]), np.array([22.0, 0.0, 0.0, 15.0])
    )
    assert names == [None, None, None, "Arabian Sea"]


def test_smallest_polygon_wins(tmp_path: Path) -> None:
    def square(x0: float, size: float) -> dict[str, object]:
        ring = [[x0, 0], [x0 + size, 0], [x0 + size, size], [x0, size], [x0, 0]]
        return {"type": "Polygon", "coordinates": [ring]}

    features = [
        {"type": "Feature", "properties": {"name": "Ocean"}, "geometry": square(0, 10)},
        {"type": "Feature", "properties": {"name": "Bay"}, "geometry": square(1, 2)},
    ]
    path = tmp_path / "seas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    seas = Seas.from_geojson(path)
    assert seas.name_at([2.0, 5.0, 20.0], [2.0, 5.0, 5.0]) == ["Bay", "Ocean", None]


def test_unnamed_sea_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "seas.geojson"
    ring = [[0, 0], [1, 0], [1, 1], [0, 0]]
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(ConfigError, match="feature 0"):
        Seas.from_geojson(path)
