"""mista.detect._passes: passes found as fixes come, and the off-reckoning judgement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mista.detect._common import concat
from mista.detect._passes import PassFix, PassLog, PassTriple, _made_good, off_own_reckoning
from mista.detect.spoofing import SpoofingDetector
from mista.geo import bearing_deg, haversine_m
from tests.detect.builders import HOUR, MINUTE, SEA, T0, feed, settings, standing, track

LAT, LON = SEA
KNOT = 1852.0 / 3600.0


def heard(starts_h: list[float]) -> np.ndarray:
    return np.concatenate([T0 + h * HOUR + np.arange(3) * MINUTE for h in starts_h])


def test_each_pass_after_two_is_given_with_the_edges_of_the_one_before() -> None:
    log = PassLog(1800.0)
    t = heard([0, 2, 5, 9])
    points = track(4, t, LAT, LON, sog=10.0, cog=0.0)
    triples = log.add(points, np.ones(len(points), np.bool_))
    assert [(p.before[0], p.first[0], p.last[0], p.after[0]) for p in triples] == [
        (t[2], t[3], t[5], t[6]),
        (t[5], t[6], t[8], t[9]),
    ]


def test_passes_carry_over_from_chunk_to_chunk_and_late_fixes_are_left_out() -> None:
    log = PassLog(1800.0)
    t = heard([0, 2, 5])
    points = track(4, t, LAT, LON, sog=10.0, cog=0.0)
    every = np.ones(3, np.bool_)
    assert log.add(points.take(np.arange(0, 3)), every) == []
    assert log.add(points.take(np.arange(3, 6)), every) == []
    # A fix older than the last one (late) starts nothing and moves nothing back.
    late = track(4, [T0 + HOUR], LAT, LON, sog=10.0, cog=0.0)
    assert log.add(late, np.ones(1, np.bool_)) == []
    [triple] = log.add(points.take(np.arange(6, 9)), every)
    assert (triple.before[0], triple.after[0]) == (t[2], t[6])


def test_tracks_silent_since_the_horizon_are_forgotten() -> None:
    log = PassLog(1800.0)
    points = concat([track(4, heard([0, 2]), LAT, LON), track(5, heard([0, 30]), LAT, LON)])
    log.add(points, np.ones(len(points), np.bool_))
    log.forget_before(T0 + 10 * HOUR)
    assert set(log._last) == {5}
    assert set(log._edges) == {5}


def fix(t_h: float, north_m: float, sog: float = 14.0, cog: float = 0.0) -> PassFix:
    return (T0 + t_h * HOUR, LAT + north_m / 111_195.0, LON, sog, cog)


def test_the_judgement_needs_the_same_reported_motion_and_a_pass_after_on_it() -> None:
    sailed = 14.0 * KNOT * HOUR  # metres an hour
    off = PassTriple(4, fix(0, 0), fix(2, 0.5 * sailed), fix(2.1, 0.6 * sailed), fix(8, 8 * sailed))
    assert off_own_reckoning(off)
    on = PassTriple(4, fix(0, 0), fix(2, 2 * sailed), fix(2.1, 2.1 * sailed), fix(8, 8 * sailed))
    assert not off_own_reckoning(on)
    turned = PassTriple(4, fix(0, 0), fix(2, 0.5 * sailed, cog=90.0), off.last, off.after)
    assert not off_own_reckoning(turned)
    slower = PassTriple(4, fix(0, 0), fix(2, 0.5 * sailed, sog=7.0), off.last, off.after)
    assert not off_own_reckoning(slower)
    elsewhere = PassTriple(4, off.before, off.first, off.last, fix(8, 6 * sailed))
    assert not off_own_reckoning(elsewhere)
    unknown = PassTriple(4, fix(0, 0, cog=math.nan), off.first, off.last, off.after)
    assert not off_own_reckoning(unknown)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    sog=st.floats(8.0, 25.0),
    cog=st.floats(0.0, 359.9),
    silences_h=st.lists(st.floats(0.6, 6.0), min_size=2, max_size=7),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_vessel_holding_its_course_and_speed_is_never_off_its_reckoning(
    sog: float, cog: float, silences_h: list[float], seed: int
) -> None:
    # Heard at passes of 3-8 fixes, with GPS noise of 10-50 m: whatever the silences.
    rng = np.random.default_rng(seed)
    starts = np.cumsum([0.0, *silences_h]) * HOUR
    t = np.concatenate([s + np.arange(rng.integers(3, 9)) * MINUTE for s in starts]) + T0
    metres = sog * KNOT * (t - T0)
    noise = rng.normal(0.0, 30.0, (2, t.shape[0]))
    lat = LAT + (metres * math.cos(math.radians(cog)) + noise[0]) / 111_195.0
    lon = LON + (metres * math.sin(math.radians(cog)) + noise[1]) / (
        111_195.0 * math.cos(math.radians(LAT))
    )
    steady = track(4, t, lat, lon, sog=sog, cog=cog)
    assert standing(feed(SpoofingDetector(settings()), steady)) == []


def test_speed_and_course_made_good_agree_with_the_geodesy_module() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        lat1, lat2 = rng.uniform(-60, 60, 2)
        lon1, lon2 = rng.uniform(-180, 180, 2)
        a = (T0, float(lat1), float(lon1), 10.0, 0.0)
        b = (T0 + HOUR, float(lat2), float(lon2), 10.0, 0.0)
        speed, course = _made_good(a, b)
        assert speed * KNOT * HOUR == pytest.approx(
            float(haversine_m(lat1, lon1, lat2, lon2)), rel=1e-6
        )
        expected = float(bearing_deg(lat1, lon1, lat2, lon2))
        assert abs((course - expected + 180.0) % 360.0 - 180.0) < 1e-6
