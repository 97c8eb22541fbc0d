"""ais-gap: silences between good fixes; possible at 6 h, gap at 12 h; late data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mista.detect._common import concat
from mista.detect.base import AlertDraft
from mista.detect.gap import GapDetector
from mista.detect.statics import StaticLog
from mista.fuse.chunk import PointFlag, SourceCode, TrackPoints
from mista.geo import Ports
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    SEA,
    T0,
    Memory,
    feed,
    final,
    push,
    standing,
    static_rows,
    track,
)
from tests.detect.builders import (
    settings as detect_settings,
)

LAT, LON = SEA


def all_round(first: int, t: np.ndarray, lat: float = LAT, lon: float = LON) -> TrackPoints:
    """Four vessels 15 km north, east, south and west of a position (tracks ``first`` on),
    heard by a shore receiver at times ``t``: it hears all round there."""
    offsets = ((0.135, 0.0), (0.0, 0.135), (-0.135, 0.0), (0.0, -0.135))
    return concat(
        [track(first + k, t, lat + north, lon + east) for k, (north, east) in enumerate(offsets)]
    )


def witness(hours: float) -> TrackPoints:
    """Other vessels all round it (15 km off), heard every 10 min by a shore receiver:
    reception was there."""
    return all_round(96, T0 + np.arange(0, hours * HOUR, 10 * MINUTE))


def by_satellite(points: TrackPoints) -> TrackPoints:
    return dataclasses.replace(
        points, source=np.full(len(points), SourceCode.AIS_SATELLITE, np.uint8)
    )


def gaps(silence_h: float) -> list[AlertDraft]:
    """One track heard for an hour, silent ``silence_h`` hours, heard for an hour."""
    before = np.arange(0, HOUR + 1, MINUTE)
    after = before[-1] + silence_h * HOUR + np.arange(0, HOUR + 1, MINUTE)
    t = T0 + np.r_[before, after]
    return feed(GapDetector(detect_settings()), [track(1, t, LAT, LON), witness(silence_h + 3)])


def test_a_silence_of_just_over_12_hours_is_a_closed_gap() -> None:
    drafts = gaps(12.01)
    [alert] = standing(drafts)
    assert alert.status == AlertStatus.CLOSED
    assert alert.evidence["level"] == "gap"
    assert alert.start == T0 + HOUR
    assert alert.end - alert.start == 12.01 * HOUR
    assert alert.tracks == ("ais:1",)
    assert alert.mmsis == (419_000_001,)
    assert alert.label_nos == frozenset({1})
    assert len(alert.evidence["report_seqs"]) == 2


def test_the_gap_was_open_while_it_lasted_and_kept_its_key() -> None:
    drafts = gaps(13)
    assert [d.status for d in drafts] == [AlertStatus.OPEN] * 2 + [AlertStatus.CLOSED]
    assert [d.evidence["level"] for d in drafts] == ["possible", "gap", "gap"]
    assert len({d.key for d in drafts}) == 1


def test_a_silence_just_under_12_hours_is_withdrawn() -> None:
    drafts = gaps(11.99)
    assert standing(drafts) == []
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.WITHDRAWN]


def test_a_silence_just_under_6_hours_raises_nothing() -> None:
    assert gaps(5.9) == []


def test_flagged_points_do_not_break_a_silence() -> None:
    t = T0 + np.r_[0.0, 6 * HOUR, 13 * HOUR]
    flags = [0, int(PointFlag.OUTLIER), 0]
    points = [track(1, t, LAT, LON, flags=flags), witness(14)]
    drafts = feed(GapDetector(detect_settings()), points)
    [alert] = standing(drafts)
    assert alert.end - alert.start == 13 * HOUR


def test_a_track_still_silent_at_the_end_is_closed_there() -> None:
    t = T0 + np.arange(0, HOUR + 1, MINUTE)
    memory = Memory()
    detector = GapDetector(detect_settings())
    drafts = push(detector, memory, track(1, t, LAT, LON), T0 + HOUR)
    drafts += push(detector, memory, witness(14).take(witness(14).t > T0 + HOUR), T0 + 14 * HOUR)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]
    assert drafts[0].end == T0 + 14 * HOUR
    assert drafts[0].evidence["level"] == "gap"
    drafts += detector.finish(T0 + 15 * HOUR, memory)
    assert final(drafts)[drafts[0].key].status == AlertStatus.CLOSED


def test_a_late_fix_inside_a_gap_splits_it_and_withdraws_it() -> None:
    memory = Memory()
    detector = GapDetector(detect_settings())
    first = concat([track(1, T0 + np.r_[0.0, HOUR], LAT, LON), witness(22)])
    drafts = push(detector, memory, first, T0 + HOUR)
    later = track(1, [T0 + 21 * HOUR], LAT, LON, seq_from=50)
    drafts += push(detector, memory, later, T0 + 21 * HOUR)
    [gap] = standing(drafts)
    assert gap.status == AlertStatus.CLOSED
    assert gap.evidence["level"] == "gap"
    late = track(1, [T0 + 11 * HOUR], LAT, LON, seq_from=99)
    revision = push(detector, memory, late, T0 + 22 * HOUR, revised={1: T0 + 11 * HOUR})
    assert [(d.key, d.status) for d in revision] == [(gap.key, AlertStatus.WITHDRAWN)]


def test_a_late_fix_that_ends_a_silence_no_alert_stood_for_is_a_gap() -> None:
    # Satellite data arrives late: the passes that heard others near the silent vessel,
    # and its own next fix, come together after the silence; it is judged whole then.
    memory = Memory()
    detector = GapDetector(detect_settings())
    drafts = push(detector, memory, track(1, T0 + np.r_[0.0, HOUR], LAT, LON), T0 + HOUR)
    for hours in (8, 14):
        drafts += push(detector, memory, TrackPoints.empty(), T0 + hours * HOUR)
    assert standing(drafts) == []  # no reception known while it was silent
    late = concat([track(1, [T0 + 15 * HOUR], 10.5, LON, seq_from=9), passes(16, 2)])
    drafts += push(detector, memory, late, T0 + 16 * HOUR, revised={1: T0 + 15 * HOUR})
    [gap] = standing(drafts)
    assert (gap.start, gap.end, gap.status) == (T0 + HOUR, T0 + 15 * HOUR, AlertStatus.CLOSED)
    assert gap.evidence["level"] == "gap"


def test_a_late_fix_that_leaves_a_long_part_revises_the_alert_under_its_key() -> None:
    memory = Memory()
    detector = GapDetector(detect_settings())
    first = concat([track(1, T0 + np.r_[0.0, HOUR], LAT, LON), witness(31)])
    drafts = push(detector, memory, first, T0 + HOUR)
    drafts += push(
        detector, memory, track(1, [T0 + 30 * HOUR], LAT, LON, seq_from=7), T0 + 30 * HOUR
    )
    [gap] = standing(drafts)
    late = track(1, [T0 + 15 * HOUR], LAT, LON, seq_from=99)
    revision = push(detector, memory, late, T0 + 31 * HOUR, revised={1: T0 + 15 * HOUR})
    after = standing(drafts + revision)
    assert {d.key for d in after} == {gap.key, ("ais-gap", "ais:1", T0 + 15 * HOUR)}
    assert final(revision)[gap.key].end == T0 + 15 * HOUR
    assert final(revision)[gap.key].status == AlertStatus.CLOSED


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(min_value=60, max_value=20 * HOUR), min_size=1, max_size=12),
    st.sampled_from([1800.0, 3600.0, 7200.0]),
)
@example([43200.0005], 1800.0)  # epoch seconds make it 43200.00049996: rounds the other way
def test_a_gap_alert_exists_iff_an_interval_reaches_12_hours(
    intervals: list[float], chunk_s: float
) -> None:
    t = T0 + np.cumsum([0.0, *intervals])
    points = [track(1, t, LAT, LON), witness((t[-1] - T0) / HOUR + 1)]
    drafts = feed(GapDetector(detect_settings()), points, chunk_s=chunk_s)
    # The intervals as the detector sees them: differences of epoch seconds, whose
    # rounding can put one a hair either side of the given value (or of 12 h).
    seen = np.diff(t)
    found = sorted(d.end - d.start for d in standing(drafts))
    assert found == pytest.approx(sorted(float(i) for i in seen if i >= 12 * HOUR), abs=1e-3)
    assert all(d.evidence["level"] == "gap" for d in standing(drafts))


def test_a_silence_where_nobody_else_was_heard_is_no_gap() -> None:
    before = T0 + np.arange(0, HOUR + 1, MINUTE)
    after = T0 + 15 * HOUR + np.arange(0, HOUR + 1, MINUTE)
    t = np.r_[before, after]
    witness = all_round(3, T0 + np.arange(0, 16 * HOUR, 10 * MINUTE))
    heard = [track(1, t, LAT, LON), track(2, t + 30, LAT + 10.0, LON), witness]
    drafts = feed(GapDetector(detect_settings()), heard, chunk_s=1800.0)
    assert [d.tracks for d in standing(drafts)] == [("ais:1",)]  # track 2: nobody near it


def passes(hours: float, every_h: float) -> TrackPoints:
    """Another vessel 75 km off heard for 10 minutes by a satellite pass every ``every_h``."""
    starts = np.arange(HOUR, hours * HOUR, every_h * HOUR)
    t = (starts[:, None] + np.arange(0, 10 * MINUTE, MINUTE)[None, :]).ravel()
    return by_satellite(track(99, T0 + t, LAT + 0.5, LON + 0.5))


def silent_for_13_hours(every_s: float, witness_points: TrackPoints) -> list[AlertDraft]:
    """A track heard every ``every_s`` for an hour, then silent 13 h, then heard again."""
    before = np.arange(0, HOUR + 1, every_s)
    after = before[-1] + 13 * HOUR + np.arange(0, HOUR + 1, every_s)
    t = T0 + np.r_[before, after]
    drafts = feed(GapDetector(detect_settings()), [track(1, t, LAT, LON), witness_points])
    return [d for d in drafts if d.tracks == ("ais:1",)]


def test_one_pass_that_heard_others_does_not_make_a_gap() -> None:
    # Reception was shown for one pass only (9 minutes between the first and last fix
    # heard, plus the minute each stands for): a frequent reporter misses its 10 reports
    # in it by chance (0.7 ** 10 = 3 %) more often than the 1 % a gap allows.
    assert standing(silent_for_13_hours(MINUTE, passes(6, 10))) == []
    assert len(standing(silent_for_13_hours(MINUTE, passes(16, 2)))) == 1


def test_a_sparse_reporter_needs_more_passes_than_a_frequent_one() -> None:
    # Every 5 min: six passes of 10 minutes hear 12 of its reports; all missed: 1.4 %,
    # not a gap.
    sparse = silent_for_13_hours(5 * MINUTE, passes(16, 2))
    frequent = silent_for_13_hours(MINUTE, passes(16, 2))
    assert standing(sparse) == []
    assert [d.evidence["level"] for d in standing(frequent)] == ["gap"]
    # Heard near it every 10 minutes (a shore receiver): a gap for the sparse one too.
    assert len(standing(silent_for_13_hours(5 * MINUTE, witness(16)))) == 1


def test_positions_on_land_or_too_fast_end_a_silence() -> None:
    for flag in (PointFlag.ON_LAND, PointFlag.IMPLAUSIBLE_SPEED):
        t = T0 + np.r_[0.0, 7 * HOUR, 14 * HOUR]
        points = [track(1, t, LAT, LON, flags=[0, int(flag), 0]), witness(15)]
        assert standing(feed(GapDetector(detect_settings()), points)) == []


def test_a_silence_that_starts_or_ends_near_a_port_is_no_gap() -> None:
    before = T0 + np.arange(0, HOUR + 1, MINUTE)
    after = T0 + 14 * HOUR + np.arange(0, HOUR + 1, MINUTE)
    t = np.r_[before, after]
    lats = np.r_[np.full(before.shape[0], LAT), np.full(after.shape[0], LAT + 0.6)]
    heard = [track(1, t, lats, LON), witness(16)]
    found = {}
    for name, port_lat in (("none", LAT + 5.0), ("start", LAT), ("end", LAT + 0.6)):
        ports = Ports([name], [LON + 0.1], [port_lat])  # 11 km east of one end
        drafts = feed(GapDetector({**detect_settings(), "ports": ports}), heard)
        found[name] = [d.evidence["level"] for d in standing(drafts) if d.tracks == ("ais:1",)]
    assert found == {"none": ["gap"], "start": [], "end": []}


def test_a_silence_while_the_mmsi_is_heard_on_another_track_is_no_gap() -> None:
    # The fuser split the vessel: its MMSI goes on in track 2 while track 1 is silent.
    before = T0 + np.arange(0, HOUR + 1, MINUTE)
    after = T0 + 14 * HOUR + np.arange(0, HOUR + 1, MINUTE)
    split = track(2, T0 + np.arange(2 * HOUR, 13 * HOUR, 10 * MINUTE), LAT + 2.0, LON + 2.0)
    heard = [track(1, np.r_[before, after], LAT, LON), witness(16)]
    alone = feed(GapDetector(detect_settings()), heard)
    assert [d.tracks for d in standing(alone)] == [("ais:1",)]
    split_mmsi = dataclasses.replace(split, mmsi=np.full(len(split), 419_000_001))
    drafts = feed(GapDetector(detect_settings()), [*heard, split_mmsi])
    assert [d for d in standing(drafts) if d.tracks == ("ais:1",)] == []


def test_a_vessel_that_stopped_in_the_silence_needs_more_passes() -> None:
    # Passes at 5, 9 and 13 h, 10 minutes each. Under way (1 degree on in 13 h, 4.6 kn)
    # a frequent reporter misses all 30 reports with 0.0 % chance; stopped (same place;
    # ITU: every 3 min at anchor), its 10 reports with 0.7 ** 10 = 2.8 %: no gap.
    before = T0 + np.arange(0, HOUR + 1, MINUTE)
    after = before[-1] + 13 * HOUR + np.arange(0, HOUR + 1, MINUTE)
    found = {}
    for name, moved_deg in (("moved", 1.0), ("stopped", 0.0)):
        lons = np.r_[np.full(before.shape[0], LON), np.full(after.shape[0], LON + moved_deg)]
        heard = [track(1, np.r_[before, after], LAT, lons), passes(16, 4)]
        drafts = feed(GapDetector(detect_settings()), heard)
        found[name] = [d.evidence["level"] for d in standing(drafts) if d.tracks == ("ais:1",)]
    assert found == {"moved": ["gap"], "stopped": []}


def test_a_shore_receiver_far_off_is_no_evidence_but_a_satellite_pass_is() -> None:
    # A shore receiver hears 40-60 nm around itself: a vessel it heard 75 km off says
    # nothing of whether it would have heard this one. A satellite footprint is some
    # 2,500 km wide: anyone it heard 75 km off puts this vessel under the pass too.
    far_off = passes(16, 2)
    assert all(far_off.source == SourceCode.AIS_SATELLITE)
    shore = dataclasses.replace(far_off, source=np.zeros(len(far_off), np.uint8))
    assert standing(silent_for_13_hours(MINUTE, shore)) == []
    assert len(standing(silent_for_13_hours(MINUTE, far_off))) == 1


def test_a_shore_receiver_that_heard_others_only_on_one_side_is_no_evidence() -> None:
    # A shore receiver hears all round itself out to its range: a vessel beyond it has
    # all the receiver heard on one side (here vessels 15 km north of it, heard every 10
    # minutes, within the cells that count as near). Only where positions were heard all
    # round it was the vessel under the receiver's ear.
    t = T0 + np.arange(0, 16 * HOUR, 10 * MINUTE)
    north = concat(
        [track(96 + k, t, LAT + 0.135, LON + east) for k, east in enumerate((-0.2, 0.0, 0.2))]
    )
    assert standing(silent_for_13_hours(MINUTE, north)) == []
    assert len(standing(silent_for_13_hours(MINUTE, all_round(96, t)))) == 1


def test_a_vessel_that_went_on_under_another_mmsi_of_its_imo_has_no_gap() -> None:
    # Track 1 falls silent for good; track 2 starts 5 h later 100 km on, and its static
    # data states the IMO number track 1's did: the vessel changed MMSI.
    imo = 9_074_729
    first = track(1, T0 + np.arange(0, HOUR + 1, MINUTE), LAT, LON, sog=10.0)
    second = track(2, T0 + 6 * HOUR + np.arange(0, 14 * HOUR, 10 * MINUTE), LAT, LON + 0.9)
    found = {}
    for name, second_imo in (("other vessel", 0), ("same IMO", imo)):
        config = detect_settings()
        log = config["statics"]
        assert isinstance(log, StaticLog)
        log.add(static_rows([(T0, 419_000_001, None, None, imo)]))
        log.add(static_rows([(T0 + 7 * HOUR, 419_000_002, None, None, second_imo)]))
        drafts = feed(GapDetector(config), [first, second, witness(20)])
        found[name] = [d.evidence["level"] for d in standing(drafts) if d.tracks == ("ais:1",)]
    assert found == {"other vessel": ["gap"], "same IMO": []}


def test_a_pass_that_only_brushed_the_area_shows_little_reception() -> None:
    # Eight passes heard a neighbour for 9 minutes each: a gap. Eight passes whose
    # footprint edge brushed the area (one report heard each) show a minute each (six
    # inside the silence: 0.7 ** 6 = 12 %): the vessel may well have been outside them.
    brushed = passes(16, 2)
    first_of_each = np.r_[True, np.diff(brushed.t) > 10 * MINUTE]
    assert first_of_each.sum() == 8
    assert len(standing(silent_for_13_hours(MINUTE, brushed))) == 1
    assert standing(silent_for_13_hours(MINUTE, brushed.take(first_of_each))) == []


def test_a_vessels_rate_is_measured_from_shore_receivers_not_satellite_passes() -> None:
    # Fixes 150 s apart: from a shore receiver (which hears nearly every report) the
    # vessel reports that rarely; from a satellite (which hears a fraction of them) it is
    # taken to report as often as the network forwards, under way (ITU-R M.1371). Two
    # 10-minute passes in the silence: 20 reports of a 1-minute reporter, all missed
    # (0.1 %), a gap; 8 of a 150 s one (5.8 %: too likely even for a vessel that went on
    # at its speed), none.
    before = np.arange(0, HOUR + 1, 150.0)
    after = before[-1] + 13 * HOUR + np.arange(0, HOUR + 1, 150.0)
    lons = np.r_[np.full(before.shape[0], LON), np.full(after.shape[0], LON + 1.0)]
    heard = track(1, T0 + np.r_[before, after], LAT, lons, sog=4.0)
    found = {}
    for name, vessel in (("shore", heard), ("satellite", by_satellite(heard))):
        drafts = feed(GapDetector(detect_settings()), [vessel, passes(16, 6)])
        found[name] = [d.evidence["level"] for d in standing(drafts) if d.tracks == ("ais:1",)]
    assert found == {"shore": [], "satellite": ["gap"]}


def test_a_track_silent_for_two_days_is_closed_where_it_was_watched_and_forgotten() -> None:
    # The fuser retires a track silent for two days (the vessel heard again starts a new
    # one), so its silence can end no other way: the gap is closed two days after its
    # last fix, and the track and the reception of that time are forgotten.
    detector = GapDetector(detect_settings())
    heard = [track(1, T0 + np.arange(0, HOUR + 1, MINUTE), LAT, LON), witness(60)]
    [gap] = standing(feed(detector, heard, chunk_s=1800.0, finish=False))
    assert gap.status == AlertStatus.CLOSED
    assert gap.evidence["level"] == "gap"
    assert gap.end == T0 + 49 * HOUR
    assert gap.evidence["watched_until"] == gap.end
    assert set(detector._last) == {96, 97, 98, 99}  # the witnesses
    kept = detector._reception._mmsi_slots.values()
    assert min(min(slots) for slots in kept) * 1800.0 >= T0 + 10 * HOUR
    covered = detector._reception._coverage.latest.values()
    assert min(t for t, _, _ in covered) >= T0 + 10 * HOUR


def test_a_vessel_that_went_on_at_its_speed_needs_fewer_passes() -> None:
    # One satellite pass at 5 h heard a neighbour for 9 minutes near where the vessel
    # was: 10 of its reports, all missed with 0.7 ** 10 = 2.8 % chance. Its next fix
    # 13 h later shows it went on at its 10 kn (2.2 degrees east at 10 N): it was at sea
    # all along, a gap. One that covered two thirds of that went somewhere on the way.
    start = T0 + HOUR
    neighbour = T0 + 5 * HOUR + np.arange(0, 10 * MINUTE, MINUTE)
    one_pass = by_satellite(track(99, neighbour, LAT, LON + 0.9))
    found = {}
    for name, went_deg in (("kept going", 2.2), ("went round", 1.5)):
        t = np.r_[T0 + np.arange(0, HOUR + 1, MINUTE), start + 13 * HOUR]
        lons = np.r_[np.full(t.shape[0] - 1, LON), LON + went_deg]
        heard = [track(1, t, LAT, lons, sog=10.0), one_pass]
        drafts = feed(GapDetector(detect_settings()), heard)
        found[name] = [d.evidence["level"] for d in standing(drafts) if d.tracks == ("ais:1",)]
    assert found == {"kept going": ["gap"], "went round": []}
