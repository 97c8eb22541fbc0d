"""DetectConfig: defaults are the contract's thresholds; bad settings name their key."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.detect.config import SECTIONS, DetectConfig
from mista.errors import ConfigError


def test_the_defaults_are_the_published_thresholds() -> None:
    config = DetectConfig()
    assert config.encounter.distance_m == 500
    assert config.encounter.min_duration_s == 7200
    assert config.encounter.max_speed_kn == 2
    assert config.encounter.min_port_distance_m == 10_000
    assert config.loitering.min_shore_distance_m == 37_040
    assert config.loitering.min_duration_s == 3600
    assert (config.gap.possible_s, config.gap.gap_s) == (6 * 3600, 12 * 3600)
    assert (config.port_visit.entry_m, config.port_visit.exit_m) == (3000, 4000)
    assert config.port_visit.min_duration_s == 1800
    assert config.spoofing.max_speed_kn == 30
    assert config.close_approach.distance_m == 926
    assert config.close_approach.max_tcpa_s == 600
    assert (config.dark_vessel.min_contacts, config.dark_vessel.min_duration_s) == (5, 600)
    assert (config.zone_entry.enter_points, config.zone_entry.exit_points) == (2, 2)


def test_tables_override_their_settings() -> None:
    config = DetectConfig.from_mapping(
        {"loitering": {"min_duration_s": 7200}, "port_visit": {"entry_m": 2500}}
    )
    assert config.loitering.min_duration_s == 7200
    assert config.loitering.max_speed_kn == 2
    assert config.port_visit.entry_m == 2500
    assert DetectConfig.from_mapping({}) == DetectConfig()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"loitering": {"min_duration_s": "long"}}, "detect.loitering.min_duration_s"),
        ({"loitering": {"min_duration_s": -1}}, "detect.loitering.min_duration_s"),
        ({"loitering": {"min_duration_s": float("nan")}}, "detect.loitering.min_duration_s"),
        ({"loitering": {"min_duration_s": True}}, "detect.loitering.min_duration_s"),
        ({"loitering": {"speed": 1}}, "detect.loitering.speed"),
        ({"loitering": 5}, "detect.loitering"),
        ({"wandering": {}}, "detect.wandering"),
        ({"zone-entry": {"enter_points": 1.5}}, "detect.zone-entry.enter_points"),
        ({"zone-entry": {"enter_points": 0}}, "detect.zone-entry.enter_points"),
        ({"ais-gap": {"possible_s": 50_000}}, "ais-gap.possible_s"),
        ({"port-visit": {"entry_m": 5000}}, "port-visit.entry_m"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_its_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        DetectConfig.from_mapping(data)


def test_a_table_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError):
        DetectConfig.from_mapping(["loitering"])  # type: ignore[arg-type]


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(
    st.dictionaries(
        st.sampled_from([*SECTIONS, "port_visit", "nope"]),
        st.one_of(_values, st.dictionaries(st.text(max_size=20), _values, max_size=3)),
        max_size=3,
    )
)
def test_garbage_is_a_config_or_a_config_error_never_a_crash(data: dict[str, Any]) -> None:
    message = ""
    try:
        DetectConfig.from_mapping(data)
    except ConfigError as exc:
        message = str(exc)
    if message:
        assert "detect." in message
