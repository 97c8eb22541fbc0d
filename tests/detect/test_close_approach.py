"""close-approach: two moving vessels within 926 m; raised early by CPA/TCPA."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mista.detect._common import concat
from mista.detect.base import AlertDraft
from mista.detect.close_approach import CloseApproachDetector
from mista.fuse.chunk import FusedChunk, SourceCode, TrackPoints
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    SEA,
    T0,
    Memory,
    east_of,
    feed,
    north_of,
    push,
    settings,
    standing,
    track,
)

LAT, LON = SEA
KNOT = 1852.0 / 3600.0
SPEED_KN = 10.0
MEET_S = 15 * MINUTE  # the two meet (pass abeam) at T0 + 15 min, a minute mark


def leg(
    number: int, t: np.ndarray, lat0: float, lon0: float, east_m_s: float, north_m_s: float
) -> TrackPoints:
    """Straight line from (lat0, lon0) at T0."""
    dt = t - T0
    lat = np.array([north_of(lat0, north_m_s * s) for s in dt])
    lon = np.array([east_of(LAT, lon0, east_m_s * s) for s in dt])
    speed = np.hypot(east_m_s, north_m_s) / KNOT
    course = np.degrees(np.arctan2(east_m_s, north_m_s)) % 360
    return track(number, t, lat, lon, sog=speed, cog=course, label_no=number)


def head_on_legs(
    t: np.ndarray, v: float, meet_s: float, offset_m: float = 500.0
) -> tuple[TrackPoints, TrackPoints]:
    """A eastbound and B westbound ``offset_m`` to its north, both at ``v`` m/s, abeam at
    T0 + ``meet_s``, at the times ``t``."""
    a = leg(1, t, LAT, east_of(LAT, LON, -v * meet_s), v, 0.0)
    b = leg(2, t, north_of(LAT, offset_m), east_of(LAT, LON, v * meet_s), -v, 0.0)
    return a, b


def assert_late_head_on(t: np.ndarray, v: float, meet_s: float, expected: int) -> None:
    """The head-on pair of ``head_on_legs`` heard at ``t`` only, as late satellite fixes:
    ``expected`` passes found, one found 500 m abeam at T0 + ``meet_s``."""
    a, b = head_on_legs(t, v, meet_s)
    found = standing(late([a, b]))
    assert len(found) == expected
    if found:
        assert found[0].evidence["min_distance_m"] == pytest.approx(500.0, rel=0.02)
        assert found[0].start <= T0 + meet_s <= found[0].end


def head_on(
    offset_m: float, *, speed_kn: float = SPEED_KN, finish: bool = True
) -> list[AlertDraft]:
    """A eastbound, B westbound ``offset_m`` to the north; abeam at T0 + 15 min."""
    t = T0 + np.arange(0, 40 * MINUTE, MINUTE)
    a, b = head_on_legs(t, speed_kn * KNOT, MEET_S, offset_m)
    return feed(CloseApproachDetector(settings()), [a, b], finish=finish)


def test_a_pass_at_500_m_is_predicted_confirmed_and_closed() -> None:
    drafts = head_on(500.0)
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.OPEN, AlertStatus.CLOSED]
    assert [d.evidence["predicted"] for d in drafts] == [True, False, False]
    assert len({d.key for d in drafts}) == 1
    closed = drafts[-1]
    assert closed.tracks == ("ais:1", "ais:2")
    assert closed.evidence["min_distance_m"] == pytest.approx(500.0, rel=0.02)
    assert closed.start <= T0 + MEET_S <= closed.end
    assert closed.label_nos == frozenset({1, 2})
    assert drafts[0].start < closed.start  # raised before they were close


@pytest.mark.parametrize(("offset_m", "expected"), [(900.0, 1), (960.0, 0)])
def test_the_distance_threshold(offset_m: float, expected: int) -> None:
    assert len(standing(head_on(offset_m))) == expected


@pytest.mark.parametrize(("speed_kn", "expected"), [(3.5, 1), (2.5, 0)])
def test_both_must_be_under_way(speed_kn: float, expected: int) -> None:
    assert len(standing(head_on(300.0, speed_kn=speed_kn))) == expected


def test_a_pass_far_apart_raises_nothing() -> None:
    assert head_on(2_000.0) == []


def test_a_predicted_pass_that_does_not_happen_is_withdrawn() -> None:
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 40 * MINUTE, MINUTE)
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    # B heads west to pass at 300 m, then at T0 + 8 min turns away north.
    turn = T0 + 8 * MINUTE
    t1, t2 = t[t <= turn], t[t > turn]
    b1 = leg(2, t1, north_of(LAT, 300.0), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    lat_turn, lon_turn = float(b1.lat[-1]), float(b1.lon[-1])
    b2 = leg(2, t2, lat_turn - v * 8 * MINUTE / 111_195.0, lon_turn, 0.0, v)
    b2 = track(2, t2, b2.lat, lon_turn, sog=SPEED_KN, cog=0.0, label_no=2, seq_from=500)
    drafts = feed(CloseApproachDetector(settings()), [a, b1, b2])
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.WITHDRAWN]
    assert drafts[0].evidence["predicted"] is True


@pytest.mark.parametrize(("stop_report_min", "expected"), [(6, 0), (9, 0), (11, 1)])
def test_a_vessel_reported_stopped_is_not_dead_reckoned_on(
    stop_report_min: int, expected: int
) -> None:
    """B sails north and stops at minute 5 (reported every 3 minutes once stopped); A
    crosses 1,100 m north of where B stopped at minute 6. Dead-reckoned on from its last
    moving fix, B would be 792 m from A then: a report of it stopped ends that, and so
    does one heard later (up to ``next_report_s`` after its last fix) at the place it
    stopped: B was under way only as long as its speed takes it there."""
    v = SPEED_KN * KNOT
    b = leg(2, T0 + np.arange(0, 6) * MINUTE, north_of(LAT, -v * 5 * MINUTE), LON, 0.0, v)
    stop_t = T0 + np.arange(stop_report_min, 30, 3) * MINUTE
    stopped = track(2, stop_t, LAT, LON, sog=0.0, cog=0.0, label_no=2, seq_from=500)
    t = T0 + np.arange(0, 20) * MINUTE
    a = leg(1, t, north_of(LAT, 1_100.0), east_of(LAT, LON, v * 6 * MINUTE), -v, 0.0)
    found = standing(feed(CloseApproachDetector(settings()), [a, b, stopped]))
    assert len(found) == expected


@pytest.mark.parametrize(("last_report_min", "expected"), [(5, 0), (6, 1)])
def test_a_state_is_dead_reckoned_for_at_most_90_s(last_report_min: int, expected: int) -> None:
    """B sails north, last heard at ``last_report_min``; A crosses its course 1,300 m
    north of where B was at minute 5, at minute 7 (683 m from B dead-reckoned 2 minutes
    on from minute 5): an unheard vessel may have stopped, as vessels in port do."""
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, last_report_min + 1) * MINUTE
    b = leg(2, t, north_of(LAT, -v * 5 * MINUTE), LON, 0.0, v)
    t = T0 + np.arange(0, 20) * MINUTE
    a = leg(1, t, north_of(LAT, 1_300.0), east_of(LAT, LON, v * 7 * MINUTE), -v, 0.0)
    assert len(standing(feed(CloseApproachDetector(settings()), [a, b]))) == expected


def test_a_pass_between_two_minutes_is_found() -> None:
    """Two 30-knot vessels, first heard half a minute past a minute mark, pass 300 m apart
    head-on there: by the next minute, dead-reckoned, they are 973 m apart again. The
    closest they came since both were heard counts."""
    v = 30.0 * KNOT
    meet = MEET_S + 30.0
    t = T0 + meet + np.arange(0, 5) * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * meet), v, 0.0)
    b = leg(2, t, north_of(LAT, 300.0), east_of(LAT, LON, v * meet), -v, 0.0)
    found = standing(feed(CloseApproachDetector(settings()), [a, b]))
    assert len(found) == 1
    assert found[0].evidence["min_distance_m"] == pytest.approx(300.0, rel=0.02)
    assert found[0].start == T0 + MEET_S + MINUTE


@pytest.mark.parametrize(("shift_m", "expected"), [(0.0, 1), (1_000.0, 0)])
def test_a_predicted_pass_unheard_is_confirmed_by_where_they_are_heard_next(
    shift_m: float, expected: int
) -> None:
    """The two of ``head_on`` (abeam 500 m apart at minute 15), B unheard from minute 11 to
    16: the pass was predicted but never seen. Heard again at minute 17 where the
    prediction put it, B held course and speed through the pass; ``shift_m`` north of
    that, it did not."""
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 30) * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    start = east_of(LAT, LON, v * MEET_S)
    before = leg(2, t[t <= T0 + 10 * MINUTE], north_of(LAT, 500.0), start, -v, 0.0)
    after = leg(2, t[t >= T0 + 17 * MINUTE], north_of(LAT, 500.0 + shift_m), start, -v, 0.0)
    after = replace(after, seq=after.seq + 500)
    found = standing(feed(CloseApproachDetector(settings()), [a, before, after]))
    assert len(found) == expected
    if found:
        assert found[0].status == AlertStatus.CLOSED
        assert found[0].evidence["predicted"] is False
        assert found[0].start == pytest.approx(T0 + MEET_S, abs=1.0)


def test_a_pair_close_again_after_one_stopped_is_a_new_pass() -> None:
    """A and B sail east side by side 500 m apart at 10 kn; B stops at minute 10, and at
    minute 14 gets under way at 20 kn and catches A up (500 m abeam at minute 18). Within
    ``late_merge_s`` of the first pass, but B stopped in between: two passes."""
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 31) * MINUTE
    a = leg(1, t, north_of(LAT, 500.0), LON, v, 0.0)
    b1 = leg(2, t[t < T0 + 10 * MINUTE], LAT, LON, v, 0.0)
    stop_x = v * 10 * MINUTE
    stop_t = T0 + np.arange(10, 14) * MINUTE
    stopped = track(2, stop_t, LAT, east_of(LAT, LON, stop_x), sog=0.0, cog=90.0, seq_from=500)
    on = t[t >= T0 + 14 * MINUTE]
    b2 = leg(2, on, LAT, east_of(LAT, LON, stop_x - 2 * v * 14 * MINUTE), 2 * v, 0.0)
    b2 = replace(b2, seq=b2.seq + 600)
    found = standing(feed(CloseApproachDetector(settings()), [a, b1, stopped, b2]))
    assert len(found) == 2
    assert all(d.status == AlertStatus.CLOSED for d in found)


def late(points: list[TrackPoints]) -> list[AlertDraft]:
    """``points`` of satellite passes, delivered an hour late (after another vessel's
    reports took the detector past them)."""
    detector, memory = CloseApproachDetector(settings()), Memory()
    other = leg(3, T0 + np.arange(0, 60) * MINUTE, north_of(LAT, 50_000.0), LON, 5.0, 0.0)
    drafts = push(detector, memory, other, T0 + HOUR)
    drafts += push(detector, memory, concat(points), T0 + HOUR + 10 * MINUTE)
    return drafts + detector.finish(T0 + 2 * HOUR, memory)


def satellite_pass(offset_m: float, seen_min: np.ndarray | None = None) -> list[AlertDraft]:
    """The two of ``head_on`` seen only at minutes ``seen_min`` (5-8 and 20-23), delivered
    an hour late (after the detector compared those minutes with other vessels')."""
    v = SPEED_KN * KNOT
    minute = np.r_[np.arange(5, 9), np.arange(20, 24)] if seen_min is None else seen_min
    t = T0 + minute * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    b = leg(2, t, north_of(LAT, offset_m), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    return late([a, b])


def test_a_pass_seen_late_by_satellite_is_found_when_the_data_arrives() -> None:
    [alert] = standing(satellite_pass(500.0))
    assert alert.status == AlertStatus.CLOSED
    assert alert.evidence["late"] is True
    assert alert.evidence["min_distance_m"] == pytest.approx(500.0, rel=0.02)
    assert alert.start <= T0 + MEET_S <= alert.end
    assert alert.tracks == ("ais:1", "ais:2")


def test_a_late_pass_beyond_half_a_mile_is_not() -> None:
    assert standing(satellite_pass(1_200.0)) == []


def test_a_late_overtaking_is_sought_up_to_half_an_hour_from_the_fixes() -> None:
    # 12 kn overtakes 8 kn 300 m abeam; 2.5 km behind at the fixes (minutes 0-2), it
    # draws level about 22 min after them: beyond a 10-minute look-ahead.
    t = T0 + np.arange(0, 3) * MINUTE
    fast = leg(1, t, LAT, LON, 12 * KNOT, 0.0)
    slow = leg(2, t, north_of(LAT, 300.0), east_of(LAT, LON, 2_500.0), 8 * KNOT, 0.0)
    detector, memory = CloseApproachDetector(settings()), Memory()
    other = leg(3, T0 + np.arange(0, 60) * MINUTE, north_of(LAT, 50_000.0), LON, 5.0, 0.0)
    drafts = push(detector, memory, other, T0 + HOUR)
    drafts += push(detector, memory, concat([fast, slow]), T0 + HOUR + 10 * MINUTE)
    [alert] = standing(drafts + detector.finish(T0 + 2 * HOUR, memory))
    level = T0 + 2 * MINUTE + 2_500.0 / (4 * KNOT) - 2 * MINUTE
    assert alert.start <= level <= alert.end


@pytest.mark.parametrize(("stops", "expected"), [(True, 0), (False, 1)])
def test_a_late_fix_is_held_only_until_the_next_report(stops: bool, expected: int) -> None:
    # The two of ``head_on`` at minutes 5-8, 500 m abeam at minute 15 on their courses;
    # B is heard stopped at minute 9, 2 km short of where they would meet.
    v = SPEED_KN * KNOT
    t = T0 + np.arange(5, 9) * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    b = leg(2, t, north_of(LAT, 500.0), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    stop = track(2, [T0 + 9 * MINUTE], b.lat[-1], b.lon[-1], sog=0.0, label_no=2, seq_from=9)
    points = [a, b, stop] if stops else [a, b]
    satellite = [
        replace(p, source=np.full(len(p), SourceCode.AIS_SATELLITE, np.uint8)) for p in points
    ]
    assert len(standing(late(satellite))) == expected


@pytest.mark.parametrize(("first_kn", "expected"), [(0.0, 0), (SPEED_KN, 1)])
def test_a_late_fix_after_a_report_of_it_stopped_is_held_back_10_minutes(
    first_kn: float, expected: int
) -> None:
    """The two of ``head_on`` seen at minutes 27-30, 500 m abeam at minute 15 on their
    courses; B was heard at minute 0. Heard stopped, when it got under way is unknown:
    its course is held back 10 minutes (to minute 17, 1.3 km apart), not half-way."""
    v = SPEED_KN * KNOT
    t = T0 + np.arange(27, 31) * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    b = leg(2, t, north_of(LAT, 500.0), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    first = track(2, [T0], b.lat[0], b.lon[0], sog=first_kn, cog=270.0, label_no=2)
    satellite = [
        replace(p, source=np.full(len(p), SourceCode.AIS_SATELLITE, np.uint8))
        for p in (first, a, b)
    ]
    assert len(standing(late(satellite))) == expected


def test_a_late_fix_waits_for_satellite_data_from_before_it() -> None:
    """As above with B stopped at minute 0, but that report arrives 10 minutes after the
    fixes (satellite passes come in out of order): the fixes are compared later."""
    v = SPEED_KN * KNOT
    t = T0 + np.arange(27, 31) * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    b = leg(2, t, north_of(LAT, 500.0), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    stop = track(2, [T0], b.lat[0], b.lon[0], sog=0.0, cog=270.0, label_no=2)
    fixes, stopped = (
        replace(p, source=np.full(len(p), SourceCode.AIS_SATELLITE, np.uint8))
        for p in (concat([a, b]), stop)
    )
    detector, memory = CloseApproachDetector(settings()), Memory()
    other = leg(3, T0 + np.arange(0, 60) * MINUTE, north_of(LAT, 50_000.0), LON, 5.0, 0.0)
    drafts = push(detector, memory, other, T0 + HOUR)
    drafts += push(detector, memory, fixes, T0 + HOUR + 10 * MINUTE)
    drafts += push(detector, memory, stopped, T0 + HOUR + 20 * MINUTE)
    assert standing(drafts + detector.finish(T0 + 3 * HOUR, memory)) == []


@pytest.mark.parametrize(("b_kn", "expected"), [(10.2, 1), (14.0, 2)])
def test_two_in_company_heard_at_passes_100_minutes_apart_are_one_pass(
    b_kn: float, expected: int
) -> None:
    """A at 10 kn and B 500 m abeam of it, both eastbound, heard by satellite at minutes
    0-3 and 100-103, each pass delivered an hour late. At 10.2 kn B draws 600 m ahead in
    those 100 minutes: they need never have parted, one pass. At 14 kn B was 12 km ahead
    before it came back beside A: two passes."""
    detector, memory = CloseApproachDetector(settings()), Memory()
    other = leg(3, T0 + np.arange(0, 200) * MINUTE, north_of(LAT, 50_000.0), LON, 5.0, 0.0)
    drafts = []
    for first_min, watermark in ((0, T0 + HOUR), (100, T0 + 160 * MINUTE)):
        t = T0 + np.arange(first_min, first_min + 4) * MINUTE
        a = leg(1, t, LAT, LON, SPEED_KN * KNOT, 0.0)
        behind_m = (b_kn - SPEED_KN) * KNOT * first_min * MINUTE  # abeam at first_min
        b = leg(2, t, north_of(LAT, 500.0), east_of(LAT, LON, -behind_m), b_kn * KNOT, 0.0)
        satellite = [
            replace(p, source=np.full(len(p), SourceCode.AIS_SATELLITE, np.uint8)) for p in (a, b)
        ]
        before = other.take(other.t <= watermark - 10 * MINUTE)
        drafts += push(detector, memory, before.take(before.t > watermark - HOUR), watermark)
        drafts += push(detector, memory, concat(satellite), watermark + MINUTE)
    drafts += detector.finish(T0 + 4 * HOUR, memory)
    assert len(standing(drafts)) == expected


def test_two_late_passes_of_a_pair_seen_apart_between_them_are_both_found() -> None:
    """B eastbound at 10 kn; A eastbound at 14 kn 500 m north overtook it at minute 25.
    Both are heard only from minute 40 (A 1.9 km ahead), A turning south-west at minute
    42 to cross 500 m from B at minute 45. Held back, the fixes of minute 40 put the
    overtaking at minute 25; those of minutes 40-42 see them 2 km apart: two passes."""
    fast, slow = 14 * KNOT, SPEED_KN * KNOT
    before = T0 + np.arange(40, 43) * MINUTE
    after = T0 + np.arange(43, 49) * MINUTE
    b = leg(2, np.r_[before, after], LAT, LON, slow, 0.0)
    start = east_of(LAT, LON, (slow - fast) * 25 * MINUTE)
    a1 = leg(1, before, north_of(LAT, 500.0), start, fast, 0.0)
    turn_lat, turn_lon = north_of(LAT, 500.0), east_of(LAT, start, fast * 42 * MINUTE)
    south_west = fast / np.sqrt(2.0)
    a2 = leg(1, after - 42 * MINUTE, turn_lat, turn_lon, -south_west, -south_west)
    a2 = replace(a2, t=after, seq=a2.seq + 100)
    found = sorted(standing(late([a1, a2, b])), key=lambda d: d.start)
    assert len(found) == 2
    assert found[0].start <= T0 + 25 * MINUTE <= found[0].end
    assert T0 + 43 * MINUTE <= found[1].start <= T0 + 47 * MINUTE


@pytest.mark.parametrize(("a_held", "expected"), [(True, 1), (False, 0)])
def test_a_pass_after_a_turn_between_satellite_passes_is_found(a_held: bool, expected: int) -> None:
    """A and B eastbound at 10 kn, B 1.5 km north of A, heard at minutes 0-2 and 60-62.
    B turned south-east at minute 4 (where its fixes of minute 60 say it went): it passed
    570 m from A at minute 10. A held its course (its fixes of minute 60 lie where it
    leads), so the leg after B's turn is compared with it; A heard 3 km off its course
    at minute 60 turned too, and two reconstructed paths are not compared."""
    v = SPEED_KN * KNOT
    first, then = T0 + np.arange(0, 3) * MINUTE, T0 + np.arange(60, 63) * MINUTE
    a = leg(1, np.r_[first, then], LAT, LON, v, 0.0)
    if not a_held:
        a = replace(a, lat=np.r_[a.lat[:3], [north_of(lat, 3_000.0) for lat in a.lat[3:]]])
    b1 = leg(2, first, north_of(LAT, 1_500.0), LON, v, 0.0)
    turn_lat, turn_lon = north_of(LAT, 1_500.0), east_of(LAT, LON, v * 4 * MINUTE)
    b2 = leg(2, then - 4 * MINUTE, turn_lat, turn_lon, v / np.sqrt(2.0), -v / np.sqrt(2.0))
    b2 = replace(b2, t=then, seq=b2.seq + 100)
    found = standing(late([a, b1, b2]))
    assert len(found) == expected
    if found:
        assert found[0].evidence["min_distance_m"] == pytest.approx(574.0, rel=0.05)
        assert found[0].start <= T0 + 10 * MINUTE <= found[0].end


@pytest.mark.parametrize(("heard_after", "expected"), [(True, 1), (False, 0)])
def test_a_pass_between_satellite_passes_12_km_apart_is_found(
    heard_after: bool, expected: int
) -> None:
    """Head on at 10 kn, 500 m abeam at minute 18, heard at minutes 0-2 (9.9 km apart at
    minute 2) and 40-42 (13.6 km apart at minute 40): the pass lies between the passes.
    Heard only before it, that far apart, holding course is not enough."""
    v = SPEED_KN * KNOT
    meet_s = 18 * MINUTE
    minute = np.r_[np.arange(0, 3), np.arange(40, 43)] if heard_after else np.arange(0, 3)
    t = T0 + minute * MINUTE
    assert_late_head_on(t, v, meet_s, expected)


@pytest.mark.parametrize(("meet_min", "expected"), [(7.0, 1), (4.5, 0)])
def test_a_pass_before_two_vessels_were_first_heard_far_apart_is_found_near_them(
    meet_min: float, expected: int
) -> None:
    """Head on at 14 kn, 500 m abeam at ``meet_min``, first heard at minutes 20-22 (over
    8.6 km apart): nothing was heard of either before. Their courses are held back 15
    minutes from the fixes (to minute 5), not half an hour: a pass 13 minutes before is
    found. At minute 5 the pair abeam at minute 4.5 are 660 m apart, but still closing:
    the pass lies beyond what is held, not called."""
    v = 14.0 * KNOT
    meet_s = meet_min * MINUTE
    t = T0 + np.arange(20, 23) * MINUTE
    assert_late_head_on(t, v, meet_s, expected)


def test_a_pass_is_sought_again_once_the_next_satellite_pass_is_in() -> None:
    """Head on at 10 kn, 500 m abeam at minute 18, heard at minutes 0-2 (9.9 km apart at
    minute 2), delivered at minute 30, and again at minutes 150-152, delivered only at
    minute 170: when the first pass is compared (90 minutes after it) nothing says how
    long the two held course. Its last fixes are compared again ``late_retry_s`` after
    their time, between the passes."""
    v = SPEED_KN * KNOT
    meet_s = 18 * MINUTE
    passes = []
    for minute in (np.arange(0, 3), np.arange(150, 153)):
        t = T0 + minute * MINUTE
        a, b = head_on_legs(t, v, meet_s)
        passes.append(concat([a, b]))
    passes[1] = replace(passes[1], seq=passes[1].seq + 500)
    arrive = {T0 + 30 * MINUTE: passes[0], T0 + 170 * MINUTE: passes[1]}
    detector, memory = CloseApproachDetector(settings()), Memory()
    other = leg(3, T0 + np.arange(0, 240) * MINUTE, north_of(LAT, 50_000.0), LON, 5.0, 0.0)
    drafts: list[AlertDraft] = []
    for edge in T0 + np.arange(0, 220, 10) * MINUTE:
        chunk = other.take((other.t >= edge) & (other.t < edge + 10 * MINUTE))
        if edge in arrive:
            chunk = concat([chunk, arrive[edge]])
        drafts += push(detector, memory, chunk, edge + 10 * MINUTE)
    found = standing(drafts)
    assert len(found) == 1
    assert found[0].evidence["late"] is True
    assert found[0].start <= T0 + meet_s <= found[0].end


@pytest.mark.parametrize(
    ("source", "expected"), [(SourceCode.AIS_SATELLITE, 1), (SourceCode.AIS_TERRESTRIAL, 0)]
)
def test_a_pass_between_satellite_fixes_that_came_in_time_is_found_after_it(
    source: int, expected: int
) -> None:
    """Seen at minutes 5-8 and 20-23 only, in time: the prediction at minute 8 is never
    confirmed minute by minute; satellite fixes are looked at again after the pass."""
    v = SPEED_KN * KNOT
    t = T0 + np.r_[np.arange(5, 9), np.arange(20, 24)] * MINUTE
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    b = leg(2, t, north_of(LAT, 500.0), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    a, b = (replace(p, source=np.full(len(p), source, np.uint8)) for p in (a, b))
    found = standing(feed(CloseApproachDetector(settings()), [a, b]))
    assert len(found) == expected
    if found:
        assert found[0].evidence["late"] is True
        assert found[0].start <= T0 + MEET_S <= found[0].end


def radar(points: TrackPoints) -> TrackPoints:
    """``points`` as a dark track's radar contacts: no MMSI, speed or course."""
    n = len(points)
    return replace(
        points,
        source=np.full(n, SourceCode.RADAR, np.uint8),
        sog=np.full(n, np.nan),
        cog=np.full(n, np.nan),
        mmsi=np.full(n, -1, np.int64),
    )


def test_a_dark_vessel_crossing_close_is_a_close_approach() -> None:
    # A eastbound with AIS; a dark vessel northbound on radar (a contact every 20 s)
    # crosses 300 m ahead of it at T0 + 15 min.
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 30 * MINUTE, MINUTE)
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    contacts = T0 + np.arange(0, 30 * MINUTE, 20.0)
    dark = radar(leg(9, contacts, north_of(LAT, -v * MEET_S), east_of(LAT, LON, 300.0), 0.0, v))
    [alert] = standing(feed(CloseApproachDetector(settings()), [a, dark]))
    assert set(alert.tracks) == {"ais:1", "ais:9"}  # the test memory names tracks ais:N


def test_a_dark_track_moving_with_an_ais_track_is_its_echo_not_a_close_approach() -> None:
    # The ship's own radar echo, 150 m off its AIS position, not (yet) associated to it.
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 30 * MINUTE, MINUTE)
    a = leg(1, t, LAT, LON, v, 0.0)
    contacts = T0 + np.arange(0, 30 * MINUTE, 20.0)
    echo = radar(leg(9, contacts, north_of(LAT, 150.0), LON, v, 0.0))
    assert standing(feed(CloseApproachDetector(settings()), [a, echo])) == []


def test_a_dark_boat_overtaking_600_m_off_is_a_close_approach_not_an_echo() -> None:
    # A eastbound at 10 kn; a dark boat 600 m north of it at 13.5 kn, 1.6 km behind at
    # the start: within 926 m of A for 13 minutes, 3.5 kn apart, never within 250 m of
    # it (an echo would be).
    t = T0 + np.arange(0, 30 * MINUTE, MINUTE)
    a = leg(1, t, LAT, LON, SPEED_KN * KNOT, 0.0)
    contacts = T0 + np.arange(0, 30 * MINUTE, 20.0)
    boat = leg(9, contacts, north_of(LAT, 600.0), east_of(LAT, LON, -1_600.0), 13.5 * KNOT, 0.0)
    [alert] = standing(feed(CloseApproachDetector(settings()), [a, radar(boat)]))
    assert set(alert.tracks) == {"ais:1", "ais:9"}
    assert alert.evidence["min_distance_m"] == pytest.approx(600.0, abs=30.0)


@pytest.mark.parametrize(("stops", "expected"), [(True, 0), (False, 1)])
def test_a_dark_boat_that_stopped_is_not_under_way(stops: bool, expected: int) -> None:
    # A eastbound at 10 kn; a dark boat heading south at 8 kn ahead of it stops at
    # minute 10, 600 m north of A's track where A passes at minute 15 (within 926 m from
    # minute 12.7). Over 2-10 minutes its contacts still show 5-7 kn; those of the last 2
    # minutes show it stopped. Not stopping, it crosses A's track 800 m ahead of A.
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 30 * MINUTE, MINUTE)
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    contacts = T0 + np.arange(0, 30 * MINUTE, 20.0)
    south = 8 * KNOT
    moving = contacts - T0 if not stops else np.minimum(contacts - T0, 10 * MINUTE)
    lat = np.array([north_of(LAT, 600.0 + south * (10 * MINUTE - s)) for s in moving])
    boat = track(9, contacts, lat, np.full(len(contacts), LON), label_no=9)
    found = standing(feed(CloseApproachDetector(settings()), [a, radar(boat)]))
    assert len(found) == expected


def test_a_pair_drifting_in_and_out_of_926_m_is_one_pass() -> None:
    # Side by side eastbound; B 1,500 m north of A, then 800 m for 4 min, 1,500 m for
    # 6 min, 800 m for 4 min, then 1,500 m: close twice 10 minutes apart, one pass.
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 30 * MINUTE, MINUTE)
    a = leg(1, t, LAT, LON, v, 0.0)
    offset = np.r_[np.full(5, 1_500.0), np.full(4, 800.0), np.full(6, 1_500.0)]
    offset = np.r_[offset, np.full(4, 800.0), np.full(11, 1_500.0)]
    b = leg(2, t, LAT, LON, v, 0.0)
    b = replace(b, lat=np.array([north_of(lat, d) for lat, d in zip(b.lat, offset, strict=True)]))
    assert len(standing(feed(CloseApproachDetector(settings()), [a, b]))) == 1


def test_passes_are_forgotten_once_no_late_fix_can_reach_them() -> None:
    # Memory is bounded by active vessels: a pass 6 hours behind the watermark is gone.
    detector = CloseApproachDetector(settings())
    v = SPEED_KN * KNOT
    t = T0 + np.arange(0, 40 * MINUTE, MINUTE)
    a = leg(1, t, LAT, east_of(LAT, LON, -v * MEET_S), v, 0.0)
    b = leg(2, t, north_of(LAT, 500.0), east_of(LAT, LON, v * MEET_S), -v, 0.0)
    assert standing(feed(detector, [a, b], finish=False)) != []
    assert detector._last_pass
    detector.update(FusedChunk(watermark=T0 + 6 * HOUR, points=TrackPoints.empty()), Memory())
    assert not detector._last_pass


def test_passes_weeks_apart_are_each_found_across_the_empty_minutes_between() -> None:
    # The minute-by-minute comparison skips minutes with nothing open and no point in
    # their window: the second pass, 30 days on, is still found at its own time.
    v = SPEED_KN * KNOT
    later = 30 * 24 * HOUR
    legs = []
    for shift, first in ((0.0, 1), (later, 3)):
        t = T0 + shift + np.arange(0, 40 * MINUTE, MINUTE)
        east, west = east_of(LAT, LON, -v * MEET_S), east_of(LAT, LON, v * MEET_S)
        a = leg(first, t - shift, LAT, east, v, 0.0)
        b = leg(first + 1, t - shift, north_of(LAT, 400.0), west, -v, 0.0)
        legs += [replace(a, t=t), replace(b, t=t)]
    # One chunk holds both: every minute between them is in one comparison.
    detector, memory, points = CloseApproachDetector(settings()), Memory(), concat(legs)
    drafts = push(detector, memory, points, float(points.t.max()))
    drafts += detector.finish(float(points.t.max()), memory)
    found = sorted(standing(drafts), key=lambda draft: draft.start)
    assert [draft.tracks for draft in found] == [("ais:1", "ais:2"), ("ais:3", "ais:4")]
    for draft, meet in zip(found, (T0 + MEET_S, T0 + later + MEET_S), strict=True):
        assert draft.start <= meet <= draft.end
        assert not draft.evidence.get("late")  # seen minute by minute, not as late fixes
    # Each pass was predicted before it happened, as the minute-by-minute comparison does.
    assert sum(bool(draft.evidence.get("predicted")) for draft in drafts) == 2
