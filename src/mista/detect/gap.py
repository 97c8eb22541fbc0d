"""``ais-gap``: a track not heard from for hours where it should have been.

Only the silence between two fixes of one track counts (or since the last fix, while
the track is still silent): any position the vessel sent ends a silence, even one on land
or at an implausible speed (it was transmitting), but not an outlier (another
transmitter's). A silence counts only where reception was expected: others were heard
near where the vessel was likely to be for long enough (:class:`Reception`; shore
receivers only where they heard positions all round it) that, at the vessel's own
reporting interval, missing all its reports by chance is unlikely
(:meth:`GapDetector._expected`; a larger chance is allowed for a vessel whose next fix
shows it went on at its speed, at sea all along), and away from ports (a vessel moored
there may report rarely or be switched off), and not when another MMSI stating the same
IMO number started during it (the vessel changed MMSI).

Levels (evidence ``"level"``): ``"possible"`` after 6 h of silence (Skylight's "possible
dark activity"), ``"gap"`` at 12 h (Global Fishing Watch's AIS gap). A silence is an OPEN
alert while it lasts (``end`` = the watermark when it was stated); when the track is
heard again the alert is CLOSED if the silence reached the gap level where reception was
expected, otherwise WITHDRAWN. Late positions that fall inside a silence split it: each
part stands or falls on its own length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mista.detect._common import (
    F64,
    I64,
    KNOT_M_S,
    SETTLED_KEPT_S,
    Key,
    Ledger,
    config_of,
    make_draft,
    reach_back,
    setting,
    track_id,
    without_tracks,
)
from mista.detect.base import AlertDraft, History, register
from mista.detect.config import GapConfig
from mista.detect.statics import StaticLog
from mista.fuse.chunk import FusedChunk, IdentityKind, PointFlag, SourceCode, TrackPoints
from mista.geo import METRES_PER_DEGREE, Ports, destination, haversine_m
from mista.model import AlertStatus


@dataclass(frozen=True, slots=True)
class Fix:
    """A good position of a track."""

    t: float
    lat: float
    lon: float
    seq: int
    label_no: int
    mmsi: int
    sog: float  # knots; NaN when not reported
    cog: float = math.nan  # degrees; NaN when not reported


def _fix(points: TrackPoints, row: int) -> Fix:
    return Fix(
        t=float(points.t[row]),
        lat=float(points.lat[row]),
        lon=float(points.lon[row]),
        seq=int(points.seq[row]),
        label_no=int(points.label_no[row]),
        mmsi=int(points.mmsi[row]),
        sog=float(points.sog[row]),
        cog=float(points.cog[row]),
    )


def _fixes(points: TrackPoints, rows: I64) -> list[Fix]:
    """``_fix`` of each of ``rows`` (the columns are read once, not per row)."""
    columns = (
        points.t[rows].tolist(),
        points.lat[rows].tolist(),
        points.lon[rows].tolist(),
        points.seq[rows].tolist(),
        points.label_no[rows].tolist(),
        points.mmsi[rows].tolist(),
        points.sog[rows].tolist(),
        points.cog[rows].tolist(),
    )
    return [Fix(*values) for values in zip(*columns, strict=True)]


@register("ais-gap")
class GapDetector:
    """Silences between good fixes, per track; per chunk the intervals are computed for all
    tracks at once and only the long ones are looked at one by one."""

    kind = "ais-gap"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).gap
        self._last: dict[int, Fix] = {}  # track -> its latest good fix
        self._open: dict[int, tuple[Key, str]] = {}  # track -> (key, level) of its silence
        self._reception = Reception(self.config)
        self._ports = setting(settings, "ports", Ports)
        self._interval: dict[int, float] = {}  # track -> its typical interval between fixes
        self._ledger = Ledger()
        self._pruned_at = -math.inf
        statics = settings.get("statics")
        self._statics = statics if isinstance(statics, StaticLog) else StaticLog()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        self._reception.hear(chunk.points)  # late reception counts for the late fixes too
        if chunk.revised:
            out += self._reevaluate(chunk.revised, chunk.watermark, history)
        points = without_tracks(chunk.points, chunk.revised)
        out += self._scan(points, history)
        for event in chunk.identity:
            if event.kind == IdentityKind.MMSI_CHANGE and event.other_track is not None:
                out += self._continued(event.other_track, event.t, history)
        # Before stating silences: a track the fuser has retired has no description left
        # to state one under (the watermark can jump days ahead in one chunk).
        out += self._prune(chunk.watermark)
        out += self._silent(chunk.watermark, history)
        return out

    def _prune(self, watermark: float) -> list[AlertDraft]:
        """Stop watching tracks silent for longer than ``SETTLED_KEPT_S`` (hourly): the
        fuser retires them (a vessel heard again starts a new track), so their silence
        can end no other way. A gap-level silence is closed where it was watched to
        (``SETTLED_KEPT_S`` after its last fix at most, evidence ``"watched_until"``), a
        possible one withdrawn; the tracks' state and old reception are forgotten, so
        memory is bounded by active vessels."""
        if watermark - self._pruned_at < 3600.0:
            return []
        self._pruned_at = watermark
        horizon = watermark - SETTLED_KEPT_S
        out: list[AlertDraft] = []
        for number, fix in [(n, fix) for n, fix in self._last.items() if fix.t < horizon]:
            del self._last[number]
            self._interval.pop(number, None)
            opened = self._open.pop(number, None)
            last = None if opened is None else self._ledger.get(opened[0])
            if opened is None or last is None:
                continue
            key, level = opened
            watched = min(watermark, fix.t + SETTLED_KEPT_S)
            # Stated "possible" before the stream jumped on: judged now, to where watched.
            late_gap = level != "gap" and watched - fix.t >= self.config.gap_s
            if late_gap and self._expected(number, fix, None, watched):
                level = "gap"
            if level != "gap":
                withdrawn = self._ledger.withdraw(key)
                out += [withdrawn] if withdrawn is not None else []
                continue
            evidence = {**last.evidence, "level": level, "duration_s": watched - last.start}
            evidence["watched_until"] = watched
            closed = replace(last, status=AlertStatus.CLOSED, end=watched, evidence=evidence)
            emitted = self._ledger.emit(closed, (number,))
            out += [emitted] if emitted is not None else []
        self._reception.forget_before(horizon)
        return out

    def _continued(self, number: int, at_t: float, history: History) -> list[AlertDraft]:
        """The vessel of track ``number`` goes on under another MMSI from ``at_t``: its old
        track is no longer silent (an identity change, not a gap), so stop watching it."""
        last = self._last.pop(number, None)
        if last is None or number not in self._open:
            return []
        return self._end_silence(number, last, None, max(at_t, last.t), history)

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        """Silences still going on end at the end of the stream: a gap-level one is closed
        there, a possible one withdrawn."""
        out: list[AlertDraft] = []
        out += self._silent(watermark, history)
        for track in list(self._open):
            out += self._end_silence(track, self._last[track], None, watermark, history)
        return out

    # -- scanning ---------------------------------------------------------------------------

    def _scan(self, points: TrackPoints, history: History) -> list[AlertDraft]:
        good = _heard(points)
        if not good.all():
            points = points.take(good)
        n = len(points)
        if n == 0:
            return []
        track, t = points.track, points.t
        firsts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
        lasts = np.r_[firsts[1:] - 1, n - 1]
        previous_t = np.empty(n)
        previous_t[1:] = t[:-1]
        numbers = track[firsts].tolist()
        previous_t[firsts] = [
            self._last[number].t if number in self._last else np.inf for number in numbers
        ]
        silence = t - previous_t
        is_first = np.zeros(n, np.bool_)
        is_first[firsts] = True
        out: list[AlertDraft] = []
        for row in np.flatnonzero(silence >= self.config.possible_s).tolist():
            number = int(track[row])
            before = self._last[number] if is_first[row] else _fix(points, row - 1)
            after = _fix(points, row)
            if is_first[row] and number in self._open:
                out += self._end_silence(number, before, after, after.t, history)
            elif after.t - before.t >= self.config.gap_s and self._expected(
                number, before, after, after.t
            ):
                out += self._state(number, before, after, after.t, AlertStatus.CLOSED, history)
        for number, row in zip(numbers, firsts.tolist(), strict=True):
            if number in self._open:  # heard again before the silence was long at all
                out += self._end_silence(
                    number, self._last[number], _fix(points, row), 0.0, history
                )
        self._measure_intervals(points, firsts)
        self._last.update(zip(numbers, _fixes(points, lasts), strict=True))
        return out

    def _end_silence(
        self, number: int, before: Fix, after: Fix | None, watermark: float, history: History
    ) -> list[AlertDraft]:
        """The open silence of ``number`` ended at ``after`` (``None``: at ``watermark``)."""
        key, _ = self._open.pop(number)
        end = after.t if after is not None else watermark
        if end - before.t >= self.config.gap_s and self._expected(number, before, after, end):
            return self._state(number, before, after, end, AlertStatus.CLOSED, history)
        withdrawn = self._ledger.withdraw(key)
        return [withdrawn] if withdrawn is not None else []

    def _silent(self, watermark: float, history: History) -> list[AlertDraft]:
        """Tracks silent now for the possible or the gap level, where reception was
        expected: open (or raise) the alert."""
        possible_before = watermark - self.config.possible_s
        due: list[tuple[int, Fix]] = []
        for number, fix in self._last.items():
            if fix.t > possible_before:
                continue
            current = self._open.get(number)
            if current is not None and current[1] == self._level(watermark - fix.t):
                continue
            due.append((number, fix))
        if not due:
            return []
        # One port look-up for all of them (the rest of ``_expected`` goes one by one).
        by_port = self._near_ports([fix for _, fix in due])
        out: list[AlertDraft] = []
        for (number, fix), near_port in zip(due, by_port.tolist(), strict=True):
            if not self._expected(number, fix, None, watermark, near_port=near_port):
                continue
            out += self._state(number, fix, None, watermark, AlertStatus.OPEN, history)
        return out

    def _measure_intervals(self, points: TrackPoints, firsts: I64) -> None:
        """Each track's typical interval between fixes heard close together by shore
        receivers (which hear nearly every report in range; a satellite hears a fraction,
        so its fixes are further apart than the vessel's reports): the mean of this
        chunk's, when it has some."""
        n = len(points)
        if n < 2:
            return
        dt = np.diff(points.t)
        close = (points.track[1:] == points.track[:-1]) & (dt > 0) & (dt < _CLOSE_S)
        close &= (points.source[1:] == SourceCode.AIS_TERRESTRIAL) & (
            points.source[:-1] == SourceCode.AIS_TERRESTRIAL
        )
        close[firsts[1:] - 1] = False
        rows = np.flatnonzero(close)
        if rows.shape[0] == 0:
            return
        numbers, inverse = np.unique(points.track[rows + 1], return_inverse=True)
        sums = np.bincount(inverse, weights=dt[rows])
        counts = np.bincount(inverse)
        for number, mean in zip(numbers.tolist(), (sums / counts).tolist(), strict=True):
            self._interval[int(number)] = mean

    def _near_ports(self, fixes: list[Fix]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Per fix, whether it is within ``min_port_distance_m`` of a port."""
        _, port_m = self._ports.nearest(
            np.array([fix.lon for fix in fixes]), np.array([fix.lat for fix in fixes])
        )
        near: np.ndarray[Any, np.dtype[np.bool_]] = port_m < self.config.min_port_distance_m
        return near

    def _expected(
        self,
        number: int,
        before: Fix,
        after: Fix | None,
        end: float,
        *,
        near_port: bool | None = None,
    ) -> bool:
        """Reception was expected during the silence from ``before`` to ``end``: the
        chance that the vessel, at its reporting interval, went unheard for all the time
        others were heard near it (its exposure) is at most ``max_chance``
        (``kept_going_max_chance`` when ``after`` shows it went on at its speed: it was
        under way at sea all along, not stopped where it may report rarely); neither end
        of the silence is near a port; its MMSI was not heard meanwhile on another track
        (the fuser split the vessel's track); and it did not go on under another MMSI of
        its IMO number. ``near_port``: whether ``before`` is near a port, when the caller
        looked it up already (only without ``after``)."""
        config = self.config
        if near_port is None:
            near_port = bool(self._near_ports([before] if after is None else [before, after]).any())
        if near_port:
            return False
        if self._reception.mmsi_heard(before, end):
            return False
        if self._carried_on(before, end):
            return False
        interval = max(self._interval.get(number, self._usual_interval(before)), _FORWARD_S)
        if after is not None and _stopped(before, after):
            interval = max(interval, config.stopped_interval_s)
        reports = self._reception.exposure_s(before, after, end) / interval
        miss = (1.0 - config.report_probability) ** reports
        max_chance = config.max_chance
        if after is not None and _kept_going(before, after, config.kept_going_share):
            max_chance = config.kept_going_max_chance
        return reports > 0 and miss <= max_chance

    def _usual_interval(self, fix: Fix) -> float:
        """The interval between reports a vessel not measured sends (ITU-R M.1371: class A
        every 2-10 s under way, class B every 30 s above 2 kn, so as often as the network
        forwards; every 3 min at anchor or slow), by its speed at ``fix``."""
        if not math.isfinite(fix.sog):
            return self.config.unknown_interval_s
        return _FORWARD_S if fix.sog >= _STOPPED_KN else self.config.stopped_interval_s

    def _carried_on(self, before: Fix, end: float) -> bool:
        """The vessel went on under another MMSI: one that stated the same IMO number was
        first heard during the silence (an MMSI change the fuser could not link)."""
        for other in self._statics.same_imo(before.mmsi):
            first = self._reception.first_heard(other)
            if first is not None and before.t <= first <= end:
                return True
        return False

    def _level(self, silence_s: float) -> str:
        return "gap" if silence_s >= self.config.gap_s else "possible"

    def _state(
        self,
        number: int,
        before: Fix,
        after: Fix | None,
        end: float,
        status: AlertStatus,
        history: History,
    ) -> list[AlertDraft]:
        key: Key = (self.kind, track_id(history, number), before.t)
        level = self._level(end - before.t)
        if status == AlertStatus.OPEN:
            self._open[number] = (key, level)
        labels = {before.label_no} | ({after.label_no} if after is not None else set())
        seqs = [before.seq] + ([after.seq] if after is not None else [])
        evidence: dict[str, Any] = {
            "level": level,
            "duration_s": end - before.t,
            "last_fix": {"t": before.t, "lat": before.lat, "lon": before.lon},
            "next_fix": (
                {"t": after.t, "lat": after.lat, "lon": after.lon} if after is not None else None
            ),
            "thresholds": {"gap_s": self.config.gap_s, "possible_s": self.config.possible_s},
        }
        draft = make_draft(
            self.kind,
            key,
            status,
            start=before.t,
            end=end,
            lat=before.lat,
            lon=before.lon,
            tracks=(number,),
            history=history,
            label_nos=labels,
            evidence=evidence,
            seqs=seqs,
        )
        emitted = self._ledger.emit(draft, (number,))
        return [emitted] if emitted is not None else []

    # -- late data --------------------------------------------------------------------------

    def _reevaluate(
        self, revised: Mapping[int, float], watermark: float, history: History
    ) -> list[AlertDraft]:
        """Re-read the revised tracks from before their changes (in one scan): every
        silence in that window is stated afresh (same key when it starts at the same fix),
        the rest withdrawn."""
        wanted: list[tuple[int, float]] = []  # (track, since), read at once below
        affected: list[AlertDraft] = []
        standing = {number: self._ledger.of_track(number) for number in revised}
        # From the fix before, so a silence that ran into the window is seen whole
        # (a late fix often ends a silence no alert was standing for yet).
        fixes_before = _fixes_before(
            history,
            {
                number: reach_back(changed_at - self.config.possible_s, standing[number])
                for number, changed_at in revised.items()
            },
            {number: number in self._interval for number in revised},
        )
        for number in revised:
            since = fixes_before[number]
            affected += [d for d in standing[number] if d.start >= since]
            wanted.append((number, since))
            self._open.pop(number, None)
            self._last.pop(number, None)
        self._ledger.touched = set()
        try:
            out = self._scan(history.histories(wanted), history)
            for number in revised:
                out += self._silent_one(number, watermark, history)
            touched = self._ledger.touched
        finally:
            self._ledger.touched = None
        for draft in affected:
            if draft.key not in touched:
                withdrawn = self._ledger.withdraw(draft.key)
                if withdrawn is not None:
                    out.append(withdrawn)
        return out

    def _silent_one(self, number: int, watermark: float, history: History) -> list[AlertDraft]:
        fix = self._last.get(number)
        if fix is None or watermark - fix.t < self.config.possible_s:
            return []
        if not self._expected(number, fix, None, watermark):
            return []
        return self._state(number, fix, None, watermark, AlertStatus.OPEN, history)


def _heard(points: TrackPoints) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """AIS positions the vessel sent (radar is not expected; an outlier is another
    transmitter's)."""
    mask: np.ndarray[Any, np.dtype[np.bool_]] = (points.mmsi >= 0) & (
        (points.flags & np.uint16(PointFlag.OUTLIER)) == 0
    )
    return mask


def _stopped(before: Fix, after: Fix) -> bool:
    """The vessel covered less than half the distance its speed at ``before`` would have
    taken it (and under 3 kn on average): it stopped somewhere in the silence."""
    metres = float(haversine_m(before.lat, before.lon, after.lat, after.lon))
    implied_kn = metres / max(after.t - before.t, 1.0) / KNOT_M_S
    sog = before.sog if math.isfinite(before.sog) else 0.0
    return implied_kn < max(_STOPPED_KN, 0.5 * sog)


def _kept_going(before: Fix, after: Fix, share: float) -> bool:
    """The vessel was under way (3 kn or more) at ``before`` and covered at least
    ``share`` of the distance that speed would have taken it by ``after``: it went on
    at sea through the silence, without stopping anywhere."""
    if not (math.isfinite(before.sog) and before.sog >= _STOPPED_KN):
        return False
    metres = float(haversine_m(before.lat, before.lon, after.lat, after.lon))
    return metres >= share * before.sog * KNOT_M_S * (after.t - before.t)


#: Below this average speed a vessel is taken to have stopped (anchored or moored).
_STOPPED_KN = 3.0
#: Fixes closer than this are from one pass or one receiver: they measure the rate.
_CLOSE_S = 900.0
#: Networks forward at most one report per vessel per minute.
_FORWARD_S = 60.0
#: The 3 x 3 reception cells around a position, as offsets of a cell number.
_OFFSETS = tuple(dr * 100_000 + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1))
#: Silences whose counts are carried from chunk to chunk (beyond this, start afresh).
_MAX_OPEN_COUNTS = 100_000


class _Grid:
    """Per cell of ``cell_deg``, the slots in which any AIS position was heard, each with
    the first and last time heard in it."""

    def __init__(self, cell_deg: float) -> None:
        self.cell_deg = cell_deg
        self.slots: dict[int, dict[int, tuple[float, float]]] = {}

    def cells(self, lat: F64, lon: F64) -> I64:
        row = np.floor((lat + 90.0) / self.cell_deg).astype(np.int64)
        col = np.floor(((lon + 180.0) % 360.0) / self.cell_deg).astype(np.int64)
        cells: I64 = row * 100_000 + col
        return cells

    def add(self, lat: F64, lon: F64, slots: I64, t: F64) -> None:
        cells = self.cells(lat, lon)
        order = np.lexsort((t, slots, cells))
        cells, slots, t = cells[order], slots[order], t[order]
        change = (cells[1:] != cells[:-1]) | (slots[1:] != slots[:-1])
        firsts = np.flatnonzero(np.r_[True, change])
        lasts = np.r_[firsts[1:] - 1, len(t) - 1]
        for cell, slot, t0, t1 in zip(
            cells[firsts].tolist(),
            slots[firsts].tolist(),
            t[firsts].tolist(),
            t[lasts].tolist(),
            strict=True,
        ):
            held = self.slots.setdefault(cell, {})
            known = held.get(slot)
            held[slot] = (t0, t1) if known is None else (min(known[0], t0), max(known[1], t1))

    def forget_before(self, slot: int) -> None:
        for cell in list(self.slots):
            kept = {s: span for s, span in self.slots[cell].items() if s >= slot}
            if kept:
                self.slots[cell] = kept
            else:
                del self.slots[cell]

    def spans(self, centre: int, slot: int) -> list[tuple[float, float]]:
        """The spans heard in ``slot`` in the 3 x 3 cells around cell ``centre``."""
        slots = self.slots
        found: list[tuple[float, float]] = []
        for offset in _OFFSETS:
            held = slots.get(centre + offset)
            if held is not None:
                span = held.get(slot)
                if span is not None:
                    found.append(span)
        return found

    def around(self, lat: float, lon: float) -> list[dict[int, tuple[float, float]]]:
        """The slots of the 3 x 3 cells around a position."""
        centre = int(self.cells(np.array([lat]), np.array([lon]))[0])
        empty: dict[int, tuple[float, float]] = {}
        return [self.slots.get(centre + offset, empty) for offset in _OFFSETS]


class _ShoreCoverage:
    """Where shore receivers heard any position: per cell of ``cell_deg``, the latest
    position heard in it. A shore receiver hears all round itself out to its range, so a
    position is covered when positions were heard all round it (:meth:`all_round`); one
    beyond a receiver's range has all that receiver heard on one side of it."""

    def __init__(self, cell_deg: float, reach_m: float) -> None:
        self.cell_deg = cell_deg
        self.reach_m = reach_m
        self.latest: dict[int, tuple[float, float, float]] = {}  # cell -> (t, lat, lon)
        self._columns = round(360.0 / cell_deg)

    def add(self, lat: F64, lon: F64, t: F64) -> None:
        cells = self._cells(lat, lon)
        order = np.lexsort((t, cells))
        cells, lat, lon, t = cells[order], lat[order], lon[order], t[order]
        lasts = np.r_[np.flatnonzero(cells[1:] != cells[:-1]), len(cells) - 1]
        latest = self.latest
        for cell, heard in zip(
            cells[lasts].tolist(),
            zip(t[lasts].tolist(), lat[lasts].tolist(), lon[lasts].tolist(), strict=True),
            strict=True,
        ):
            known = latest.get(cell)
            if known is None or known[0] <= heard[0]:
                latest[cell] = heard

    def forget_before(self, t: float) -> None:
        self.latest = {cell: heard for cell, heard in self.latest.items() if heard[0] >= t}

    def all_round(self, lat: float, lon: float) -> bool:
        """Positions were heard all round (``lat``, ``lon``) within ``reach_m``: the
        bearings to them leave no empty sector of 180 degrees or more (the position lies
        inside their hull)."""
        cell = self.cell_deg
        reach_lat = self.reach_m / METRES_PER_DEGREE
        reach_lon = reach_lat / max(math.cos(math.radians(lat)), 0.1)
        rows = np.arange(
            math.floor((lat - reach_lat + 90.0) / cell),
            math.floor((lat + reach_lat + 90.0) / cell) + 1,
        )
        columns = np.arange(
            math.floor((lon - reach_lon + 180.0) / cell),
            math.floor((lon + reach_lon + 180.0) / cell) + 1,
        )
        wanted = (rows[:, None] * 100_000 + columns[None, :] % self._columns).ravel()
        latest = self.latest
        heard = [latest[c] for c in wanted.tolist() if c in latest]
        if len(heard) < 3:
            return False
        at = np.array(heard)
        north = (at[:, 1] - lat) * METRES_PER_DEGREE
        east = ((at[:, 2] - lon + 180.0) % 360.0 - 180.0) * METRES_PER_DEGREE
        east *= math.cos(math.radians(lat))
        near = np.hypot(north, east) <= self.reach_m
        if near.sum() < 3:
            return False
        bearings = np.sort(np.degrees(np.arctan2(east[near], north[near])))
        widest = np.diff(np.r_[bearings, bearings[0] + 360.0]).max()
        return bool(widest < 180.0)

    def _cells(self, lat: F64, lon: F64) -> I64:
        row = np.floor((lat + 90.0) / self.cell_deg).astype(np.int64)
        col = np.floor(((lon + 180.0) % 360.0) / self.cell_deg).astype(np.int64)
        cells: I64 = row * 100_000 + col
        return cells


class Reception:
    """Where and when any AIS position was heard, per kind of receiver: per cell and slot
    (``reception_slot_s``), the first and last time. Shore receivers are kept on fine
    cells (``reception_cell_deg``: they hear only near themselves), satellites on coarse
    ones (``satellite_cell_deg``: a pass hears a wide footprint). A shore receiver's
    reception counts only where it heard positions all round the vessel's likely position
    (:class:`_ShoreCoverage`): beyond its range, all it heard lies on one side.

    Reception near a silent vessel is measured as *exposure*: per slot, how long others
    were heard near it (first to last, plus the forwarding interval each reception stands
    for: a satellite pass whose footprint edge only brushed the area hears it for a minute
    or two, a shore receiver the whole slot); the vessel would have sent
    ``exposure / interval`` reports in that time."""

    def __init__(self, config: GapConfig) -> None:
        self._slot_s = config.reception_slot_s
        self._margin_s = config.reception_margin_s
        self._shore = _Grid(config.reception_cell_deg)
        self._satellite = _Grid(config.satellite_cell_deg)
        self._coverage = _ShoreCoverage(config.shore_coverage_cell_deg, config.shore_all_round_m)
        self._mmsi_slots: dict[int, set[int]] = {}
        self._first_slot: dict[int, int] = {}  # MMSI -> the first slot it was heard in
        self._open_exposure: dict[tuple[float, float, float], tuple[int, float]] = {}

    def hear(self, points: TrackPoints) -> None:
        heard = _heard(points)
        if not heard.any():
            return
        t, lat, lon = points.t[heard], points.lat[heard], points.lon[heard]
        slots = np.floor(t / self._slot_s).astype(np.int64)
        by_satellite = points.source[heard] == SourceCode.AIS_SATELLITE
        for grid, rows in ((self._satellite, by_satellite), (self._shore, ~by_satellite)):
            if rows.any():
                grid.add(lat[rows], lon[rows], slots[rows], t[rows])
        if not by_satellite.all():
            self._coverage.add(lat[~by_satellite], lon[~by_satellite], t[~by_satellite])
        for mmsi, slot in set(zip(points.mmsi[heard].tolist(), slots.tolist(), strict=True)):
            self._mmsi_slots.setdefault(mmsi, set()).add(slot)
            first = self._first_slot.get(mmsi)
            if first is None or slot < first:
                self._first_slot[mmsi] = slot

    def mmsi_heard(self, before: Fix, end: float) -> bool:
        """``before``'s MMSI was heard (on any track) during the silence from it to
        ``end``, past the margins."""
        first = math.ceil((before.t + self._margin_s) / self._slot_s)
        last = math.floor((end - self._margin_s) / self._slot_s) - 1
        heard = self._mmsi_slots.get(before.mmsi, set())
        if len(heard) < last - first + 1:  # whichever of the two is shorter to walk
            return any(first <= slot <= last for slot in heard)
        return any(slot in heard for slot in range(first, last + 1))

    def first_heard(self, mmsi: int) -> float | None:
        """The start of the first slot ``mmsi`` was heard in (``None``: never, or not for
        longer than reception is kept)."""
        first = self._first_slot.get(mmsi)
        return first * self._slot_s if first is not None else None

    def forget_before(self, t: float) -> None:
        """Forget reception before ``t``: no silence still watched reaches back so far."""
        slot = math.floor(t / self._slot_s)
        for mmsi in list(self._mmsi_slots):
            kept = {s for s in self._mmsi_slots[mmsi] if s >= slot}
            if kept:
                self._mmsi_slots[mmsi] = kept
            else:
                del self._mmsi_slots[mmsi]
                self._first_slot.pop(mmsi, None)
        self._shore.forget_before(slot)
        self._satellite.forget_before(slot)
        self._coverage.forget_before(t)
        self._open_exposure = {k: v for k, v in self._open_exposure.items() if k[0] >= t}

    def exposure_s(self, before: Fix, after: Fix | None, end: float) -> float:
        """Seconds of reception near the vessel's likely position during the silence from
        ``before`` to ``end`` (slots wholly inside it less the margin at each end), by
        either kind of receiver: on the line to ``after`` (its next fix), or dead-reckoned
        from ``before`` when there is none."""
        first = math.ceil((before.t + self._margin_s) / self._slot_s)
        last = math.floor((end - self._margin_s) / self._slot_s) - 1
        if last < first:
            return 0.0
        if after is None or after.t <= before.t:
            return self._open_exposure_s(before, first, last)
        slots = np.arange(first, last + 1, dtype=np.int64)
        share = np.clip(((slots + 0.5) * self._slot_s - before.t) / (after.t - before.t), 0, 1)
        lat = before.lat + share * (after.lat - before.lat)
        lon = before.lon + share * (after.lon - before.lon)
        return self._exposure_along(slots, lat, lon)

    def _open_exposure_s(self, before: Fix, first: int, last: int) -> float:
        """``exposure_s`` for a silence still going on: the vessel is dead-reckoned from
        its last fix (at its reported speed and course; held there when stopped or
        unknown), and the sum carries on from where the previous chunk left it (a
        silence is asked about at every chunk; months of silence must not be walked
        again each time)."""
        key = (before.t, before.lat, before.lon)
        counted_to, total = self._open_exposure.get(key, (first - 1, 0.0))
        if counted_to < last:
            start = max(first, counted_to + 1)
            if _moving(before):
                slots = np.arange(start, last + 1, dtype=np.int64)
                elapsed = np.clip((slots + 0.5) * self._slot_s - before.t, 0.0, _MAX_RECKON_S)
                lat, lon = destination(
                    before.lat, before.lon, before.cog, before.sog * KNOT_M_S * elapsed
                )
                total += self._exposure_along(slots, np.asarray(lat), np.asarray(lon))
            else:
                total += self._exposure_at(before.lat, before.lon, start, last)
            if len(self._open_exposure) >= _MAX_OPEN_COUNTS:
                self._open_exposure.clear()
            self._open_exposure[key] = (last, total)
        return total

    def _near(self, lat: float, lon: float) -> list[dict[int, tuple[float, float]]]:
        """The slots of the cells whose reception counts for a vessel at a position:
        the satellites' near it, the shore receivers' only where they heard all round it."""
        near = self._satellite.around(lat, lon)
        if self._coverage.all_round(lat, lon):
            near += self._shore.around(lat, lon)
        return near

    def _exposure_at(self, lat: float, lon: float, start: int, last: int) -> float:
        """Exposure in the slots from ``start`` to ``last`` near one position."""
        spans: dict[int, tuple[float, float]] = {}
        for cell in self._near(lat, lon):
            if len(cell) < last - start + 1:
                items = [(slot, span) for slot, span in cell.items() if start <= slot <= last]
            else:
                items = [(slot, cell[slot]) for slot in range(start, last + 1) if slot in cell]
            for slot, (t0, t1) in items:
                known = spans.get(slot)
                spans[slot] = (t0, t1) if known is None else (min(known[0], t0), max(known[1], t1))
        return sum(t1 - t0 + _FORWARD_S for t0, t1 in spans.values())

    def _exposure_along(self, slots: I64, lat: F64, lon: F64) -> float:
        """Exposure near the vessel's position in each slot (a shore receiver's only
        where it heard all round that position)."""
        total = 0.0
        shore, satellite = self._shore, self._satellite
        for slot, shore_cell, satellite_cell, at_lat, at_lon in zip(
            slots.tolist(),
            shore.cells(lat, lon).tolist(),
            satellite.cells(lat, lon).tolist(),
            lat.tolist(),
            lon.tolist(),
            strict=True,
        ):
            heard = satellite.spans(satellite_cell, slot)
            by_shore = shore.spans(shore_cell, slot)
            if by_shore and self._coverage.all_round(at_lat, at_lon):
                heard += by_shore
            if heard:
                t0 = min(span[0] for span in heard)
                t1 = max(span[1] for span in heard)
                total += t1 - t0 + _FORWARD_S
        return total


def _fixes_before(
    history: History, times: Mapping[int, float], dense: Mapping[int, bool]
) -> dict[int, float]:
    """Per track, the time of its last good fix before ``times[track]`` (that time if
    none is retained in the longest of its windows, ``_DENSE_REACH_S`` for a ``dense``
    track, else ``_SPARSE_REACH_S``, looked for in ever longer ones). All tracks' next
    window is read at once: most find their fix in the first."""
    found = dict(times)
    left = list(times)  # tracks still looking, in order
    level = 0
    while left:
        windows = [_DENSE_REACH_S if dense[n] else _SPARSE_REACH_S for n in left]
        asked = [(n, w) for n, w in zip(left, windows, strict=True) if level < len(w)]
        if not asked:
            break
        points = history.histories([(n, times[n] - w[level]) for n, w in asked])
        heard_at: dict[int, float] = {}
        if len(points):
            track = points.track
            firsts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
            counts = np.diff(np.r_[firsts, len(points)])
            numbers = track[firsts].tolist()
            before = points.t < np.repeat([times[n] for n in numbers], counts)
            rows = np.where(_heard(points) & before, np.arange(len(points)), -1)
            last = np.maximum.reduceat(rows, firsts)
            for number, row in zip(numbers, last.tolist(), strict=True):
                if row >= 0:
                    heard_at[number] = float(points.t[row])
        found.update(heard_at)
        left = [n for n, _ in asked if n not in heard_at]
        level += 1
    return found


#: The windows ``_fixes_before`` looks back in: from an hour for a track heard often
#: (one with a measured interval: it has one within minutes), from 6 h for the others.
_DENSE_REACH_S = (3600.0, 6 * 3600.0, 48 * 3600.0)
_SPARSE_REACH_S = (6 * 3600.0, 48 * 3600.0)


def _moving(fix: Fix) -> bool:
    """The fix reports a speed and course worth dead-reckoning on."""
    return math.isfinite(fix.sog) and math.isfinite(fix.cog) and fix.sog >= _STOPPED_KN


#: A silent vessel is dead-reckoned at most this long (beyond, its course says little).
_MAX_RECKON_S = 24 * 3600.0
