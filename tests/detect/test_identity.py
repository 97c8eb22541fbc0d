"""identity-change and shared-mmsi alerts from the fuser's identity events."""

from __future__ import annotations

import dataclasses

from mista.detect.identity import IdentityChangeDetector, SharedMmsiDetector
from mista.fuse.chunk import FusedChunk, IdentityEvent, IdentityKind, TrackPoints
from mista.model import AlertStatus
from tests.detect.builders import HOUR, SEA, T0, Memory, settings, track

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
