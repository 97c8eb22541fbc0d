"""``dark-vessel``: a radar track that no AIS track explains (the fuser's DARK tracks),
confirmed after 5 contacts over at least 10 min. One alert per dark vessel: OPEN while it
is seen, CLOSED when no contact came for ``lost_after_s`` (start = first contact, end =
last).

A radar tracker loses a vessel now and then (a turn, contacts taken by a passing ship)
and starts a new dark track on it. A new dark track that begins where an open alert's
track was lost, within ``lost_after_s`` and no further than the vessel could have gone
(``rejoin_m`` plus ``max_speed_kn``), continues that alert rather than raising another;
the nearest such alert wins, and each alert takes one new track at a time. An alert's
tracks that can be lost are its newest and the one it took last (which an older track of
its may outlive: a berth's line that another boat's echo goes on with). The lost
track's line may have taken a stray contact or two of clutter after its vessel went on,
and its vessel may come back to it after the new track: one vessel is on one of the two
at a time, two vessels are seen on both at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mista.detect._common import (
    KNOT_M_S,
    Evidence,
    Key,
    Ledger,
    config_of,
    make_draft,
    track_id,
)
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, TrackInfo, TrackKind
from mista.geo import haversine_m
from mista.model import AlertStatus

#: A new track may begin this long before the lost one's last contact (scans of two
#: tracks on one vessel interleave while the tracker hands over).
_OVERLAP_S = 120.0
#: A lost track's line may take a stray contact or two (clutter near where it would be)
#: after its vessel went on as a new track, minutes after its last contact of the vessel;
#: more, or sooner, are a vessel's.
_STRAY_CONTACTS = 2
_STRAY_SILENCE_S = 300.0


@dataclass(slots=True)
class Sighting:
    """A dark vessel as last seen: its dark tracks, oldest first (``info`` is the newest)."""

    info: TrackInfo
    first_t: float
    contacts: int = 0
    tracks: list[int] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    key: Key | None = None
    is_open: bool = False


@register("dark-vessel")
class DarkVesselDetector:
    kind = "dark-vessel"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).dark_vessel
        self._seen: dict[int, Sighting] = {}  # dark track -> its sighting (shared)
        self._counted: dict[int, int] = {}  # dark track -> its contacts counted so far
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        dark = [info for info in chunk.tracks.values() if info.kind == TrackKind.DARK]
        if dark:
            points = chunk.points
            numbers = np.array([info.number for info in dark], np.int64)
            rows = np.flatnonzero(np.isin(points.track, numbers))
            for info in sorted(dark, key=lambda i: i.first_t):
                sighting = self._seen.get(info.number)
                if (sighting is None or not sighting.is_open) and self._confirmed(info):
                    sighting = self._rejoin(info, history) or sighting
                if sighting is None:
                    sighting = Sighting(info, info.first_t)
                    self._seen[info.number] = sighting
                if info.number not in sighting.tracks:
                    sighting.tracks.append(info.number)
                if info.last_t >= sighting.info.last_t:
                    sighting.info = info
                sighting.contacts += info.points - self._counted.get(info.number, 0)
                self._counted[info.number] = info.points
                mine = rows[points.track[rows] == info.number]
                sighting.evidence.add(points, mine)
                if sighting.is_open:
                    out += self._emit(sighting, AlertStatus.OPEN, history)
                elif self._confirmed(info):
                    sighting.is_open = True
                    out += self._emit(sighting, AlertStatus.OPEN, history)
        for sighting in self._sightings():
            if chunk.watermark - sighting.info.last_t > self.config.lost_after_s:
                self._forget(sighting)
                if sighting.is_open:
                    out += self._emit(sighting, AlertStatus.CLOSED, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for sighting in self._sightings():
            if sighting.is_open:
                out += self._emit(sighting, AlertStatus.CLOSED, history)
        self._seen.clear()
        self._counted.clear()
        return out

    def _sightings(self) -> list[Sighting]:
        unique = {id(s): s for s in self._seen.values()}
        return list(unique.values())

    def _forget(self, sighting: Sighting) -> None:
        for number in sighting.tracks:
            self._seen.pop(number, None)
            self._counted.pop(number, None)

    def _rejoin(self, info: TrackInfo, history: History) -> Sighting | None:
        """The open alert whose track was lost where this new track begins, if any."""
        first = history.history(info.number, info.first_t)
        if len(first) == 0:
            return None
        lat, lon, t = float(first.lat[0]), float(first.lon[0]), float(first.t[0])
        best: tuple[float, Sighting] | None = None
        for sighting in self._sightings():
            if not sighting.is_open:
                continue
            # The newest track, and the one it took last (a track it was given may be lost
            # while an older one of its goes on).
            for number in dict.fromkeys((sighting.info.number, sighting.tracks[-1])):
                if number == info.number:
                    continue
                lost = self._lost(number, t, info.last_t, history)
                if lost is None:
                    continue
                lost_t, lost_lat, lost_lon = lost
                gap = max(t - lost_t, 0.0)
                reach = self.config.rejoin_m + self.config.max_speed_kn * KNOT_M_S * gap
                distance = float(haversine_m(lost_lat, lost_lon, lat, lon))
                if distance <= reach and (best is None or distance < best[0]):
                    best = (distance, sighting)
        if best is None:
            return None
        sighting = best[1]
        self._seen[info.number] = sighting
        self._counted.pop(info.number, None)  # all its contacts count for the alert
        return sighting

    def _lost(
        self, number: int, t: float, until: float, history: History
    ) -> tuple[float, float, float] | None:
        """When and where dark track ``number`` was lost (time, lat, lon of its last
        contact) if a new track seen from ``t`` to ``until`` may be its vessel: lost by
        ``t`` (give or take ``_OVERLAP_S``), within ``lost_after_s`` before it, and not
        seen while the new track was, but for up to ``_STRAY_CONTACTS`` contacts after a
        silence of ``_STRAY_SILENCE_S`` (clutter the lost track's line took). Contacts
        after ``until`` are its vessel back on it: one vessel on both, one at a time."""
        track = history.track_info(number)
        if track is None or track.last_t < t - self.config.lost_after_s or track.first_t >= t:
            return None
        points = history.history(number, t - self.config.lost_after_s)
        times = points.t[points.t <= until]
        later = int(np.count_nonzero(times > t + _OVERLAP_S))
        last = len(times) - later - 1
        if last < 0 or later > _STRAY_CONTACTS:
            return None
        if later and times[last + 1] - times[last] < _STRAY_SILENCE_S:
            return None  # its vessel was still seen: the contacts after are its own
        return float(points.t[last]), float(points.lat[last]), float(points.lon[last])

    def _confirmed(self, info: TrackInfo) -> bool:
        return (
            info.points >= self.config.min_contacts
            and info.last_t - info.first_t >= self.config.min_duration_s
        )

    def _emit(self, sighting: Sighting, status: AlertStatus, history: History) -> list[AlertDraft]:
        info = sighting.info
        if sighting.key is None:
            sighting.key = (self.kind, track_id(history, info.number), info.first_t)
        end = max(sighting.first_t, info.last_t)
        draft = make_draft(
            self.kind,
            sighting.key,
            status,
            start=sighting.first_t,
            end=end,
            lat=info.lat,
            lon=info.lon,
            tracks=tuple(sighting.tracks),
            history=history,
            label_nos=info.label_nos | sighting.evidence.label_nos,
            evidence={
                "contacts": sighting.contacts,
                "duration_s": end - sighting.first_t,
                "dark_tracks": len(sighting.tracks),
                "thresholds": {
                    "min_contacts": self.config.min_contacts,
                    "min_duration_s": self.config.min_duration_s,
                },
            },
            seqs=sighting.evidence.seqs,
        )
        emitted = self._ledger.emit(draft, sighting.tracks)
        return [emitted] if emitted is not None else []
