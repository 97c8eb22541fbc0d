"""Ports: nearest and within against a brute-force haversine search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.errors import ConfigError
from mista.geo import Ports, haversine_m


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports.default()


def test_shipped_ports(ports: Ports) -> None:
    assert len(ports) == len(ports.names) == len(ports.lon) == len(ports.lat) == 1081
    index, distance = ports.nearest(np.array([72.84, 103.85]), np.array([18.84, 1.26]))
    assert ports.names[int(index[0])] == "Bombay"
    assert distance[0] < 2_000
    assert "Singapore" in ports.names[int(index[1])]


def brute_nearest(ports: Ports, lon: float, lat: float) -> tuple[int, float]:
    distances = haversine_m(lat, lon, ports.lat, ports.lon)
    best = int(np.argmin(distances))
    return best, float(distances[best])


def test_nearest_against_brute_force(ports: Ports) -> None:
    rng = np.random.default_rng(2)
    lon = rng.uniform(-180, 180, 2_000)
    lat = rng.uniform(-80, 80, 2_000)
    index, distance = ports.nearest(lon, lat)
    assert index.dtype == np.int64
    assert distance.dtype == np.float64
    for x, y, i, d in zip(lon, lat, index, distance, strict=True):
        best, best_d = brute_nearest(ports, x, y)
        assert d == pytest.approx(best_d, rel=1e-9, abs=1e-3)
        assert i == best or d == pytest.approx(brute_nearest(ports, x, y)[1])


@given(st.floats(-180, 180), st.floats(-85, 85), st.floats(0, 500_000))
def test_within_against_brute_force(lon: float, lat: float, radius: float) -> None:
    ports = Ports.default()
    distances = haversine_m(lat, lon, ports.lat, ports.lon)
    (found,) = ports.within(np.array([lon]), np.array([lat]), radius)
    # ports on the edge (within a millimetre) may go either way
    certain = np.flatnonzero(distances < radius - 1e-3)
    possible = np.flatnonzero(distances <= radius + 1e-3)
    assert set(certain) <= set(found.tolist()) <= set(possible)
    assert found.dtype == np.int64
    assert (np.diff(found) > 0).all()


def test_nan_and_bad_radius(ports: Ports) -> None:
    index, distance = ports.nearest(np.array([np.nan, 72.84]), np.array([1.0, 18.94]))
    assert index[0] == -1
    assert distance[0] == np.inf
    assert index[1] >= 0
    found = ports.within(np.array([np.nan, 72.84]), np.array([0.0, 18.84]), 3_000)
    assert len(found[0]) == 0
    assert len(found[1]) >= 1
    assert all(len(f) == 0 for f in ports.within([72.84], [18.94], float("nan")))
    assert all(len(f) == 0 for f in ports.within([72.84], [18.94], -5.0))
    assert len(ports.within([0.0], [0.0], float("inf"))[0]) == len(ports)


def test_across_the_antimeridian(tmp_path: Path) -> None:
    path = tmp_path / "ports.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {"type": "Point", "coordinates": [lon, 0.0]},
        }
        for name, lon in (("East", 179.9), ("West", -170.0))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    ports = Ports.from_geojson(path)
    assert ports.names == ["East", "West"]
    index, distance = ports.nearest([-179.9], [0.0])
    assert index.tolist() == [0]
    assert distance[0] == pytest.approx(haversine_m(0.0, 179.9, 0.0, -179.9))


def test_empty_ports_answer_nothing() -> None:
    ports = Ports([], [], [])
    index, distance = ports.nearest([1.0], [2.0])
    assert index.tolist() == [-1]
    assert distance.tolist() == [np.inf]
    assert [f.tolist() for f in ports.within([1.0], [2.0], 1e6)] == [[]]


@pytest.mark.parametrize(
    "feature",
    [
        {"geometry": {"type": "Polygon", "coordinates": []}},
        {"geometry": {"type": "Point", "coordinates": ["a", 1]}},
        {"geometry": {"type": "Point", "coordinates": [float("nan"), 1]}},
        {"geometry": None},
        "junk",
    ],
)
def test_from_geojson_rejects_bad_features(tmp_path: Path, feature: object) -> None:
    path = tmp_path / "ports.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(ConfigError, match="feature 0"):
        Ports.from_geojson(path)
