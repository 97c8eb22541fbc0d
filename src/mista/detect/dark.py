"""``dark-vessel``: a radar track that no AIS track explains (the fuser's DARK tracks),
confirmed after 5 contacts over at least 10 min. One alert per dark track: OPEN while it
is seen, CLOSED when no contact came for ``lost_after_s`` (start = first contact, end =
last)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mista.detect._common import Evidence, Key, Ledger, config_of, make_draft, track_id
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, TrackInfo, TrackKind
from mista.model import AlertStatus


@dataclass(slots=True)
class Sighting:
    """A dark track as last seen."""

    info: TrackInfo
    evidence: Evidence = field(default_factory=Evidence)
    key: Key | None = None
    is_open: bool = False


@register("dark-vessel")
class DarkVesselDetector:
    kind = "dark-vessel"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).dark_vessel
        self._seen: dict[int, Sighting] = {}
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        dark = [info for info in chunk.tracks.values() if info.kind == TrackKind.DARK]
        if dark:
            points = chunk.points
            numbers = np.array([info.number for info in dark], np.int64)
            rows = np.flatnonzero(np.isin(points.track, numbers))
            for info in dark:
                sighting = self._seen.setdefault(info.number, Sighting(info))
                sighting.info = info
                mine = rows[points.track[rows] == info.number]
                sighting.evidence.add(points, mine)
                if not sighting.is_open and self._confirmed(info):
                    sighting.is_open = True
                    out += self._emit(sighting, AlertStatus.OPEN, history)
        for number, sighting in list(self._seen.items()):
            if chunk.watermark - sighting.info.last_t > self.config.lost_after_s:
                del self._seen[number]
                if sighting.is_open:
                    out += self._emit(sighting, AlertStatus.CLOSED, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for sighting in self._seen.values():
            if sighting.is_open:
                out += self._emit(sighting, AlertStatus.CLOSED, history)
        self._seen.clear()
        return out

    def _confirmed(self, info: TrackInfo) -> bool:
        return (
            info.points >= self.config.min_contacts
            and info.last_t - info.first_t >= self.config.min_duration_s
        )

    def _emit(self, sighting: Sighting, status: AlertStatus, history: History) -> list[AlertDraft]:
        info = sighting.info
        if sighting.key is None:
            sighting.key = (self.kind, track_id(history, info.number), info.first_t)
        draft = make_draft(
            self.kind,
            sighting.key,
            status,
            start=info.first_t,
            end=info.last_t,
            lat=info.lat,
            lon=info.lon,
            tracks=(info.number,),
            history=history,
            label_nos=info.label_nos | sighting.evidence.label_nos,
            evidence={
                "contacts": info.points,
                "duration_s": info.last_t - info.first_t,
                "thresholds": {
                    "min_contacts": self.config.min_contacts,
                    "min_duration_s": self.config.min_duration_s,
                },
            },
            seqs=sighting.evidence.seqs,
        )
        emitted = self._ledger.emit(draft, (info.number,))
        return [emitted] if emitted is not None else []
