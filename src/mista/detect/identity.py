"""``identity-change`` and ``shared-mmsi``, from the fuser's identity events.

identity-change: a vessel's name, call sign, MMSI or flag (the MMSI's MID) changed; one
CLOSED alert per change, at its time. shared-mmsi: two vessels transmitting one MMSI at
once; one alert per pair of tracks, OPEN while the fuser keeps reporting the clash
(events less than ``merge_s`` apart), CLOSED after. Invalid MMSIs and IMOs are not
behaviours and are skipped.
"""

from __future__ import annotations

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


@register("identity-change")
class IdentityChangeDetector:
    kind = "identity-change"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        config_of(settings)
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for event in chunk.identity:
            if event.kind in CHANGES:
                out += self._change(event, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        return []

    def _change(self, event: IdentityEvent, history: History) -> list[AlertDraft]:
        tracks: tuple[int, ...] = (event.track,)
        if event.kind == IdentityKind.MMSI_CHANGE and event.other_track is not None:
            tracks = (event.other_track, event.track)
        key: Key = (self.kind, track_id(history, event.track), str(event.kind), event.t)
        draft = make_draft(
            self.kind,
            key,
            AlertStatus.CLOSED,
            start=event.t,
            end=event.t,
            lat=event.lat,
            lon=event.lon,
            tracks=tracks,
            history=history,
            label_nos=event.label_nos,
            evidence={"change": str(event.kind), "before": event.before, "after": event.after},
        )
        emitted = self._ledger.emit(draft, tracks)
        return [emitted] if emitted is not None else []


@dataclass(slots=True)
class Clash:
    """Two tracks seen transmitting one MMSI."""

    key: Key
    mmsi: int | None
    tracks: tuple[int, int]
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
        self._clashes: dict[tuple[int, int], Clash] = {}
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for event in chunk.identity:
            if event.kind == IdentityKind.SHARED_MMSI and event.other_track is not None:
                out += self._clash(event, history)
        for pair, clash in list(self._clashes.items()):
            if chunk.watermark - clash.end > self.config.merge_s:
                del self._clashes[pair]
                out += self._emit(clash, AlertStatus.CLOSED, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for clash in self._clashes.values():
            out += self._emit(clash, AlertStatus.CLOSED, history)
        self._clashes.clear()
        return out

    def _clash(self, event: IdentityEvent, history: History) -> list[AlertDraft]:
        assert event.other_track is not None
        a, b = sorted((event.track, event.other_track))
        clash = self._clashes.get((a, b))
        if clash is not None and event.t - clash.end <= self.config.merge_s:
            clash.end = max(clash.end, event.t)
            clash.start = min(clash.start, event.t)
            clash.label_nos |= event.label_nos
            clash.events += 1
            return []
        out = self._emit(clash, AlertStatus.CLOSED, history) if clash is not None else []
        key: Key = (self.kind, track_id(history, a), track_id(history, b), event.t)
        clash = Clash(
            key=key,
            mmsi=event.mmsi,
            tracks=(a, b),
            start=event.t,
            end=event.t,
            lat=event.lat,
            lon=event.lon,
            label_nos=set(event.label_nos),
        )
        self._clashes[(a, b)] = clash
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
