"""Zones files: parsing, labels from markings, hostile input, and the inside test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import ConfigError
from mista.geo import Zone, Zones
from mista.labels import Label, Level

DEFAULT = Label.default_for("IND")


def square(x0: float, y0: float, size: float) -> dict[str, Any]:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def write(tmp_path: Path, features: list[Any]) -> Path:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def load(path: Path) -> Zones:
    return Zones.from_geojson(path, originator="IND", default_label=DEFAULT)


def test_zones_with_markings_and_defaults(tmp_path: Path) -> None:
    two_squares = {
        "type": "MultiPolygon",
        "coordinates": [square(80, 10, 1)["coordinates"], square(85, 10, 1)["coordinates"]],
    }
    path = write(
        tmp_path,
        [
            feature(square(70, 15, 2), id="arabian-box", name="Arabian box"),
            feature(two_squares, id="twin", marking="RESTRICTED//REL TO IND,USA", name=None),
        ],
    )
    zones = load(path)
    assert [z.id for z in zones.zones] == ["arabian-box", "twin"]
    assert zones.zones[0].name == "Arabian box"
    assert zones.zones[0].label == DEFAULT
    assert zones.zones[1].name == "twin"
    assert zones.zones[1].label.level is Level.RESTRICTED
    assert zones.zones[1].label.releasable_to == frozenset({"IND", "USA"})
    assert isinstance(zones.zones[0], Zone)
    inside = zones.inside(
        np.array([71.0, 80.5, 85.5, 83.0, np.nan]), np.array([16.0, 10.5, 10.5, 10.5, 10.0])
    )
    assert inside.shape == (5, 2)
    assert inside.tolist() == [
        [True, False],
        [False, True],
        [False, True],
        [False, False],
        [False, False],
    ]


def test_groups_expand_in_markings(tmp_path: Path) -> None:
    path = write(tmp_path, [feature(square(0, 0, 1), id="z", marking="SECRET//REL TO FIVE")])
    zones = Zones.from_geojson(
        path, originator="IND", default_label=DEFAULT, groups={"FIVE": ["USA", "AUS"]}
    )
    assert zones.zones[0].label.releasable_to == frozenset({"IND", "USA", "AUS"})


def test_no_zones_inside_is_empty(tmp_path: Path) -> None:
    zones = load(write(tmp_path, []))
    assert len(zones) == 0
    assert zones.inside(np.zeros(3), np.zeros(3)).shape == (3, 0)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature(square(0, 0, 1))], '"id"'),
        ([feature(square(0, 0, 1), id="")], '"id"'),
        ([feature(square(0, 0, 1), id=7)], '"id"'),
        (
            [feature(square(0, 0, 1), id="a"), feature(square(1, 1, 1), id="a")],
            "feature 1.*already used by feature 0",
        ),
        ([feature(square(0, 0, 1), id="a", marking="TOP//REL TO IND")], "feature 0.*marking"),
        ([feature(square(0, 0, 1), id="a", marking=12)], "feature 0.*marking"),
        ([feature(square(0, 0, 1), id="a", name=["x"])], '"name"'),
        ([feature({"type": "Point", "coordinates": [0, 0]}, id="a")], "Polygon or MultiPolygon"),
        ([feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, id="a")], "feature 0"),
        ([feature({"type": "Polygon", "coordinates": "abc"}, id="a")], "feature 0"),
        (
            [
                feature(
                    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
                    id="a",
                )
            ],
            "invalid",
        ),
        (
            [
                feature(
                    {"type": "Polygon", "coordinates": [[[0, 0], [1e400, 0], [1, 1], [0, 0]]]},
                    id="a",
                )
            ],
            "feature 0",
        ),
        ([feature(None, id="a")], "feature 0"),
        ([{"type": "Feature", "properties": None, "geometry": square(0, 0, 1)}], '"properties"'),
        (["junk"], "feature 0"),
    ],
)
def test_bad_features_are_config_errors(tmp_path: Path, features: list[Any], message: str) -> None:
    path = write(tmp_path, features)
    with pytest.raises(ConfigError, match=message) as caught:
        load(path)
    assert "zones.geojson" in str(caught.value)


@pytest.mark.parametrize("text", ["", "[]", "{", '{"type": "FeatureCollection"}', "\xff"])
def test_bad_documents_are_config_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(ConfigError, match=r"zones\.geojson"):
        load(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
hostile_feature = st.fixed_dictionaries(
    {"type": st.sampled_from(["Feature", "feature", 3])},
    optional={
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "id": json_values | st.text(),
                "name": json_values,
                "marking": json_values | st.text(),
            },
        )
        | json_values,
        "geometry": st.fixed_dictionaries(
            {"type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString"])},
            optional={"coordinates": json_values},
        )
        | json_values,
    },
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(hostile_feature, max_size=3))
def test_hostile_features_never_crash(tmp_path: Path, features: list[Any]) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    message = ""
    try:
        zones = load(path)
    except ConfigError as exc:
        message = str(exc)
    if message:
        assert "zones.geojson" in message
    else:
        assert len(zones) == len(features)
        assert zones.inside(np.array([0.5]), np.array([0.5])).shape == (1, len(features))
