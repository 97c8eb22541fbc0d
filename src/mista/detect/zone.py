"""``zone-entry``: a track inside a zone polygon, with hysteresis (2 consecutive points
inside to enter, 2 outside to exit). One alert per visit of a track to a zone: OPEN while
inside, CLOSED at the last point inside before it left. The zone's id is in the evidence
(``"zone"``) so the alert's label can combine the zone's label too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mista.detect._common import (
    Evidence,
    Key,
    Ledger,
    concat,
    config_of,
    make_draft,
    reach_back,
    track_id,
    without_tracks,
)
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, TrackPoints
from mista.geo import Zones
from mista.model import AlertStatus


@dataclass(slots=True)
class Stay:
    """Where a track stands with one zone: inside or not, and the run of points that
    contradict that state so far."""

    inside: bool = False
    streak: int = 0
    streak_t: float = math.nan
    streak_lat: float = math.nan
    streak_lon: float = math.nan
    streak_evidence: Evidence = field(default_factory=Evidence)
    entry_t: float = math.nan
    lat: float = math.nan
    lon: float = math.nan
    last_inside_t: float = math.nan
    points: int = 0
    evidence: Evidence = field(default_factory=Evidence)
    key: Key | None = None


@register("zone-entry")
class ZoneEntryDetector:
    kind = "zone-entry"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).zone_entry
        zones = settings.get("zones")
        if zones is not None and not isinstance(zones, Zones):
            raise TypeError(f"detector setting 'zones' must be Zones or None, not {zones!r}")
        self._zones = zones
        self._bounds = _bounds(zones) if zones is not None else None
        self._stays: dict[tuple[int, int], Stay] = {}  # (track, zone index) -> stay
        self._hints: dict[int, list[AlertDraft]] = {}  # while re-reading a track
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        if self._zones is None or not self._zones.zones:
            return []
        out: list[AlertDraft] = []
        if chunk.revised:
            out += self._reevaluate(chunk.revised, history)
        out += self._scan(without_tracks(chunk.points, chunk.revised), history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for (track, zone), stay in list(self._stays.items()):
            if stay.inside:
                out += self._emit(track, zone, stay, AlertStatus.CLOSED, history)
        self._stays.clear()
        return out

    def _inside(self, points: TrackPoints) -> npt.NDArray[np.bool_]:
        """Per point and zone: inside (only points within the zones' bounds are tested)."""
        assert self._zones is not None
        assert self._bounds is not None
        west, south, east, north = self._bounds
        near = (
            (points.lon >= west)
            & (points.lon <= east)
            & (points.lat >= south)
            & (points.lat <= north)
        )
        inside = np.zeros((len(points), len(self._zones.zones)), np.bool_)
        rows = np.flatnonzero(near)
        if rows.shape[0]:
            inside[rows] = self._zones.inside(points.lon[rows], points.lat[rows])
        return inside

    def _scan(self, points: TrackPoints, history: History) -> list[AlertDraft]:
        good = points.good()
        if not good.all():
            points = points.take(good)
        if len(points) == 0:
            return []
        inside = self._inside(points)
        track = points.track
        firsts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
        lasts = np.r_[firsts[1:], len(points)]
        rows = zip(firsts.tolist(), lasts.tolist(), strict=True)
        span = dict(zip(track[firsts].tolist(), rows, strict=True))
        candidates = {(int(t), int(z)) for t, z in zip(*_nonzero(inside, track), strict=True)}
        candidates.update(key for key in self._stays if key[0] in span)
        out: list[AlertDraft] = []
        for number, zone in sorted(candidates):
            lo, hi = span[number]
            out += self._walk(number, zone, points, lo, inside[lo:hi, zone], history)
        return out

    def _walk(
        self,
        number: int,
        zone: int,
        points: TrackPoints,
        lo: int,
        inside: npt.NDArray[np.bool_],
        history: History,
    ) -> list[AlertDraft]:
        """Step one track's points through its state with one zone."""
        stay = self._stays.setdefault((number, zone), Stay())
        out: list[AlertDraft] = []
        enter, leave = self.config.enter_points, self.config.exit_points
        for offset, is_in in enumerate(inside.tolist()):
            row = lo + offset
            t = float(points.t[row])
            if is_in != stay.inside:
                if stay.streak == 0:
                    stay.streak_t = t
                    stay.streak_lat = float(points.lat[row])
                    stay.streak_lon = float(points.lon[row])
                    stay.streak_evidence = Evidence()
                stay.streak += 1
                if is_in:
                    stay.streak_evidence.add(points, slice(row, row + 1))
                if is_in and stay.streak >= enter:
                    stay.inside, stay.streak = True, 0
                    stay.entry_t, stay.last_inside_t = stay.streak_t, t
                    stay.lat, stay.lon = stay.streak_lat, stay.streak_lon
                    stay.evidence, stay.points = stay.streak_evidence, enter
                    stay.key = None
                    out += self._emit(number, zone, stay, AlertStatus.OPEN, history)
                elif not is_in and stay.streak >= leave:
                    out += self._emit(number, zone, stay, AlertStatus.CLOSED, history)
                    stay = self._stays[(number, zone)] = Stay()
            else:
                stay.streak = 0
                if is_in:
                    stay.last_inside_t = t
                    stay.points += 1
                    stay.evidence.add(points, slice(row, row + 1))
        if not stay.inside and stay.streak == 0:
            del self._stays[(number, zone)]
        return out

    def _emit(
        self, number: int, zone: int, stay: Stay, status: AlertStatus, history: History
    ) -> list[AlertDraft]:
        assert self._zones is not None
        info = self._zones.zones[zone]
        if stay.key is None:
            stay.key = self._hinted(number, stay) or (
                self.kind,
                track_id(history, number),
                info.id,
                stay.entry_t,
            )
        draft = make_draft(
            self.kind,
            stay.key,
            status,
            start=stay.entry_t,
            end=stay.last_inside_t,
            lat=stay.lat,
            lon=stay.lon,
            tracks=(number,),
            history=history,
            label_nos=stay.evidence.label_nos,
            evidence={
                "zone": info.id,
                "zone_name": info.name,
                "points_inside": stay.points,
                "duration_s": stay.last_inside_t - stay.entry_t,
                "thresholds": {
                    "enter_points": self.config.enter_points,
                    "exit_points": self.config.exit_points,
                },
            },
            seqs=stay.evidence.seqs,
        )
        emitted = self._ledger.emit(draft, (number,))
        return [emitted] if emitted is not None else []

    # -- late data --------------------------------------------------------------------------

    def _hinted(self, number: int, stay: Stay) -> Key | None:
        """The key of a standing alert this stay replaces after late data (same track and
        zone, overlapping in time)."""
        for hint in self._hints.get(number, []):
            if hint.start <= stay.last_inside_t and stay.entry_t <= hint.end:
                self._hints[number].remove(hint)
                return hint.key
        return None

    def _reevaluate(self, revised: Mapping[int, float], history: History) -> list[AlertDraft]:
        """Re-read the revised tracks from before their changes (in one scan) and state
        their zone visits afresh (same key when a visit overlaps its old one)."""
        parts: list[TrackPoints] = []
        affected: list[AlertDraft] = []
        for number, changed_at in revised.items():
            stands = self._ledger.of_track(number)
            since = changed_at
            for key in [key for key in self._stays if key[0] == number]:
                stay = self._stays.pop(key)
                if stay.inside:
                    since = min(since, stay.entry_t)
            since = reach_back(since, stands)
            mine = [d for d in stands if d.start >= since]
            self._hints[number] = list(mine)
            affected += mine
            parts.append(history.history(number, since))
        self._ledger.touched = set()
        try:
            out = self._scan(concat(parts), history)
            touched = self._ledger.touched
        finally:
            self._ledger.touched = None
            self._hints = {}
        for draft in affected:
            if draft.key not in touched:
                withdrawn = self._ledger.withdraw(draft.key)
                if withdrawn is not None:
                    out.append(withdrawn)
        return out


def _nonzero(
    inside: npt.NDArray[np.bool_], track: npt.NDArray[np.int64]
) -> tuple[list[int], list[int]]:
    rows, zones = np.nonzero(inside)
    return track[rows].tolist(), zones.tolist()


def _bounds(zones: Zones) -> tuple[float, float, float, float]:
    """West, south, east, north around every zone."""
    boxes = [tuple(zone.geometry.bounds) for zone in zones.zones]
    if not boxes:
        return (0.0, 0.0, -1.0, -1.0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
