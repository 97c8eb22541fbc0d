"""identity-change and shared-mmsi alerts from the fuser's identity events."""

from __future__ import annotations

import dataclasses

import numpy as np

from mista.detect.identity import IdentityChangeDetector, SharedMmsiDetector
from mista.detect.statics import StaticLog
from mista.fuse.chunk import FusedChunk, IdentityEvent, IdentityKind, TrackPoints
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    SEA,
    T0,
    Memory,
    east_of,
    feed,
    settings,
    standing,
    static_rows,
    track,
)

LAT, LON = SEA


def memory_of(*numbers: int) -> Memory:
    memory = Memory()
    for number in numbers:
        memory.add(track(number, [T0], LAT, LON))
    return memory


def event(kind: IdentityKind, t: float, *, other: int | None = None, **kw: str) -> IdentityEvent:
    return IdentityEvent(
        kind=kind,
        t=t,
        track=1,
        mmsi=419_000_001,
        lat=LAT,
        lon=LON,
        before=kw.get("before"),
        after=kw.get("after"),
        label_nos=frozenset({3}),
        other_track=other,
    )


def chunk(watermark: float, *events: IdentityEvent) -> FusedChunk:
    return FusedChunk(watermark=watermark, points=TrackPoints.empty(), identity=list(events))


def test_every_change_kind_is_an_identity_change_and_invalid_ones_are_not() -> None:
    detector = IdentityChangeDetector(settings())
    memory = memory_of(1, 2)
    events = [
        event(IdentityKind.NAME_CHANGE, T0, before="SEA STAR", after="SEA STAR 2"),
        event(IdentityKind.CALLSIGN_CHANGE, T0 + 1, before="AB12", after="CD34"),
        event(IdentityKind.FLAG_CHANGE, T0 + 2, before="IND", after="PAN"),
        event(IdentityKind.MMSI_CHANGE, T0 + 3, other=2, before="419000002", after="419000001"),
        event(IdentityKind.INVALID_MMSI, T0 + 4),
        event(IdentityKind.INVALID_IMO, T0 + 5),
    ]
    drafts = detector.update(chunk(T0 + 10, *events), memory)
    assert [d.evidence["change"] for d in drafts] == [
        "name-change",
        "callsign-change",
        "flag-change",
        "mmsi-change",
    ]
    assert all(d.kind == "identity-change" and d.status == AlertStatus.CLOSED for d in drafts)
    assert drafts[0].evidence["before"] == "SEA STAR"
    assert "flag" not in drafts[3].evidence  # the flag change at another time
    assert drafts[3].tracks == ("ais:2", "ais:1")
    assert drafts[3].mmsis == (419_000_002, 419_000_001)
    assert all(d.label_nos == frozenset({3}) for d in drafts)
    assert detector.update(chunk(T0 + 20, *events[:1]), memory) == []  # the same event again


def test_repeated_shared_mmsi_events_are_one_alert_open_then_closed() -> None:
    detector = SharedMmsiDetector(settings())
    memory = memory_of(1, 2)
    clash = [event(IdentityKind.SHARED_MMSI, T0 + i * 600, other=2) for i in range(4)]
    drafts = detector.update(chunk(T0 + 1800, *clash), memory)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]
    assert drafts[0].tracks == ("ais:1", "ais:2")
    drafts += detector.update(chunk(T0 + 26 * HOUR), memory)
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.CLOSED]
    assert drafts[1].key == drafts[0].key
    assert drafts[1].end - drafts[1].start == 1800
    assert drafts[1].evidence["events"] == 4


def test_shared_mmsi_clashes_a_day_apart_are_two_alerts() -> None:
    detector = SharedMmsiDetector(settings())
    memory = memory_of(1, 2)
    drafts = detector.update(chunk(T0, event(IdentityKind.SHARED_MMSI, T0, other=2)), memory)
    later = event(IdentityKind.SHARED_MMSI, T0 + 25 * HOUR, other=2)
    drafts += detector.update(chunk(T0 + 25 * HOUR, later), memory)
    drafts += detector.finish(T0 + 26 * HOUR, memory)
    assert len({d.key for d in drafts}) == 2


def test_a_name_going_back_and_forth_is_a_shared_mmsi_not_identity_changes() -> None:
    flips = [
        event(IdentityKind.NAME_CHANGE, T0, before="SAGAR TIGER", after="SUN ANCHOR 5"),
        event(IdentityKind.NAME_CHANGE, T0 + 3 * HOUR, before="SUN ANCHOR 5", after="SAGAR TIGER"),
        event(IdentityKind.NAME_CHANGE, T0 + 4 * HOUR, before="SAGAR TIGER", after="SUN ANCHOR 5"),
    ]
    memory = memory_of(1)
    changes = IdentityChangeDetector(settings())
    drafts = changes.update(chunk(T0 + 60, flips[0]), memory)
    assert [d.status for d in drafts] == [AlertStatus.CLOSED]
    drafts += changes.update(chunk(T0 + 5 * HOUR, *flips[1:]), memory)
    assert [d.status for d in drafts] == [AlertStatus.CLOSED, AlertStatus.WITHDRAWN]
    shared = SharedMmsiDetector(settings())
    found = shared.update(chunk(T0 + 5 * HOUR, *flips), memory)
    found += shared.finish(T0 + 6 * HOUR, memory)
    assert {d.status for d in found} == {AlertStatus.OPEN, AlertStatus.CLOSED}
    assert len({d.key for d in found}) == 1
    assert found[-1].tracks == ("ais:1",)
    assert found[-1].start == T0 + 3 * HOUR


def test_a_change_kept_for_longer_than_the_revert_time_is_two_changes() -> None:
    memory = memory_of(1)
    changes = IdentityChangeDetector(settings())
    there = event(IdentityKind.NAME_CHANGE, T0, before="A", after="B")
    back = event(IdentityKind.NAME_CHANGE, T0 + 13 * HOUR, before="B", after="A")
    drafts = changes.update(chunk(T0 + 14 * HOUR, there, back), memory)
    assert [d.status for d in drafts] == [AlertStatus.CLOSED, AlertStatus.CLOSED]


def test_a_flag_change_with_an_mmsi_change_is_one_alert() -> None:
    detector = IdentityChangeDetector(settings())
    memory = memory_of(1, 2)
    together = [
        event(IdentityKind.MMSI_CHANGE, T0, other=2, before="419000002", after="636000001"),
        event(IdentityKind.FLAG_CHANGE, T0, other=2, before="419", after="636"),
    ]
    drafts = detector.update(chunk(T0 + 10, *together), memory)
    assert [d.evidence["change"] for d in drafts] == ["mmsi-change"]
    assert drafts[0].evidence["flag"] == {"before": "419", "after": "636"}


def test_name_and_call_sign_changing_at_once_are_a_shared_mmsi() -> None:
    swap = [
        event(IdentityKind.NAME_CHANGE, T0, before="CORAL CROWN 7", after="PACIFIC TIGER 10"),
        event(IdentityKind.CALLSIGN_CHANGE, T0, before="9VONXC", after="9VGEHB"),
    ]
    memory = memory_of(1)
    assert IdentityChangeDetector(settings()).update(chunk(T0 + 60, *swap), memory) == []
    shared = SharedMmsiDetector(settings())
    found = shared.update(chunk(T0 + 60, *swap), memory) + shared.finish(T0 + HOUR, memory)
    assert [d.status for d in found] == [AlertStatus.OPEN, AlertStatus.CLOSED]
    assert found[0].tracks == ("ais:1",)
    assert found[0].mmsis == (419_000_001,)
    # A name change alone (same call sign) is a change of identity.
    alone = IdentityChangeDetector(settings()).update(chunk(T0 + 60, swap[0]), memory)
    assert [d.evidence["change"] for d in alone] == ["name-change"]


def test_every_track_on_one_mmsi_joins_its_one_shared_mmsi_alert() -> None:
    detector = SharedMmsiDetector(settings())
    memory = memory_of(1, 2, 3)
    first = event(IdentityKind.SHARED_MMSI, T0, other=2)
    again = dataclasses.replace(first, track=3, t=T0 + 2 * HOUR)
    drafts = detector.update(chunk(T0, first), memory)
    drafts += detector.update(chunk(T0 + 2 * HOUR, again), memory)
    drafts += detector.finish(T0 + 3 * HOUR, memory)
    assert len({d.key for d in drafts}) == 1
    assert drafts[-1].tracks == ("ais:1", "ais:2", "ais:3")
    assert drafts[-1].evidence["events"] == 2


IMO = 9_074_729  # a valid IMO number


def test_a_name_change_spans_from_the_last_statement_of_the_old_name() -> None:
    # Static data is heard rarely (by satellite, hours apart): the change happened
    # somewhere between the last report of the old name and the first of the new.
    config = settings()
    log = config["statics"]
    assert isinstance(log, StaticLog)
    log.add(static_rows([(T0, 419_000_001, "SEA STAR", None, 0)]))
    log.add(static_rows([(T0 + 2 * HOUR, 419_000_001, "SEA STAR", None, 0)]))
    log.add(static_rows([(T0 + 5 * HOUR, 419_000_001, "OCEAN STAR", None, 0)]))
    change = event(IdentityKind.NAME_CHANGE, T0 + 5 * HOUR, before="SEA STAR", after="OCEAN STAR")
    [draft] = IdentityChangeDetector(config).update(chunk(T0 + 6 * HOUR, change), memory_of(1))
    assert (draft.start, draft.end) == (T0 + 2 * HOUR, T0 + 5 * HOUR)
    assert draft.evidence["last_stated_before"] == T0 + 2 * HOUR
    # Without the static log, the alert is at the report that showed the change.
    [alone] = IdentityChangeDetector(settings()).update(chunk(T0 + 6 * HOUR, change), memory_of(1))
    assert (alone.start, alone.end) == (T0 + 5 * HOUR, T0 + 5 * HOUR)
    assert "last_stated_before" not in alone.evidence


def test_an_mmsi_change_the_fuser_linked_spans_from_the_old_mmsis_last_fix() -> None:
    # The fuser continued track 1 under the new MMSI after 40 minutes of silence.
    old = track(1, T0 + np.arange(0, HOUR + 1, 10 * MINUTE), LAT, LON)
    new = dataclasses.replace(
        track(1, T0 + 100 * MINUTE + np.arange(0, HOUR, 10 * MINUTE), LAT, LON, seq_from=50),
        mmsi=np.full(6, 636_000_001, np.int64),
    )
    memory = Memory()
    memory.add(old)
    memory.add(new)
    change = dataclasses.replace(
        event(IdentityKind.MMSI_CHANGE, T0 + 100 * MINUTE, other=1, before="419000001"),
        after="636000001",
        mmsi=636_000_001,
    )
    [draft] = IdentityChangeDetector(settings()).update(chunk(T0 + 2 * HOUR, change), memory)
    assert (draft.start, draft.end) == (T0 + HOUR, T0 + 100 * MINUTE)
    assert draft.tracks == ("ais:1",)
    assert draft.mmsis == (419_000_001, 636_000_001)


def imo_change(gap_h: float, east_m: float, *, overlap_h: float = 0.0) -> list[str]:
    """Track 1 (MMSI 419000001) heard for an hour, track 2 (419000002) from ``gap_h``
    later, ``east_m`` east of track 1's last fix (or ``overlap_h`` before it ended);
    both state one IMO number, track 2 only hours after it started. The changes found."""
    config = settings()
    log = config["statics"]
    assert isinstance(log, StaticLog)
    end_1 = T0 + HOUR
    start_2 = end_1 + gap_h * HOUR - overlap_h * HOUR
    first = track(1, T0 + np.arange(0, HOUR + 1, MINUTE), LAT, LON, sog=10.0)
    second = track(2, start_2 + np.arange(0, HOUR, MINUTE), LAT, east_of(LAT, LON, east_m))
    log.add(static_rows([(T0 + 10 * MINUTE, 419_000_001, "SEA STAR", None, IMO)]))
    log.add(static_rows([(start_2 + 3 * HOUR, 419_000_002, "SEA STAR", None, IMO)]))
    drafts = standing(feed(IdentityChangeDetector(config), [first, second]))
    for draft in drafts:
        assert (draft.start, draft.end) == (end_1, start_2)
        assert draft.tracks == ("ais:1", "ais:2")
        assert draft.mmsis == (419_000_001, 419_000_002)
        assert draft.evidence["imo"] == IMO
    return [d.evidence["change"] for d in drafts]


def test_an_mmsi_change_is_found_by_the_imo_both_mmsis_stated() -> None:
    # Five hours unheard (beyond the fuser's window), 100 km on: 11 kn, one vessel.
    assert imo_change(5.0, 100_000.0) == ["mmsi-change"]


def test_mmsis_of_one_imo_heard_at_once_or_too_far_apart_are_no_change() -> None:
    assert imo_change(0.0, 2_000.0, overlap_h=0.5) == []  # two transmitters at once
    assert imo_change(1.0, 200_000.0) == []  # 108 kn


def test_an_imo_link_needs_both_mmsis_on_tracks() -> None:
    config = settings()
    log = config["statics"]
    assert isinstance(log, StaticLog)
    log.add(static_rows([(T0, 419_000_001, None, None, IMO), (T0, 419_000_009, None, None, IMO)]))
    first = track(1, T0 + np.arange(0, HOUR + 1, MINUTE), LAT, LON, sog=10.0)
    assert standing(feed(IdentityChangeDetector(config), [first])) == []
