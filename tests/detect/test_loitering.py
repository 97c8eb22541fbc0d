"""loitering: slow (< 2 kn average) for >= 1 h, every point >= 20 nm from shore."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mista.detect.base import AlertDraft
from mista.detect.loitering import LoiteringDetector
from mista.fuse.chunk import FusedChunk, TrackPoints
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    T0,
    Memory,
    east_of,
    feed,
    final,
    minutes,
    push,
    settings,
    standing,
    track,
)

#: The test island's east shore is at lon 71 (lat 0..1).
LAT = 0.5


def offshore(metres: float) -> float:
    return east_of(LAT, 71.0, metres)


def loiter(
    hours: float, *, shore_m: float = 50_000.0, sog: float = 0.5, finish: bool = True
) -> list[AlertDraft]:
    points = track(7, minutes(0, hours), LAT, offshore(shore_m), sog=sog)
    return feed(LoiteringDetector(settings()), points, finish=finish)


def test_an_hour_and_a_bit_slow_far_offshore_is_loitering() -> None:
    [alert] = standing(loiter(1.1))
    assert alert.kind == "loitering"
    assert alert.status == AlertStatus.CLOSED
    assert alert.start == T0
    assert alert.end == pytest.approx(T0 + 1.1 * HOUR)
    assert alert.evidence["mean_speed_kn"] == 0.5
    assert alert.evidence["min_shore_distance_m"] == pytest.approx(50_000, rel=0.02)
    assert alert.evidence["thresholds"]["min_shore_distance_m"] == 37_040
    assert alert.tracks == ("ais:7",)
    assert alert.label_nos == frozenset({1})
    assert len(alert.evidence["report_seqs"]) == 20


def test_just_under_an_hour_is_not() -> None:
    assert standing(loiter(0.98)) == []


@pytest.mark.parametrize(("shore_m", "expected"), [(36_000.0, 0), (38_500.0, 1)])
def test_the_shore_distance_threshold(shore_m: float, expected: int) -> None:
    assert len(standing(loiter(2, shore_m=shore_m))) == expected


@pytest.mark.parametrize(("sog", "expected"), [(2.1, 0), (1.9, 1)])
def test_the_speed_threshold(sog: float, expected: int) -> None:
    assert len(standing(loiter(2, sog=sog))) == expected


def test_it_is_open_while_it_goes_on_then_closed_under_the_same_key() -> None:
    drafts = loiter(3)
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.CLOSED]
    assert drafts[0].key == drafts[1].key
    assert drafts[1].end > drafts[0].end


def test_a_point_near_shore_ends_the_run() -> None:
    t = minutes(0, 2.5)
    lon = np.full(t.shape, offshore(50_000.0))
    lon[75] = offshore(10_000.0)  # one fix 10 km from shore, 75 min in
    drafts = feed(LoiteringDetector(settings()), track(7, t, LAT, lon))
    assert [round(d.end - d.start) for d in standing(drafts)] == [4440, 4440]
    lon = np.full(t.shape, offshore(50_000.0))
    lon[60] = offshore(10_000.0)  # an hour in: two runs of 59 min
    assert standing(feed(LoiteringDetector(settings()), track(7, t[:121], LAT, lon[:121]))) == []


def test_a_late_fast_fix_splits_the_run_and_withdraws_it() -> None:
    memory = Memory()
    detector = LoiteringDetector(settings())
    t = minutes(0, 1.5)
    sog = np.where(t < t[-1], 0.5, 12.0)  # under way again at the last fix: no silence after
    drafts = push(detector, memory, track(7, t, LAT, offshore(50_000.0), sog=sog), T0 + 2 * HOUR)
    drafts += detector.update(_empty_chunk(T0 + 5 * HOUR), memory)
    [alert] = standing(drafts)
    late = track(7, [T0 + 45 * MINUTE + 30], LAT, offshore(50_000.0), sog=12.0, seq_from=99)
    revision = push(detector, memory, late, T0 + 6 * HOUR, revised={7: late.t[0]})
    assert [(d.key, d.status) for d in revision] == [(alert.key, AlertStatus.WITHDRAWN)]


def test_a_late_slow_fix_revises_the_alert_under_its_key() -> None:
    memory = Memory()
    detector = LoiteringDetector(settings())
    t = minutes(0, 3, step_s=10 * MINUTE)
    drafts = push(detector, memory, track(7, t, LAT, offshore(50_000.0)), T0 + 3 * HOUR)
    drafts += detector.update(_empty_chunk(T0 + 6.5 * HOUR), memory)
    [alert] = standing(drafts)
    late = track(7, [T0 + 65 * MINUTE], LAT, offshore(50_000.0), label_no=2, seq_from=99)
    revision = push(detector, memory, late, T0 + 7 * HOUR, revised={7: late.t[0]})
    [revised] = revision
    assert revised.key == alert.key
    assert revised.status == AlertStatus.CLOSED
    assert revised.label_nos == frozenset({1, 2})
    assert final(drafts + revision)[alert.key].evidence["points"] == len(t) + 1


def test_slow_fixes_at_satellite_passes_hours_apart_are_one_run() -> None:
    passes = np.concatenate([T0 + start + np.arange(0, 241, 60) for start in (0, 7200, 14400)])
    points = track(7, passes, LAT, offshore(50_000.0))
    [alert] = standing(feed(LoiteringDetector(settings()), points))
    assert alert.end - alert.start == 14640
    moved = track(7, passes, LAT, offshore(50_000.0) + (passes - T0) * 3e-5)  # ~6.5 kn
    assert standing(feed(LoiteringDetector(settings()), moved)) == []


def test_passes_3_2_hours_apart_are_one_run() -> None:
    # Satellite passes are 1.5 to 3.5 h apart: a slow vessel seen at two of them 3.2 h
    # apart loitered once, not twice.
    passes = np.concatenate([T0 + start + np.arange(0, 241, 60) for start in (0, 11520)])
    points = track(7, passes, LAT, offshore(50_000.0))
    [alert] = standing(feed(LoiteringDetector(settings()), points))
    assert alert.end - alert.start == 11760


def _empty_chunk(watermark: float) -> FusedChunk:
    return FusedChunk(watermark=watermark, points=TrackPoints.empty())


@hypothesis_settings(max_examples=20, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(1, 90)), min_size=1, max_size=6),
    st.sampled_from([600.0, 1800.0]),
)
def test_loitering_exists_iff_a_slow_run_lasts_an_hour(
    runs: list[tuple[bool, int]], chunk_s: float
) -> None:
    speeds = np.concatenate([np.full(n, 0.5 if slow else 6.0) for slow, n in runs])
    t = T0 + np.arange(speeds.shape[0]) * MINUTE
    points = track(7, t, LAT, offshore(50_000.0), sog=speeds)
    found = standing(feed(LoiteringDetector(settings()), points, chunk_s=chunk_s))
    # Durations of maximal slow runs, from their first to their last fix.
    slow = speeds < 2
    edges = np.flatnonzero(np.diff(np.r_[0, slow.astype(int), 0]))
    durations = [
        (end - 1 - start) * MINUTE for start, end in zip(edges[::2], edges[1::2], strict=True)
    ]
    assert sorted(d.end - d.start for d in found) == sorted(x for x in durations if x >= HOUR)


def one_pass(silence_s: float) -> list[AlertDraft]:
    """Under way, silent ``silence_s``, 4 min slow at a satellite pass, silent, under way."""
    slow = T0 + silence_s + np.arange(0, 5 * MINUTE, MINUTE)
    t = np.r_[T0, slow, slow[-1] + silence_s]
    sog = np.r_[12.0, np.full(slow.shape, 0.5), 12.0]
    return feed(LoiteringDetector(settings()), track(7, t, LAT, offshore(50_000.0), sog=sog))


def test_a_slow_vessel_seen_by_one_pass_hours_from_other_fixes_is_loitering() -> None:
    [alert] = standing(one_pass(2 * HOUR))
    assert alert.end - alert.start == 4 * MINUTE
    assert alert.evidence["stretched_duration_s"] == 4 * MINUTE + 2 * HOUR


def test_a_slow_pass_between_fixes_20_min_away_is_too_short() -> None:
    assert standing(one_pass(20 * MINUTE)) == []


def test_a_pass_revised_by_late_fixes_still_counts_the_silence_before_it() -> None:
    # Heard under way 20 km off, then 5 h later slow for 4 min, then soon under way
    # again: only the silence before makes up the hour. A late fix inside the pass
    # re-reads the track from 2 h before it: the fix before the pass must still count.
    memory = Memory()
    detector = LoiteringDetector(settings())
    far = track(7, [T0], LAT, offshore(70_000.0), sog=12.0)
    drafts = push(detector, memory, far, T0 + 10 * MINUTE)
    slow = track(
        7, T0 + 5 * HOUR + np.array([0.0, 4 * MINUTE]), LAT, offshore(50_000.0), seq_from=10
    )
    drafts += push(detector, memory, slow, T0 + 5.2 * HOUR)
    on = track(7, [T0 + 5.4 * HOUR], LAT, offshore(58_000.0), sog=12.0, seq_from=20)
    drafts += push(detector, memory, on, T0 + 5.5 * HOUR)
    [alert] = standing(drafts)
    late = track(7, [T0 + 5 * HOUR + 2 * MINUTE], LAT, offshore(50_000.0), seq_from=30)
    drafts += push(detector, memory, late, T0 + 6 * HOUR, revised={7: late.t[0]})
    [revised] = standing(drafts)
    assert revised.key == alert.key
    assert revised.evidence["points"] == 3
    assert revised.evidence["stretched_duration_s"] > HOUR


def test_a_late_pass_continues_a_run_that_expired_before_it_came() -> None:
    # Slow at a pass, and again at the next one 3.2 h later, whose file arrives after the
    # first run expired (the watermark ran on, 3.5 h past its end): one loitering.
    memory = Memory()
    detector = LoiteringDetector(settings())
    first = track(7, T0 + np.arange(5) * MINUTE, LAT, offshore(50_000.0))
    drafts = push(detector, memory, first, T0 + 10 * MINUTE)
    drafts += detector.update(_empty_chunk(T0 + 4 * HOUR), memory)
    later = T0 + 3.2 * HOUR + np.arange(5) * MINUTE
    second = track(7, later, LAT, offshore(50_300.0), seq_from=10)
    drafts += push(detector, memory, second, T0 + 4.5 * HOUR, revised={7: later[0]})
    [alert] = standing(drafts + detector.finish(T0 + 5 * HOUR, memory))
    assert (alert.start, alert.end) == (T0, later[-1])


def test_an_earlier_late_pass_keeps_the_fix_before_the_later_one() -> None:
    # Heard under way 20 km off, 5 h of silence, then slow at two passes 15 min apart
    # whose files arrive the later first: the earlier pass, re-read, is given the fix
    # before the later one (the silence before makes up the hour).
    memory = Memory()
    detector = LoiteringDetector(settings())
    far = track(7, [T0], LAT, offshore(70_000.0), sog=12.0)
    drafts = push(detector, memory, far, T0 + 10 * MINUTE)
    later = track(7, T0 + 5.25 * HOUR + np.arange(3) * MINUTE, LAT, offshore(50_000.0), seq_from=20)
    drafts += push(detector, memory, later, T0 + 5.5 * HOUR, revised={7: later.t[0]})
    earlier = track(7, T0 + 5 * HOUR + np.arange(3) * MINUTE, LAT, offshore(50_000.0), seq_from=10)
    drafts += push(detector, memory, earlier, T0 + 5.6 * HOUR, revised={7: earlier.t[0]})
    on = track(7, [T0 + 5.45 * HOUR], LAT, offshore(58_000.0), sog=12.0, seq_from=30)
    drafts += push(detector, memory, on, T0 + 5.7 * HOUR)
    [alert] = standing(drafts)
    assert alert.start == T0 + 5 * HOUR
    assert alert.evidence["stretched_duration_s"] > HOUR
