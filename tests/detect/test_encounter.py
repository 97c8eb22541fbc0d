"""encounter: two slow vessels <= 500 m apart for >= 2 h, >= 10 km from a port."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mista.detect.base import AlertDraft
from mista.detect.encounter import EncounterDetector
from mista.fuse.chunk import SourceCode
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    SEA,
    T0,
    east_of,
    feed,
    minutes,
    north_of,
    settings,
    standing,
    track,
)

LAT, LON = SEA


def pair(
    hours: float,
    *,
    apart_m: float = 300.0,
    sog: float = 0.5,
    lat: float = LAT,
    lon: float = LON,
    finish: bool = True,
    silent: slice | None = None,
) -> list[AlertDraft]:
    t = minutes(0, hours)
    a = track(1, t, lat, lon, sog=sog)
    b = track(2, t, north_of(lat, apart_m), lon, sog=sog, label_no=2)
    if silent is not None:
        keep = np.ones(t.shape, np.bool_)
        keep[silent] = False
        b = b.take(keep)
    return feed(EncounterDetector(settings()), [a, b], finish=finish)


def test_two_hours_and_ten_minutes_side_by_side_is_an_encounter() -> None:
    [alert] = standing(pair(2 + 1 / 6))
    assert alert.kind == "encounter"
    assert alert.status == AlertStatus.CLOSED
    assert alert.tracks == ("ais:1", "ais:2")
    assert alert.mmsis == (419_000_001, 419_000_002)
    assert alert.label_nos == frozenset({1, 2})
    assert alert.start == T0
    assert alert.end == pytest.approx(T0 + (2 + 1 / 6) * HOUR)
    assert alert.evidence["min_distance_m"] == pytest.approx(300, abs=1)
    assert alert.evidence["median_speed_kn"] == 0.5
    assert alert.key == ("encounter", "ais:1", "ais:2", T0)


def test_one_hour_fifty_is_not() -> None:
    assert standing(pair(2 - 1 / 6)) == []


@pytest.mark.parametrize(("apart_m", "expected"), [(480.0, 1), (520.0, 0)])
def test_the_distance_threshold(apart_m: float, expected: int) -> None:
    assert len(standing(pair(3, apart_m=apart_m))) == expected


@pytest.mark.parametrize(("sog", "expected"), [(1.9, 1), (2.1, 0)])
def test_the_speed_threshold(sog: float, expected: int) -> None:
    assert len(standing(pair(3, sog=sog))) == expected


@pytest.mark.parametrize(("port_m", "expected"), [(8_000.0, 0), (12_000.0, 1)])
def test_the_port_distance_threshold(port_m: float, expected: int) -> None:
    # Islandport is at lat 0.5, lon 71; the pair sits east of it.
    lon = east_of(0.5, 71.0, port_m)
    assert len(standing(pair(3, lat=0.5, lon=lon))) == expected


def test_it_is_open_while_they_stay_together() -> None:
    drafts = pair(4, finish=False)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]
    assert drafts[0].end - drafts[0].start >= 2 * HOUR


def test_a_reception_gap_under_3_5_hours_does_not_break_it_a_longer_one_does() -> None:
    # Satellite passes are 1.5 to 3.5 h apart.
    assert len(standing(pair(6, silent=slice(60, 260)))) == 1  # 3 h 20 min unheard
    assert standing(pair(5, silent=slice(60, 280))) == []  # 3 h 40 min: two short runs


def test_seen_together_only_at_satellite_passes_is_an_encounter() -> None:
    passes = np.concatenate([T0 + start + np.arange(0, 301, 60) for start in (0, 6000, 12000)])
    a = track(1, passes, LAT, LON)
    b = track(2, passes + 20, north_of(LAT, 250.0), LON, label_no=2)
    [alert] = standing(feed(EncounterDetector(settings()), [a, b]))
    assert alert.end - alert.start == pytest.approx(12300, abs=30)


@hypothesis_settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([100.0, 300.0, 490.0, 510.0, 800.0]),
    st.sampled_from([1.0, 1.8, 2.2, 3.0]),
)
def test_an_encounter_needs_both_closeness_and_time(apart_m: float, hours: float) -> None:
    found = standing(pair(hours, apart_m=apart_m))
    assert len(found) == (1 if apart_m <= 500 and hours >= 2 else 0)


@pytest.mark.parametrize(("hours_apart", "expected"), [(2.5, 1), (1.5, 0)])
def test_a_pass_together_reaches_half_way_to_the_fixes_around_it(
    hours_apart: float, expected: int
) -> None:
    """Seen together at one pass; each seen alone (moving, elsewhere) ``hours_apart``
    before and after: the span is the pass plus half of each silence (at most 1.5 h)."""
    pass_t = T0 + 5 * HOUR + np.arange(0, 301, 60)
    alone = np.r_[pass_t[0] - hours_apart * HOUR, pass_t[-1] + hours_apart * HOUR]
    a = track(1, np.r_[alone[0], pass_t, alone[1]], LAT, [LON + 1, *[LON] * 6, LON + 1])
    b = track(2, np.r_[alone[0], pass_t, alone[1]], north_of(LAT, 200.0), LON, label_no=2)
    b = b.take(np.array([1, 2, 3, 4, 5, 6]))  # b only at the pass; a alone before and after
    found = standing(feed(EncounterDetector(settings()), [a, b], chunk_s=1800.0))
    assert len(found) == expected
    if found:
        assert found[0].end - found[0].start == pytest.approx(300 + hours_apart * HOUR, abs=60)


def two_passes_then(third: np.ndarray, sog: np.ndarray, *, lon3: float) -> list[AlertDraft]:
    """Together (200 m apart, b's fixes 20 s after a's) at passes at 0 and 75 min, then
    both seen at the times ``third`` with speeds ``sog``, at longitude ``lon3``."""
    passes = T0 + np.r_[np.arange(0, 301, 60), 75 * MINUTE + np.arange(0, 301, 60)]
    t = np.r_[passes, third]
    speeds = np.r_[np.full(passes.shape, 0.5), sog]
    lon = np.r_[np.full(passes.shape, LON), np.full(third.shape, lon3)]
    a = track(1, t, LAT, lon, sog=speeds)
    b = track(2, t + 20, north_of(LAT, 200.0), lon, sog=speeds, label_no=2)
    return feed(EncounterDetector(settings()), [a, b])


def test_a_run_reaches_half_way_to_the_next_fix_in_a_later_bucket() -> None:
    # Seen under way far off 170 min in: together until half-way there, 125 min in all.
    [alert] = standing(two_passes_then(T0 + np.r_[170.0] * MINUTE, np.r_[12.0], lon3=LON + 0.5))
    assert alert.end - alert.start == pytest.approx(125 * MINUTE, abs=60)


def test_slow_fixes_count_in_a_bucket_where_the_pair_gets_under_way() -> None:
    third = T0 + np.r_[190.0, 191.0, 192.0] * MINUTE
    [alert] = standing(two_passes_then(third, np.r_[0.5, 12.0, 12.0], lon3=LON))
    assert alert.evidence["observed_end"] == pytest.approx(third[0] + 20)


@pytest.mark.parametrize(
    ("source", "expected"), [(SourceCode.AIS_SATELLITE, 1), (SourceCode.AIS_TERRESTRIAL, 0)]
)
def test_a_pair_seen_together_at_one_satellite_pass_only(source: int, expected: int) -> None:
    """Nothing before or after a 40-minute pass bounds a satellite run: it reaches 1.5 h
    each way; under terrestrial cover the vessels were heard for 40 min only."""
    t = T0 + 5 * HOUR + np.arange(0, 40 * MINUTE + 1, MINUTE)
    a = track(1, t, LAT, LON)
    b = track(2, t + 20, north_of(LAT, 200.0), LON, label_no=2)
    a, b = (replace(p, source=np.full(len(p), source, np.uint8)) for p in (a, b))
    found = standing(feed(EncounterDetector(settings()), [a, b]))
    assert len(found) == expected
    if found:
        assert found[0].end - found[0].start == pytest.approx(40 * MINUTE + 3 * HOUR, abs=60)
