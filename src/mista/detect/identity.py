"""``identity-change`` and ``shared-mmsi``, from the fuser's identity events.

identity-change: a vessel's name, call sign, MMSI or flag (the MMSI's MID) changed; one
CLOSED alert per change, spanning the time it can have happened in (from when the old value
was last stated to the report that showed the new one: static data is heard far less often
than positions, so that can be hours). An MMSI change is linked by the fuser (by position,
within its window) or here, by the IMO number both MMSIs stated.

shared-mmsi: two vessels transmitting one MMSI at once; one alert per pair of tracks, OPEN
while the fuser keeps reporting the clash (events less than ``merge_s`` apart), CLOSED
after. Jumps on one track that the spoofing detector found to keep coming back along one
plausible path (``SecondTransmitters``) are a second vessel the fuser did not split: a
shared MMSI on that track too. A name or call sign that goes back and
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
from dataclasses import dataclass, replace
from typing import Any

from mista.detect._common import (
    KNOT_M_S,
    SETTLED_KEPT_S,
    Key,
    Ledger,
    config_of,
    make_draft,
    track_id,
    track_mmsi,
)
from mista.detect.base import AlertDraft, History, register
from mista.detect.statics import ImoLink, StaticLog
from mista.detect.transmitters import SecondTransmitter, SecondTransmitters
from mista.fuse.chunk import FusedChunk, IdentityEvent, IdentityKind, TrackKind
from mista.fuse.mmsi import mid
from mista.geo import haversine_m
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


#: How far back the old MMSI's last fix is looked for on a linked track.
_LOOKBACK_S = 12 * 3600.0
#: An IMO link waits this long (stream time) for both MMSIs' positions to be fused.
_LINK_WAIT_S = 24 * 3600.0
#: Two MMSIs stating one IMO are one vessel changing MMSI only if the new one could have
#: sailed from the old one's last fix: at most this speed (the GFW segmenter's 30 kn) ...
_LINK_MAX_KN = 30.0
#: ... with this much position error forgiven, and heard no earlier than this before the
#: old one's last fix (else two transmitters at once: not a change).
_LINK_NOISE_M = 2000.0
_LINK_OVERLAP_S = 60.0
#: Map of MMSIs to tracks kept up to this size before tracks no longer known are dropped.
_MAX_TRACKED_MMSIS = 200_000


@register("identity-change")
class IdentityChangeDetector:
    """Identity changes from the fuser's events, each alert spanning the time the change
    can have happened in: from when the old value was last stated (a name or call sign
    in the static log, the old MMSI's last fix) to the report that showed the new one.
    MMSI changes the fuser did not link by position (the vessel unheard for longer than
    its window) are found by the IMO number both MMSIs stated (``StaticLog``), when the
    new one could have sailed from the old one's last fix and the two were not heard at
    once."""

    kind = "identity-change"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._flips = Flips(config_of(settings).shared_mmsi.revert_s)
        self._ledger = Ledger()
        statics = settings.get("statics")
        self._statics = statics if isinstance(statics, StaticLog) else StaticLog()
        self._track_of: dict[int, int] = {}  # MMSI -> its (main) AIS track
        self._heard_at: dict[int, float] = {}  # MMSI -> its track's latest point
        self._pruned_at = -math.inf
        self._pending: list[tuple[ImoLink, float]] = []  # link, watermark it was found at
        self._linked: set[tuple[int, int]] = set()  # (old, new) MMSI changes already told

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        self._learn_tracks(chunk, history)
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
        out += self._imo_links(chunk.watermark, history)
        return out

    def _key(self, event: IdentityEvent, history: History) -> Key:
        return (self.kind, track_id(history, event.track), str(event.kind), event.t)

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        return self._imo_links(watermark, history)

    def _learn_tracks(self, chunk: FusedChunk, history: History) -> None:
        for info in chunk.tracks.values():
            if info.kind == TrackKind.AIS and info.mmsi is not None and "/" not in info.id:
                self._track_of[info.mmsi] = info.number
                self._heard_at[info.mmsi] = info.last_t
        if chunk.watermark - self._pruned_at >= 3600.0:
            # Hourly: MMSIs unheard for two days (their tracks retired) are forgotten.
            self._pruned_at = chunk.watermark
            horizon = chunk.watermark - SETTLED_KEPT_S
            self._heard_at = {m: t for m, t in self._heard_at.items() if t >= horizon}
            self._track_of = {m: n for m, n in self._track_of.items() if m in self._heard_at}
        if len(self._track_of) > _MAX_TRACKED_MMSIS:
            self._track_of = {
                mmsi: number
                for mmsi, number in self._track_of.items()
                if history.track_info(number) is not None
            }

    def _since(self, event: IdentityEvent, history: History) -> float:
        """When the value ``event`` replaced was last known to hold: the change happened
        after it (``event.t`` when nothing earlier is known)."""
        if event.kind in (IdentityKind.NAME_CHANGE, IdentityKind.CALLSIGN_CHANGE):
            if event.mmsi is None:
                return event.t
            field = "name" if event.kind == IdentityKind.NAME_CHANGE else "callsign"
            stated = self._statics.last_stated(event.mmsi, field, event.before, event.t)
            return min(stated, event.t) if stated is not None else event.t
        if event.kind == IdentityKind.MMSI_CHANGE and event.before is not None:
            old = int(event.before)
            number = event.other_track if event.other_track is not None else event.track
            points = history.history(number, event.t - _LOOKBACK_S)
            before = points.t[(points.mmsi == old) & (points.t < event.t)]
            if before.shape[0]:
                return float(before.max())
        return event.t

    def _change(
        self, event: IdentityEvent, history: History, flag: IdentityEvent | None = None
    ) -> list[AlertDraft]:
        tracks: tuple[int, ...] = (event.track,)
        evidence: dict[str, Any] = {
            "change": str(event.kind),
            "before": event.before,
            "after": event.after,
        }
        mmsis: tuple[int, ...] = ()
        if event.kind == IdentityKind.MMSI_CHANGE:
            if event.other_track is not None and event.other_track != event.track:
                tracks = (event.other_track, event.track)
            if flag is not None:
                evidence["flag"] = {"before": flag.before, "after": flag.after}
            if event.before is not None and event.after is not None:
                mmsis = (int(event.before), int(event.after))
                self._linked.add(mmsis)
        since = self._since(event, history)
        if since < event.t:
            evidence["last_stated_before"] = since
        draft = make_draft(
            self.kind,
            self._key(event, history),
            AlertStatus.CLOSED,
            start=since,
            end=event.t,
            lat=event.lat,
            lon=event.lon,
            tracks=tracks,
            history=history,
            label_nos=event.label_nos,
            evidence=evidence,
        )
        if mmsis:  # the continued track names only its new MMSI now
            draft = replace(draft, mmsis=tuple(dict.fromkeys(mmsis + draft.mmsis)))
        emitted = self._ledger.emit(draft, tracks)
        return [emitted] if emitted is not None else []

    # -- MMSI changes found by IMO number ---------------------------------------------------

    def _imo_links(self, watermark: float, history: History) -> list[AlertDraft]:
        self._pending += [(link, watermark) for link in self._statics.new_links()]
        out: list[AlertDraft] = []
        waiting: list[tuple[ImoLink, float]] = []
        for link, found_at in self._pending:
            verdict = self._judge(link, history)
            if verdict is None:
                if watermark - found_at < _LINK_WAIT_S:
                    waiting.append((link, found_at))
                continue
            out += verdict
        self._pending = waiting
        return out

    def _judge(self, link: ImoLink, history: History) -> list[AlertDraft] | None:
        """The alert for an IMO link (``[]``: not an MMSI change; ``None``: not known yet,
        a track not fused so far)."""
        numbers = [self._track_of.get(mmsi) for mmsi in link.mmsis]
        if None in numbers:
            return None
        if numbers[0] == numbers[1]:
            return []  # the fuser continued one track: its own event told the change
        infos = [history.track_info(number) for number in numbers if number is not None]
        known = [info for info in infos if info is not None]
        if len(known) < 2:
            return None
        old, new = sorted(known, key=lambda info: (info.first_t, info.number))
        old_mmsi, new_mmsi = old.mmsi, new.mmsi
        if old_mmsi is None or new_mmsi is None or (old_mmsi, new_mmsi) in self._linked:
            return []
        if new.first_t < old.last_t - _LINK_OVERLAP_S:
            return []  # both heard at once: two transmitters, not one vessel's change
        first = history.history(new.number, new.first_t)
        if len(first) == 0:
            return None
        lat, lon = float(first.lat[0]), float(first.lon[0])
        distance = float(haversine_m(old.lat, old.lon, lat, lon))
        reach = _LINK_NOISE_M + _LINK_MAX_KN * KNOT_M_S * max(new.first_t - old.last_t, 0.0)
        if distance > reach:
            return []
        self._linked.add((old_mmsi, new_mmsi))
        evidence: dict[str, Any] = {
            "change": str(IdentityKind.MMSI_CHANGE),
            "before": str(old_mmsi),
            "after": str(new_mmsi),
            "imo": link.imo,
            "distance_m": round(distance, 1),
        }
        old_mid, new_mid = mid(old_mmsi), mid(new_mmsi)
        if old_mid != new_mid:
            evidence["flag"] = {
                "before": None if old_mid is None else str(old_mid),
                "after": None if new_mid is None else str(new_mid),
            }
        tracks = (old.number, new.number)
        draft = make_draft(
            self.kind,
            (self.kind, "imo", link.imo, old_mmsi, new_mmsi),
            AlertStatus.CLOSED,
            start=old.last_t,
            end=new.first_t,
            lat=lat,
            lon=lon,
            tracks=tracks,
            history=history,
            label_nos=old.label_nos | new.label_nos,
            evidence=evidence,
            seqs=[int(first.seq[0])],
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
        found = settings.get("second_transmitters")
        self._found = found if isinstance(found, SecondTransmitters) else SecondTransmitters()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out = self._second_transmitters(history)
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

    def _second_transmitters(self, history: History) -> list[AlertDraft]:
        """Tracks the spoofing detector found a second vessel's jumps on (the fuser did
        not split them): a shared MMSI on that track."""
        out: list[AlertDraft] = []
        for found in self._found.take():
            out += self._clash((found.track,), _as_event(found, history), history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out = self._second_transmitters(history)
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


def _as_event(found: SecondTransmitter, history: History) -> IdentityEvent:
    return IdentityEvent(
        kind=IdentityKind.SHARED_MMSI,
        t=found.t,
        track=found.track,
        mmsi=track_mmsi(history, found.track),
        lat=found.lat,
        lon=found.lon,
        before=None,
        after=None,
        label_nos=found.label_nos,
    )
