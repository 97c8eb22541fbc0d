"""The land mask: known points, agreement with the full Natural Earth file, shore distance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.errors import ConfigError
from mista.geo import LandMask, haversine_m

REGION = (30.0, -45.0, 160.0, 45.0)


@pytest.fixture(scope="module")
def mask() -> LandMask:
    return LandMask.default()


@pytest.fixture(scope="module")
def full_land(shared_data: Path) -> Any:
    """The unrounded source polygons, for comparison with the shipped mask."""
    source = json.loads((shared_data / "geo" / "ne_50m_land.geojson").read_text())
    shapes = [shapely.geometry.shape(f["geometry"]) for f in source["features"]]
    union = shapely.MultiPolygon(list(shapely.get_parts(shapes)))
    shapely.prepare(union)
    return union


@pytest.fixture(scope="module")
def full_coast(full_land: Any) -> Any:
    coast = full_land.boundary
    shapely.prepare(coast)
    return coast


KNOWN = [
    # (name, lat, lon, on land)
    ("Mumbai, inland", 19.07, 72.88, True),
    ("Arabian Sea", 15.0, 65.0, False),
    ("Singapore Strait", 1.2, 103.85, False),
    ("Sri Lanka interior", 7.8, 80.7, True),
    ("Bay of Bengal", 15.0, 88.0, False),
    ("central Australia", -25.0, 134.0, True),
    ("Borneo interior", 0.5, 114.0, True),
    ("South China Sea", 12.0, 113.0, False),
    ("Philippine Sea", 20.0, 130.0, False),
]


@pytest.mark.parametrize(("name", "lat", "lon", "expected"), KNOWN)
def test_known_points(mask: LandMask, name: str, lat: float, lon: float, expected: bool) -> None:
    assert bool(mask.on_land(np.array([lon]), np.array([lat]))[0]) is expected, name


def test_shape_nan_and_wrapped_longitude(mask: LandMask) -> None:
    lon = np.array([[72.88, 65.0], [np.nan, 72.88 - 360.0]])
    lat = np.array([[19.07, 15.0], [19.07, 19.07]])
    assert mask.on_land(lon, lat).tolist() == [[True, False], [False, True]]
    assert mask.on_land(np.zeros(0), np.zeros(0)).shape == (0,)
    assert mask.on_land(72.88, 19.07).tolist() is True


def test_grid_shortcut_matches_the_polygons(mask: LandMask) -> None:
    # the cell grid must give exactly what point-in-polygon on the same polygons gives
    rng = np.random.default_rng(4)
    near_coast = shapely.get_coordinates(shapely.boundary(mask.polygons[:200]))
    jitter = rng.normal(0.0, 0.3, near_coast.shape)
    lon = np.concatenate(
        [rng.uniform(-180, 180, 100_000), (near_coast[:, 0] + jitter[:, 0] + 180) % 360 - 180]
    )
    lat = np.concatenate(
        [rng.uniform(-90, 90, 100_000), np.clip(near_coast[:, 1] + jitter[:, 1], -90, 90)]
    )
    union = shapely.MultiPolygon(list(mask.polygons))
    np.testing.assert_array_equal(mask.on_land(lon, lat), shapely.contains_xy(union, lon, lat))


@settings(max_examples=300, deadline=None)
@given(st.floats(REGION[0], REGION[2]), st.floats(REGION[1], REGION[3]))
def test_shipped_mask_agrees_with_the_source(
    mask: LandMask, full_land: Any, full_coast: Any, lon: float, lat: float
) -> None:
    # the shipped coordinates are rounded to 1e-4 degree: only points next to a coast may differ
    if shapely.dwithin(full_coast, shapely.Point(lon, lat), 0.01):
        return
    expected = bool(shapely.contains_xy(full_land, lon, lat))
    assert bool(mask.on_land(np.array([lon]), np.array([lat]))[0]) is expected


def test_random_region_points_agree_with_the_source(
    mask: LandMask, full_land: Any, full_coast: Any
) -> None:
    rng = np.random.default_rng(11)
    lon = rng.uniform(REGION[0], REGION[2], 20_000)
    lat = rng.uniform(REGION[1], REGION[3], 20_000)
    differ = mask.on_land(lon, lat) != shapely.contains_xy(full_land, lon, lat)
    assert differ.sum() < 20
    assert shapely.dwithin(full_coast, shapely.points(lon[differ], lat[differ]), 0.01).all()


def brute_force_shore_m(land: Any, lon: float, lat: float) -> float:
    """Haversine to every vertex of the coastline densified to ~110 m, within 4 degrees."""
    box = shapely.clip_by_rect(land, lon - 4, lat - 4, lon + 4, lat + 4)
    coast = shapely.get_coordinates(shapely.segmentize(shapely.boundary(box), 0.001))
    # the clip adds box edges to the boundary: keep only real coast (off the box edges)
    edge = (np.abs(coast[:, 0] - (lon - 4)) < 1e-9) | (np.abs(coast[:, 0] - (lon + 4)) < 1e-9)
    edge |= (np.abs(coast[:, 1] - (lat - 4)) < 1e-9) | (np.abs(coast[:, 1] - (lat + 4)) < 1e-9)
    coast = coast[~edge]
    if len(coast) == 0:
        return float("inf")
    return float(np.min(haversine_m(lat, lon, coast[:, 1], coast[:, 0])))


def test_distance_to_shore_against_brute_force(mask: LandMask) -> None:
    rng = np.random.default_rng(5)
    lon = rng.uniform(40, 150, 400)
    lat = rng.uniform(-40, 40, 400)
    got = mask.distance_to_shore_m(lon, lat)
    union = shapely.MultiPolygon(list(mask.polygons))
    checked = 0
    for x, y, distance in zip(lon, lat, got, strict=True):
        expected = brute_force_shore_m(union, x, y)
        if expected > 200_000:
            continue  # 1 % promised within 200 km; beyond, the brute force box is too small
        checked += 1
        if distance == 0.0:
            assert mask.on_land(x, y)
        else:
            # brute force is up to ~60 m long (vertex spacing); promise: 1 % or 100 m
            assert distance == pytest.approx(expected, rel=0.01, abs=100), (x, y)
    assert checked > 50


def test_distance_to_shore_known_values(mask: LandMask) -> None:
    out = mask.distance_to_shore_m(np.array([72.88, 65.0, np.nan]), np.array([19.07, 15.0, 1.0]))
    assert out[0] == 0.0
    assert 400_000 < out[1] < 1_000_000  # Arabian Sea, hundreds of km from any coast
    assert np.isnan(out[2])
    # a point 10 km due west of a straight-ish coast (Arabian Sea off Goa, about 73.9 E)
    goa = mask.distance_to_shore_m(np.array([73.6]), np.array([15.3]))[0]
    assert 15_000 < goa < 40_000


def test_from_geojson_square(tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    path = tmp_path / "land.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": square}],
            }
        )
    )
    mask = LandMask.from_geojson(path)
    assert mask.on_land(np.array([0.5, 1.5, 0.999]), np.array([0.5, 0.5, 0.001])).tolist() == [
        True,
        False,
        True,
    ]
    # 0.5 degree of longitude east of the square's edge on the equator
    assert mask.distance_to_shore_m(np.array([1.5]), np.array([0.5]))[0] == pytest.approx(
        haversine_m(0.5, 1.0, 0.5, 1.5), rel=1e-3
    )


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"type": "Feature"}),
        json.dumps({"type": "FeatureCollection", "features": {}}),
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"geometry": {"type": "Point", "coordinates": [0, 0]}}],
            }
        ),
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"geometry": {"type": "Polygon", "coordinates": "x"}}],
            }
        ),
        json.dumps({"type": "FeatureCollection", "features": [7]}),
    ],
)
def test_from_geojson_rejects_garbage(tmp_path: Path, document: str) -> None:
    path = tmp_path / "land.geojson"
    path.write_text(document)
    with pytest.raises(ConfigError, match=r"land\.geojson"):
        LandMask.from_geojson(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.geojson"):
        LandMask.from_geojson(tmp_path / "nowhere.geojson")


def test_inland_distance_is_zero_at_sea_and_grows_inland(mask: LandMask) -> None:
    # Arabian Sea, Mumbai's mainland ~5 km in, and central India (~ 700 km from any coast).
    inland = mask.inland_m([65.0, 72.88, 78.0, np.nan], [15.0, 19.07, 22.0, 0.0])
    assert inland[0] == 0.0
    assert 1_000 < inland[1] < 20_000
    assert inland[2] > 300_000
    assert np.isnan(inland[3])
    # The same coastline measures both ways: a point just off the coast and one just in.
    at_sea = mask.distance_to_shore_m([65.0], [15.0])[0]
    assert at_sea > 0.0
