"""``identity-change`` and ``shared-mmsi``, from the fuser's identity events.

identity-change: a vessel's name, call sign, MMSI or flag (the MMSI's MID) changed; one
CLOSED alert per change, at its time. shared-mmsi: two vessels transmitting one MMSI at
once; one alert per pair of tracks, OPEN while the fuser keeps reporting the clash
(events less than ``merge_s`` apart), CLOSED after. A name or call sign that goes back and
forth (A, B, A within ``revert_s``) is two vessels fused as one track: a shared MMSI on
that track, and its identity-change alerts are withdrawn. A name and call sign that change
together while the MMSI stays are another vessel's static data on the MMSI (a flag state
issues the call sign with the MMSI: a ship given a new call sign gets a new MMSI too), so
also a shared MMSI, not an identity change. A flag change that comes with an MMSI change is
part of that change's alert (its evidence), not a second alert. Shared-MMSI alerts are one
per MMSI: every track seen on it joins the alert. Invalid MMSIs and IMOs are not behaviours
and are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mista.detect._common import Key, Ledger, config_of, make_draft, track_id
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, IdentityEvent, IdentityKind
from mista.model import AlertStatus

#: The identity events that are an identity change.
CHANGES = frozenset(
    {
        IdentityKind.NAME_CHANGE,
        IdentityKind.CALLSIGN_CHANGE,
        IdentityKind.MMSI_CHANGE,
        IdentityKind.FLAG_CHANGE,
    }
)


#: Changes that, going back and forth, are two vessels transmitting one MMSI.
FLIPPABLE = frozenset({IdentityKind.NAME_CHANGE, IdentityKind.CALLSIGN_CHANGE})

#: Where an event happened: its track and time (events of one static row share both).
_At = tuple[int, float]


def swaps(events: list[IdentityEvent]) -> set[_At]:
    """Where a name and a call sign changed at once on one track: another vessel's static
    data on the MMSI, not a change of identity."""
    names = {(e.track, e.t) for e in events if e.kind == IdentityKind.NAME_CHANGE}
    calls = {(e.track, e.t) for e in events if e.kind == IdentityKind.CALLSIGN_CHANGE}
    return names & calls


def flag_changes(events: list[IdentityEvent]) -> dict[_At, IdentityEvent]:
    """Flag changes by where they happened (each goes with an MMSI change there)."""
    return {(e.track, e.t): e for e in events if e.kind == IdentityKind.FLAG_CHANGE}


@dataclass(frozen=True, slots=True)
class _Change:
    t: float
    before: str | None
    after: str | None
    key: Key | None


class Flips:
    """Names and call signs that go back and forth (A to B, then back to A within
    ``revert_s``) are two vessels transmitting one MMSI, not a change of identity."""

    def __init__(self, revert_s: float) -> None:
        self.revert_s = revert_s
        self._recent: dict[tuple[int, str], list[_Change]] = {}
        self._clashing: dict[int, float] = {}  # track -> time of its latest flip

    def see(self, event: IdentityEvent, key: Key | None) -> list[_Change] | None:
        """Record ``event``; if it reverts a recent change (or the track is flipping
        already), the recent changes of that field (their alerts are withdrawn)."""
        field = (event.track, str(event.kind))
        recent = [c for c in self._recent.get(field, []) if event.t - c.t <= self.revert_s]
        clashing = event.t - self._clashing.get(event.track, -math.inf) <= self.revert_s
        if clashing or any(c.before == event.after for c in recent):
            self._clashing[event.track] = event.t
            self._recent[field] = []
            return recent
        self._recent[field] = [*recent, _Change(event.t, event.before, event.after, key)]
        return None


@register("identity-change")
class IdentityChangeDetector:
    kind = "identity-change"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._flips = Flips(config_of(settings).shared_mmsi.revert_s)
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        swapped = swaps(chunk.identity)
        flags = flag_changes(chunk.identity)
        mmsi_changed = {
            (e.track, e.t) for e in chunk.identity if e.kind == IdentityKind.MMSI_CHANGE
        }
        for event in chunk.identity:
            at = (event.track, event.t)
            if event.kind not in CHANGES or at in swapped:
                continue
            if event.kind == IdentityKind.FLAG_CHANGE and at in mmsi_changed:
                continue  # told in the MMSI change's evidence
            if event.kind not in FLIPPABLE:
                out += self._change(event, history, flags.get(at))
                continue
            key = self._key(event, history)
            reverted = self._flips.see(event, key)
            if reverted is None:
                out += self._change(event, history)
                continue
            for change in reverted:  # a flip-flop: two vessels, one MMSI (shared-mmsi)
                withdrawn = self._ledger.withdraw(change.key) if change.key else None
                out += [withdrawn] if withdrawn is not None else []
        return out

    def _key(self, event: IdentityEvent, history: History) -> Key:
        return (self.kind, track_id(history, event.track), str(event.kind), event.t)

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        return []

    def _change(
        self, event: IdentityEvent, history: History, flag: IdentityEvent | None = None
    ) -> list[AlertDraft]:
        tracks: tuple[int, ...] = (event.track,)
        evidence: dict[str, Any] = {
            "change": str(event.kind),
            "before": event.before,
            "after": event.after,
        }
        if event.kind == IdentityKind.MMSI_CHANGE:
            if event.other_track is not None:
                tracks = (event.other_track, event.track)
            if flag is not None:
                evidence["flag"] = {"before": flag.before, "after": flag.after}
        draft = make_draft(
            self.kind,
            self._key(event, history),
            AlertStatus.CLOSED,
            start=event.t,
            end=event.t,
            lat=event.lat,
            lon=event.lon,
            tracks=tracks,
            history=history,
            label_nos=event.label_nos,
            evidence=evidence,
        )
        emitted = self._ledger.emit(draft, tracks)
        return [emitted] if emitted is not None else []


@dataclass(slots=True)
class Clash:
    """Two tracks seen transmitting one MMSI."""

    key: Key
    mmsi: int | None
    tracks: tuple[int, ...]
    start: float
    end: float
    lat: float
    lon: float
    label_nos: set[int]
    events: int = 1


@register("shared-mmsi")
class SharedMmsiDetector:
    kind = "shared-mmsi"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).shared_mmsi
        self._clashes: dict[tuple[int, ...], Clash] = {}  # by MMSI (by tracks without one)
        self._flips = Flips(self.config.revert_s)
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        swapped = swaps(chunk.identity)
        for event in chunk.identity:
            at = (event.track, event.t)
            if event.kind == IdentityKind.SHARED_MMSI and event.other_track is not None:
                a, b = sorted((event.track, event.other_track))
                out += self._clash((a, b), event, history)
            elif at in swapped:
                if event.kind == IdentityKind.NAME_CHANGE:  # once per static row
                    out += self._clash((event.track,), event, history)
            elif event.kind in FLIPPABLE and self._flips.see(event, None) is not None:
                out += self._clash((event.track,), event, history)  # fused as one track
        for by, clash in list(self._clashes.items()):
            if chunk.watermark - clash.end > self.config.merge_s:
                del self._clashes[by]
                out += self._emit(clash, AlertStatus.CLOSED, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for clash in self._clashes.values():
            out += self._emit(clash, AlertStatus.CLOSED, history)
        self._clashes.clear()
        return out

    def _clash(
        self, tracks: tuple[int, ...], event: IdentityEvent, history: History
    ) -> list[AlertDraft]:
        by = (event.mmsi,) if event.mmsi is not None else tracks
        clash = self._clashes.get(by)
        if clash is not None and event.t - clash.end <= self.config.merge_s:
            clash.end = max(clash.end, event.t)
            clash.start = min(clash.start, event.t)
            clash.label_nos |= event.label_nos
            clash.events += 1
            known = set(clash.tracks)
            clash.tracks += tuple(n for n in tracks if n not in known)
            return (
                self._emit(clash, AlertStatus.OPEN, history)
                if len(clash.tracks) > len(known)
                else []
            )
        out = self._emit(clash, AlertStatus.CLOSED, history) if clash is not None else []
        key: Key = (self.kind, *(track_id(history, n) for n in tracks), event.t)
        clash = Clash(
            key=key,
            mmsi=event.mmsi,
            tracks=tracks,
            start=event.t,
            end=event.t,
            lat=event.lat,
            lon=event.lon,
            label_nos=set(event.label_nos),
        )
        self._clashes[by] = clash
        return out + self._emit(clash, AlertStatus.OPEN, history)

    def _emit(self, clash: Clash, status: AlertStatus, history: History) -> list[AlertDraft]:
        draft = make_draft(
            self.kind,
            clash.key,
            status,
            start=clash.start,
            end=clash.end,
            lat=clash.lat,
            lon=clash.lon,
            tracks=clash.tracks,
            history=history,
            label_nos=clash.label_nos,
            evidence={"mmsi": clash.mmsi, "events": clash.events},
        )
        emitted = self._ledger.emit(draft, clash.tracks)
        return [emitted] if emitted is not None else []
