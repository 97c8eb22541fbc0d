"""``spoofing``: runs of positions the fuser flagged as impossible for the vessel.

Reasons (evidence ``"reason"``): ``"land"`` (positions well inland and away from ports:
a coarse coastline puts harbour and river berths on land; reached by a jump, or, when
they are the first heard of the track, left by one: a vessel first heard up a river has
no jump either side), ``"speed"`` (implied speed
over 30 kn from the track, or a short-lived segment of a split MMSI: GFW's segmenter
rule), and ``"circle"`` (outlier positions that lie on a circle: a replayed or generated
track). Unlike the other detectors this one reads the flagged points, not the good ones,
with one exception: a circle heard where there was no true position to jump from (a
track's first fixes, or after a long silence) is plausible fix to fix, so the fuser
flags nothing. Its giveaway is that the positions go round while the vessel reports a
steady course: a track whose good fixes move against the course it reports (more than
90° off, while it reports way on) is watched, and its good fixes of the last hour that
lie on a circle are a run too.

A run (speed or land) that takes up where an earlier one of the same track left off
(reachable from its last point below the implausible speed) is a second transmitter using
the MMSI (whose path may cross a coarse coastline), not a spoof: a spoof is one excursion,
a shared MMSI keeps coming back along its own path. Both runs are then no spoofing (an
alert already raised for the earlier one is withdrawn; the shared-mmsi detector is told,
``SecondTransmitters``). So are speed runs within a day of
the fuser finding two vessels on the track's MMSI (a shared-MMSI event: two transmitters
heard interleaved, which a spoof, one transmitter's false positions, is not; or another
vessel's name and call sign in its static data). So is a speed run holding two vessels:
a step between two of its points no vessel could make, its two ends reporting speeds
more than 3 kn apart (a spoof carries the one vessel's own speed throughout; a twin
moored far away reports its own).

A jump spoof shifts the vessel's positions by an offset for a while. The fuser flags the
jump away, then may take the shifted positions as the track (each is plausible from the
one before), and flags the jump back: two short speed runs. When the jump back lands where
the vessel's last fix before the excursion, held on its course and speed, would be by then
(``_excursion``), and the positions between report that vessel's speed (a spoof
carries the vessel's own; another vessel on the MMSI sails at its own), everything from
the jump away to the jump back is one spoofing alert, and the jump back is none. Not when
the jump away was already found to be a second transmitter's (above): a twin sailing
the same speed near the vessel's path, heard in its place for a while, is no excursion.
Heard only at satellite passes hours apart, the jump away may be plausible from the fix
before the silence, so only the jump back is flagged: then the fixes heard since the
track's last silence are the excursion when the jump back lands where the fix before
that silence would be by then and they do not (``_silent_excursion``). The mirror case:
when the fuser took false fixes after a silence as the track (a circle's first fix), the
vessel heard again on its own path is the flagged run; landing where the fix before that
silence would be by then, it is no spoof (``_back_on_own_path``). A spoof heard at one
satellite pass only, plausible from the passes either side, shows by the vessel's own
report: the pass is nowhere near where its course and speed before the silence lead,
and the pass after is (``mista.detect._passes``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mista.detect._common import (
    EARTH_RADIUS_M,
    KNOT_M_S,
    MAX_SEQS,
    Key,
    config_of,
    flat_distance_m,
    setting,
)
from mista.detect._passes import PassLog, PassTriple, off_own_reckoning
from mista.detect._runs import _FIX_BEFORE_KEPT_S, F64, Marks, Run, RunDetector
from mista.detect.base import AlertDraft, History, register
from mista.detect.identity import swaps
from mista.detect.transmitters import SecondTransmitter, SecondTransmitters
from mista.fuse.chunk import FusedChunk, IdentityKind, PointFlag, TrackPoints
from mista.geo import METRES_PER_DEGREE, LandMask, Ports, destination
from mista.model import AlertStatus

_LAND, _SPEED, _CIRCLE = 1, 2, 3
_REASONS = {_LAND: "land", _SPEED: "speed", _CIRCLE: "circle"}
_SPEED_FLAGS = np.uint16(PointFlag.IMPLAUSIBLE_SPEED | PointFlag.OUTLIER)
_OUTLIER = np.uint16(PointFlag.OUTLIER)
_LAND_FLAG = np.uint16(PointFlag.ON_LAND)


#: Runs are remembered this long after they end, to link a second transmitter's
#: (offshore it may be heard only on the odd satellite pass, hours apart).
_EXCURSION_MEMORY_S = 24 * 3600.0
#: A good fix moves against the reported course when the two differ by more than this,
#: with the fixes this far apart at least and this close in time (a turning vessel's
#: chord is off its course by half the turn), and the vessel reports this much way on.
_AGAINST_COURSE_DEG = 90.0
_COURSE_MIN_STEP_M = 200.0
_COURSE_MAX_STEP_S = 600.0
_COURSE_MIN_SOG_KN = 3.0
#: A track seen moving against its course is watched this long (its fixes on a circle).
_WATCH_S = 3600.0
#: Fixes moving against their course are spoofed already; their circle need cover only
#: this much of a turn to tell it from scatter (one satellite pass, a few minutes, sees
#: 60-180° of a circle turned in 10-30 minutes).
_WATCHED_MIN_ARC_DEG = 45.0
#: A circle's fixes go against a steady reported course about half the time; a vessel
#: whose reported course lags a sharp turn, once or twice. A watched track's fixes of the
#: last hour are a circle only if at least this many of them, and this share, did.
_MIN_AGAINST_FIXES = 3
_MIN_AGAINST_SHARE = 0.25
#: A speed run of at least this long that moves at the speed it reports, which differs
#: from the track's own by more than this, is another vessel (the fuser links an MMSI
#: change by speeds within the same 3 kn).
_OWN_MOTION_MIN_S = 120.0
_OTHER_VESSEL_KN = 3.0
#: A watched track's fixes, this many over this long with none against the course, are
#: its true track.
_TRUE_STRETCH_FIXES = 10
_TRUE_STRETCH_S = 1200.0
#: A jump back lands on the vessel's own path when it is within this distance, or this
#: share of the distance sailed, of where the vessel's last fix before the jump away,
#: held on its course and speed, would be by then; the excursion lasted this long at most.
_RETURN_MIN_M = 2000.0
_RETURN_SHARE = 0.1
_RETURN_MAX_S = 6 * 3600.0
#: Fixes further apart than this are heard at different times (a satellite pass hears a
#: vessel for 10-15 minutes, the next comes 1.5-3.5 h later): a silence between them.
_SILENCE_S = 1800.0
#: One good fix kept while a track is watched: time, lat, lon, 1.0 if it moved against
#: its reported course (else 0.0).
WatchedFix = tuple[float, float, float, float]


@register("spoofing")
class SpoofingDetector(RunDetector):
    """A run is the flagged points of one track with one reason, no more than
    ``max_gap_s`` apart (true positions in between do not end it); an alert needs
    ``min_points`` points."""

    kind = "spoofing"
    broken_by_other_points = False
    keep_positions = True
    uses_prev_fix = False

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.config = config_of(settings).spoofing
        self.max_gap_s = self.config.max_gap_s
        self._land = setting(settings, "land", LandMask)
        self._ports = setting(settings, "ports", Ports)
        self._sound: dict[int, tuple[float, float, float]] = {}  # track -> last sound t, lat, lon
        self._sound_sog: dict[int, float] = {}  # track -> reported speed at that point
        self._history: History | None = None  # the fuser's, during an update or finish
        # track -> its recent runs by start time, and the start times of those found
        # to be a second transmitter's.
        self._excursions: dict[int, dict[float, Run]] = {}
        self._shared: set[tuple[int, float]] = set()
        self._withdrawn: list[AlertDraft] = []
        self._clashes: dict[int, float] = {}  # track -> its latest shared-MMSI event
        # Tracks seen moving against their course: their good fixes of the last hour, and
        # the latest circle those fixes made.
        self._watched: dict[int, list[WatchedFix]] = {}
        self._circles: dict[int, tuple[float, float, float, float, float]] = {}
        # Jumps back to the track's own path: the last speed run checked per track, and
        # the excursion each jump back (track, start) ends.
        self._checked: dict[int, float] = {}
        self._ended: dict[tuple[int, float], Run] = {}
        # Speed runs that are the vessel back on its own path after false fixes the fuser
        # took as the track (track, start).
        self._own_path: set[tuple[int, float]] = set()
        # Land runs with nothing known before them that the track jumped out of
        # (track, start).
        self._left_by_jump: set[tuple[int, float]] = set()
        # Such runs that ended with no fix after them yet, by track.
        self._first_inland: dict[int, Run] = {}
        # Each track's passes, and the passes found off the vessel's own reckoning
        # (track, start).
        self._passes = PassLog(_SILENCE_S)
        self._off_reckoning: set[tuple[int, float]] = set()
        found = settings.get("second_transmitters")
        self._found = found if isinstance(found, SecondTransmitters) else SecondTransmitters()

    def select(self, points: TrackPoints) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Only tracks with a flagged point in the chunk (their unflagged points tell
        whether a run on land is a jump or a vessel going up a river), with a good fix
        moving against its reported course, or watched for that."""
        flagged: np.ndarray[Any, np.dtype[np.bool_]] = (
            points.flags & (_SPEED_FLAGS | _LAND_FLAG)
        ) != 0
        flagged |= self._against_course(points)
        if self._watched:
            flagged |= np.isin(points.track, np.fromiter(self._watched, np.int64))
        if not flagged.any():
            return flagged
        keep: np.ndarray[Any, np.dtype[np.bool_]] = np.isin(points.track, points.track[flagged])
        return keep

    def _against_course(self, points: TrackPoints) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Good fixes (sorted by track and time) whose step from the track's good fix
        before them goes against the course they report."""
        n = len(points)
        out = np.zeros(n, np.bool_)
        if n < 2:
            return out
        good = (points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0
        rows = np.flatnonzero(good)
        if rows.shape[0] < 2:
            return out
        here, before = rows[1:], rows[:-1]
        same = points.track[here] == points.track[before]
        dt = points.t[here] - points.t[before]
        lat0, lon0 = points.lat[before], points.lon[before]
        lat1, lon1 = points.lat[here], points.lon[here]
        north = np.radians(lat1 - lat0) * EARTH_RADIUS_M
        east = (
            np.radians((lon1 - lon0 + 180.0) % 360.0 - 180.0)
            * np.cos(np.radians((lat0 + lat1) / 2.0))
            * EARTH_RADIUS_M
        )
        moved = np.hypot(north, east)
        heading = np.degrees(np.arctan2(east, north)) % 360.0
        cog, sog = points.cog[here], points.sog[here]
        with np.errstate(invalid="ignore"):
            off = np.abs((heading - cog + 180.0) % 360.0 - 180.0)
            against = (
                same
                & (dt > 0)
                & (dt <= _COURSE_MAX_STEP_S)
                & (moved >= _COURSE_MIN_STEP_M)
                & (sog >= _COURSE_MIN_SOG_KN)
                & (off > _AGAINST_COURSE_DEG)
            )
        out[here[against]] = True
        return out

    def _circle_rows(self, points: TrackPoints) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Good fixes of watched tracks that lie, with the track's good fixes of the last
        hour, on a circle; tracks start being watched when a fix moves against its course."""
        out = np.zeros(len(points), np.bool_)
        against = self._against_course(points)
        good = (points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0
        for number in np.unique(points.track[against]).tolist():
            self._watched.setdefault(number, [])
        if not self._watched:
            return out
        rows_of = np.flatnonzero(good & np.isin(points.track, np.fromiter(self._watched, np.int64)))
        for number in np.unique(points.track[rows_of]).tolist():
            rows = rows_of[points.track[rows_of] == number]
            kept = self._watched[number]
            kept += zip(
                points.t[rows].tolist(),
                points.lat[rows].tolist(),
                points.lon[rows].tolist(),
                against[rows].astype(np.float64).tolist(),
                strict=True,
            )
            kept.sort()
            newest = kept[-1][0]
            kept[:] = [fix for fix in kept if fix[0] >= newest - _WATCH_S]
            kept[:] = kept[_circle_start(kept) :]
            went_against = sum(fix[3] for fix in kept)
            if (
                len(kept) < self.config.circle_min_points
                or went_against < _MIN_AGAINST_FIXES
                or went_against < _MIN_AGAINST_SHARE * len(kept)
            ):
                continue
            circle = fit_circle(
                np.array([fix[1] for fix in kept]), np.array([fix[2] for fix in kept])
            )
            if circle is not None and self._is_circle(*circle, min_arc_deg=_WATCHED_MIN_ARC_DEG):
                self._circles[number] = circle
                out[rows[points.t[rows] >= kept[0][0]]] = True
        return out

    def mark(self, points: TrackPoints, speed: F64, open_runs: Mapping[int, Run]) -> Marks:
        flags = points.flags
        on_land = (flags & _LAND_FLAG) != 0
        speed_flagged = (flags & _SPEED_FLAGS) != 0
        tag = np.where(on_land, _LAND, _SPEED).astype(np.int64)
        # value: for a speed point 1 when an outlier (a run all of outliers may be a
        # circle); for a land point 1 when it was reached by a jump, 0 when by a plausible
        # passage (a river), NaN when nothing before it is known. A land point flagged for
        # speed too is judged from the last sound fix as well: two transmitters heard in
        # turn up a river flag each other, which says nothing of how either got there.
        value = (speed_flagged & ((flags & _OUTLIER) != 0)).astype(np.float64)
        in_run = speed_flagged | on_land
        land_rows = np.flatnonzero(on_land & ~speed_flagged)
        if land_rows.shape[0]:
            in_run[land_rows] = self._inland(points.lat[land_rows], points.lon[land_rows])
        if on_land.any():
            value[on_land] = self._entry_jump(points, on_land | speed_flagged)[on_land]
        on_circle = self._circle_rows(points)
        in_run |= on_circle
        tag[on_circle] = _CIRCLE
        value[on_circle] = 1.0
        return Marks(in_run=in_run, value=value, tag=tag)

    def _entry_jump(self, points: TrackPoints, doubtful: np.ndarray[Any, Any]) -> F64:
        """Per point: 1 when the implied speed from the track's last sound point before it
        exceeds ``max_speed_kn``, 0 when not, NaN when the chunk has no such point."""
        n = len(points)
        index = np.arange(n)
        last_sound = np.where(~doubtful, index, -1)
        np.maximum.accumulate(last_sound, out=last_sound)
        ok = last_sound >= 0
        ok[ok] = points.track[last_sound[ok]] == points.track[ok]
        # Where the chunk has no sound point before, the one remembered from earlier chunks.
        before_t = np.where(ok, points.t[last_sound], np.nan)
        before_lat = np.where(ok, points.lat[last_sound], np.nan)
        before_lon = np.where(ok, points.lon[last_sound], np.nan)
        for row in np.flatnonzero(~ok).tolist():
            known = self._sound.get(int(points.track[row]))
            if known is not None:
                before_t[row], before_lat[row], before_lon[row] = known
        jump = np.full(n, np.nan)
        rows = np.flatnonzero(np.isfinite(before_t))
        if rows.shape[0]:
            metres = flat_distance_m(
                before_lat[rows], before_lon[rows], points.lat[rows], points.lon[rows]
            )
            dt = np.maximum(points.t[rows] - before_t[rows], 1.0)
            jump[rows] = (metres / dt / KNOT_M_S > self.config.max_speed_kn).astype(np.float64)
        return jump

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        self._note_clashes(chunk)
        self._history = history
        try:
            out = super().update(chunk, history)
        finally:
            self._history = None  # not kept: the detector is checkpointed (pickled)
        if self._first_inland:
            out += self._left_late(chunk.points, history)
        sound = (chunk.points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0
        for triple in self._passes.add(chunk.points, sound):
            if off_own_reckoning(triple):
                out += self._pass_off_reckoning(triple, history)
        self._remember_sound(chunk.points)
        return self._take_withdrawn(out)

    def _prune(self, watermark: float) -> None:
        """Also forget jumps back, checked runs, second transmitters' runs, tracks' last
        sound fixes and earlier runs older than any re-read reaches (hourly, with the
        runs' own pruning)."""
        pruned_at = self._pruned_at
        super()._prune(watermark)
        if self._pruned_at == pruned_at:
            return
        horizon = watermark - _FIX_BEFORE_KEPT_S
        self._ended = {key: run for key, run in self._ended.items() if key[1] >= horizon}
        self._checked = {n: start for n, start in self._checked.items() if start >= horizon}
        self._shared = {key for key in self._shared if key[1] >= horizon}
        self._own_path = {key for key in self._own_path if key[1] >= horizon}
        self._left_by_jump = {key for key in self._left_by_jump if key[1] >= horizon}
        self._first_inland = {n: r for n, r in self._first_inland.items() if r.end >= horizon}
        self._passes.forget_before(horizon)
        self._off_reckoning = {key for key in self._off_reckoning if key[1] >= horizon}
        silent = [n for n, sound in self._sound.items() if sound[0] < horizon]
        for number in silent:
            del self._sound[number]
            self._sound_sog.pop(number, None)
        for number in list(self._excursions):
            runs = {t: run for t, run in self._excursions[number].items() if run.end >= horizon}
            if runs:
                self._excursions[number] = runs
            else:
                del self._excursions[number]

    # -- a jump away and back -----------------------------------------------------------------

    def _opened(self, run: Run, history: History) -> list[AlertDraft]:
        self._note_two_vessels(run, history)
        return self._excursion_ended_by(run, history) + super()._opened(run, history)

    def _close(self, run: Run, history: History) -> list[AlertDraft]:
        self._note_two_vessels(run, history)
        self._note_jump_out(run, history)
        return self._excursion_ended_by(run, history) + super()._close(run, history)

    def _note_jump_out(self, run: Run, history: History) -> None:
        """A land run with nothing known before it (a track's first fixes) is a jump onto
        land only when the track jumps out of it: its next fix after the run is out of
        reach below ``max_speed_kn``. A vessel first heard up a river (no inland waterways
        on a coarse map) sails out plausibly, or stays there. With no fix after it yet
        (the next may be a satellite pass not yet delivered), the run waits for one."""
        if run.tag != _LAND or run.value_max != -math.inf:
            return
        after = history.history(run.track, run.end)
        rows = np.flatnonzero(after.t > run.end)
        if rows.shape[0] == 0:
            self._first_inland[run.track] = run
        elif self._jumps_out(run, after, int(rows[0])):
            self._left_by_jump.add((run.track, run.start))

    def _jumps_out(self, run: Run, points: TrackPoints, k: int) -> bool:
        """Point ``k`` of ``points`` is out of reach from ``run``'s last point."""
        metres = flat_distance_m(
            np.array([run.end_lat]),
            np.array([run.end_lon]),
            points.lat[k : k + 1],
            points.lon[k : k + 1],
        )
        dt = max(float(points.t[k]) - run.end, 1.0)
        return float(metres[0]) / dt / KNOT_M_S > self.config.max_speed_kn

    def _left_late(self, points: TrackPoints, history: History) -> list[AlertDraft]:
        """Land runs of a track's first fixes that ended with no fix after them, judged by
        the first fix after them in ``points``."""
        out: list[AlertDraft] = []
        waiting = np.fromiter(self._first_inland, np.int64, len(self._first_inland))
        for number in waiting[np.isin(waiting, points.track)].tolist():
            run = self._first_inland[number]
            rows = np.flatnonzero((points.track == number) & (points.t > run.end))
            if rows.shape[0] == 0:
                continue
            del self._first_inland[number]
            if self._jumps_out(run, points, int(rows[np.argmin(points.t[rows])])):
                self._left_by_jump.add((run.track, run.start))
                out += super()._close(run, history)
        return out

    def _pass_off_reckoning(self, triple: PassTriple, history: History) -> list[AlertDraft]:
        """The middle pass of ``triple`` as a spoofing alert (``mista.detect._passes``),
        unless it is already one excursion's, too short, or near a shared-MMSI event."""
        points = history.history(triple.track, triple.before[0])
        sound = (points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0
        before = np.flatnonzero(sound & (points.t <= triple.before[0]))
        rows = np.flatnonzero(sound & (points.t >= triple.first[0]) & (points.t <= triple.last[0]))
        if before.shape[0] == 0 or rows.shape[0] < self.config.min_points:
            return []
        run = _excursion_run(triple.track, points, int(before[-1]), rows, None)
        if run is None or self._on_shared_mmsi(run):
            return []
        if any(e.track == run.track and e.start == run.start for e in self._ended.values()):
            return []  # already one excursion, ended by a jump back
        self._off_reckoning.add((run.track, run.start))
        return self._emit(run, AlertStatus.CLOSED, history)

    def _note_two_vessels(self, run: Run, history: History) -> None:
        """A speed run with a step between two of its points no vessel could make,
        whose two ends report speeds more than ``_OTHER_VESSEL_KN`` apart, holds two
        vessels' positions (a spoof carries the one vessel's own speed throughout): a
        second transmitter's, handed to the shared-mmsi detector once."""
        if run.tag != _SPEED or run.points < 2 or (run.track, run.start) in self._shared:
            return
        points = history.history(run.track, run.start)
        rows = np.flatnonzero(((points.flags & _SPEED_FLAGS) != 0) & (points.t <= run.end))
        if rows.shape[0] < 2:
            return
        here, before = rows[1:], rows[:-1]
        metres = flat_distance_m(
            points.lat[before], points.lon[before], points.lat[here], points.lon[here]
        )
        dt = np.maximum(points.t[here] - points.t[before], 1.0)
        with np.errstate(invalid="ignore"):
            impossible = metres / dt / KNOT_M_S > self.config.max_speed_kn
            other_speed = np.abs(points.sog[here] - points.sog[before]) > _OTHER_VESSEL_KN
        if not (impossible & other_speed).any():
            return
        self._shared.add((run.track, run.start))
        labels = frozenset(run.evidence.label_nos)
        self._found.add(SecondTransmitter(run.track, run.start, run.lat, run.lon, labels))

    def _excursion_ended_by(self, run: Run, history: History) -> list[AlertDraft]:
        """The alert of the excursion that ``run`` ends, when it is a jump back to the
        track's own path from an earlier speed run's jump away (checked once per run)."""
        if run.tag != _SPEED:
            return []
        key = (run.track, run.start)
        if key not in self._ended and self._checked.get(run.track) != run.start:
            self._checked[run.track] = run.start
            for earlier in list(self._excursions.get(run.track, {}).values()):
                if earlier.tag != _SPEED or not 0 < run.start - earlier.start <= _RETURN_MAX_S:
                    continue
                if self._is_other_vessel(earlier):
                    continue  # the jump away was onto a second transmitter's path
                excursion = self._excursion(earlier, run, history)
                if excursion is not None:
                    self._ended[key] = excursion
                    break
            else:
                excursion = self._silent_excursion(run, history)
                if excursion is not None:
                    self._ended[key] = excursion
                elif self._back_on_own_path(run, history):
                    self._own_path.add(key)
        excursion = self._ended.get(key)
        return [] if excursion is None else self._emit(excursion, AlertStatus.CLOSED, history)

    def _is_other_vessel(self, run: Run) -> bool:
        """``run`` was found to be a second transmitter's (it went on from an earlier run
        along one plausible path, or sailed at its own speed), or is a speed run near a
        shared-MMSI event of its track: its positions are another vessel's."""
        return (run.track, run.start) in self._shared or self._on_shared_mmsi(run)

    def _excursion(self, away: Run, back: Run, history: History) -> Run | None:
        """The run from ``away``'s first point to the last before ``back``, when ``back``
        lands where the vessel's last sound fix before ``away`` would be by then and the
        points between report that fix's speed; else None."""
        points = history.history(away.track, away.start - _RETURN_MAX_S)
        sound = (points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0
        before = np.flatnonzero(sound & (points.t < away.start))
        rows = np.flatnonzero((points.t >= away.start) & (points.t < back.start))
        if before.shape[0] == 0 or rows.shape[0] < self.config.min_points:
            return None
        k = int(before[-1])
        if not _on_reckoning(points, k, back.start, back.lat, back.lon):
            return None
        return _excursion_run(away.track, points, k, rows, away.key)

    def _silent_excursion(self, back: Run, history: History) -> Run | None:
        """A jump away the fuser flagged nothing of (the false positions were plausible
        from a fix heard long before) shows only by the jump back ``back``: the track's
        sound fixes after its last silence before ``back`` are the excursion when
        ``back`` lands where the fix before that silence, held on its course and speed,
        would be by then, and the fixes between do not (and report its speed)."""
        since = _since_silence(history, back.track, back.start)
        if since is None:
            return None
        points, k, rows = since
        first = int(rows[0])
        if rows.shape[0] < self.config.min_points:
            return None
        if not _on_reckoning(points, k, back.start, back.lat, back.lon):
            return None
        if _on_reckoning(points, k, float(points.t[first]), points.lat[first], points.lon[first]):
            return None  # the vessel was where it should be: the jump back is the odd one
        excursion = _excursion_run(back.track, points, k, rows, None)
        if excursion is None or self._on_shared_mmsi(excursion):
            return None
        return excursion

    def _back_on_own_path(self, run: Run, history: History) -> bool:
        """``run`` is the vessel back on its own path, not a spoof: it lands where the
        fix before the track's last silence, held on its course and speed, would be by
        then, while the fixes heard since that silence (false ones the fuser took as the
        track, the start of a circle) do not."""
        since = _since_silence(history, run.track, run.start)
        if since is None:
            return False
        points, k, rows = since
        first = int(rows[0])
        return _on_reckoning(points, k, run.start, run.lat, run.lon) and not _on_reckoning(
            points, k, float(points.t[first]), points.lat[first], points.lon[first]
        )

    def _note_clashes(self, chunk: FusedChunk) -> None:
        """Tracks the fuser found a second vessel on (two transmitters on one MMSI, heard
        interleaved, or another vessel's name and call sign at once in its static data):
        their jumps are between the two vessels, not spoofing; speed alerts already raised
        on them near the clash are withdrawn."""
        found = [
            (number, event.t)
            for event in chunk.identity
            if event.kind == IdentityKind.SHARED_MMSI
            for number in (event.track, event.other_track)
            if number is not None
        ]
        found += sorted(swaps(chunk.identity))  # another vessel's static data on the MMSI
        for number, t in found:
            self._clashes[number] = max(self._clashes.get(number, -math.inf), t)
            for draft in self._ledger.of_track(number):
                near = abs(draft.start - t) <= _EXCURSION_MEMORY_S
                if near and draft.evidence.get("reason") != "land":
                    self._withdraw(draft.key)
        horizon = chunk.watermark - 2 * _EXCURSION_MEMORY_S
        self._clashes = {n: t for n, t in self._clashes.items() if t >= horizon}
        # Watched tracks with no good fix in the last hour are watched no more.
        quiet = chunk.watermark - _WATCH_S
        for number in [n for n, kept in self._watched.items() if kept[-1][0] < quiet]:
            del self._watched[number]
            self._circles.pop(number, None)

    def _on_shared_mmsi(self, run: Run) -> bool:
        """A speed run on a track the fuser found two vessels on, within a day."""
        clash = self._clashes.get(run.track)
        return (
            run.tag == _SPEED
            and clash is not None
            and run.start - _EXCURSION_MEMORY_S <= clash <= run.end + _EXCURSION_MEMORY_S
        )

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        self._history = history
        try:
            return self._take_withdrawn(super().finish(watermark, history))
        finally:
            self._history = None

    def _take_withdrawn(self, out: list[AlertDraft]) -> list[AlertDraft]:
        out += self._withdrawn
        self._withdrawn = []
        return out

    def _second_transmitter(self, run: Run) -> bool:
        """``run`` goes on from an earlier run (speed or land) of its track at a
        plausible speed: both are a second transmitter's. Remembers ``run``."""
        mine = self._excursions.setdefault(run.track, {})
        mine[run.start] = run
        for start in [s for s, r in mine.items() if r.end < run.start - _EXCURSION_MEMORY_S]:
            del mine[start]
        linked = False
        first_start = run.start
        for earlier in mine.values():
            if earlier.end >= run.start:
                continue
            metres = flat_distance_m(
                np.array([earlier.end_lat]),
                np.array([earlier.end_lon]),
                np.array([run.lat]),
                np.array([run.lon]),
            )
            speed_kn = float(metres[0]) / max(run.start - earlier.end, 1.0) / KNOT_M_S
            if speed_kn > self.config.max_speed_kn:
                continue
            linked = True
            first_start = min(first_start, earlier.start)
            if (earlier.track, earlier.start) not in self._shared:
                self._shared.add((earlier.track, earlier.start))
                self._withdraw(earlier.key)
        if linked and (run.track, run.start) not in self._shared:
            self._shared.add((run.track, run.start))
            # Two vessels only if the track's own path was heard while the other one was
            # about; a spoof at the start of a track leaves the spoofed path as the track
            # and the true one as the "jumps", and the spoofed path then falls silent.
            sound_t = self._sound.get(run.track, (-math.inf, 0.0, 0.0))[0]
            if sound_t > first_start:
                labels = frozenset(run.evidence.label_nos)
                found = SecondTransmitter(run.track, run.start, run.lat, run.lon, labels)
                self._found.add(found)
        return (run.track, run.start) in self._shared

    def _another_vessel(self, run: Run) -> bool:
        """A speed run that moves as fast as the speed it reports, which is not the
        track's own: one receiver gives a vessel's position and speed together, so a spoof
        (false positions) carries the vessel's own speed, while another vessel on the MMSI
        sails at its own. Handed to the shared-mmsi detector once."""
        if run.tag != _SPEED or run.duration_s < _OWN_MOTION_MIN_S:
            return False
        own = self._own_speed(run)
        reported = run.mean_speed_kn
        if not math.isfinite(own):
            return False
        metres = flat_distance_m(
            np.array([run.lat]),
            np.array([run.lon]),
            np.array([run.end_lat]),
            np.array([run.end_lon]),
        )
        moved_kn = float(metres[0]) / run.duration_s / KNOT_M_S
        other = (
            abs(reported - own) > _OTHER_VESSEL_KN and abs(moved_kn - reported) <= _OTHER_VESSEL_KN
        )
        if other and (run.track, run.start) not in self._shared:
            self._shared.add((run.track, run.start))
            labels = frozenset(run.evidence.label_nos)
            self._found.add(SecondTransmitter(run.track, run.start, run.lat, run.lon, labels))
        return other

    def _own_speed(self, run: Run) -> float:
        """The speed the track's last sound fix before ``run`` reported (NaN when none is
        known): the latest sound fix may be after the run (a pass delivered at once)."""
        sound = self._sound.get(run.track)
        if sound is not None and sound[0] < run.start:
            return self._sound_sog.get(run.track, math.nan)
        if self._history is None:
            return math.nan
        points = self._history.history(run.track, run.start - _RETURN_MAX_S)
        before = (points.t < run.start) & ((points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0)
        rows = np.flatnonzero(before)
        return float(points.sog[rows[-1]]) if rows.shape[0] else math.nan

    def _withdraw(self, key: Key | None) -> None:
        if key is None:
            return
        withdrawn = self._ledger.withdraw(key)
        if withdrawn is not None:
            self._withdrawn.append(withdrawn)

    def _remember_sound(self, points: TrackPoints) -> None:
        """Each track's last point with no doubt about it (sorted by track and time)."""
        sound = np.flatnonzero((points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0)
        if sound.shape[0] == 0:
            return
        track = points.track[sound]
        last = sound[np.flatnonzero(np.r_[track[1:] != track[:-1], True])]
        for number, t, lat, lon, sog in zip(
            points.track[last].tolist(),
            points.t[last].tolist(),
            points.lat[last].tolist(),
            points.lon[last].tolist(),
            points.sog[last].tolist(),
            strict=True,
        ):
            self._sound[number] = (t, lat, lon)
            self._sound_sog[number] = sog

    def _inland(self, lat: F64, lon: F64) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Positions on land that cannot be a ship: away from ports (river and harbour
        berths are land on a coarse map) and land all round at ``land_min_depth_m`` (a
        coarse coastline is off by a few km)."""
        _, port_m = self._ports.nearest(lon, lat)
        inland = port_m >= self.config.land_port_margin_m
        rows = np.flatnonzero(inland)
        if rows.shape[0]:
            bearings = np.radians(np.arange(0.0, 360.0, 45.0))
            depth = self.config.land_min_depth_m / METRES_PER_DEGREE
            ring_lat = lat[rows, None] + depth * np.cos(bearings)[None, :]
            ring_lon = lon[rows, None] + depth * np.sin(bearings)[None, :] / np.cos(
                np.radians(lat[rows, None])
            )
            all_land = self._land.on_land(ring_lon.ravel(), ring_lat.ravel()).reshape(
                rows.shape[0], -1
            )
            inland[rows] = all_land.all(axis=1)
        return inland

    def qualifies(self, run: Run) -> bool:
        """Enough points; on land, reached by a jump (or, with nothing known before,
        left by one: judged when the run ends); not a second transmitter's."""
        if (run.track, run.start) in self._ended or (run.track, run.start) in self._own_path:
            return False  # the jump back to the vessel's own path
        # Linking excursions into a second vessel's path is for doubtful points; a circle
        # of good fixes is the track's own (spoofed) positions.
        if run.tag != _CIRCLE and (self._second_transmitter(run) or self._on_shared_mmsi(run)):
            return False
        if self._another_vessel(run):
            return False
        if run.points < self.config.min_points:
            return False
        if run.tag != _LAND or run.value_max == 1.0:
            return True
        return (run.track, run.start) in self._left_by_jump

    def evidence(self, run: Run) -> dict[str, Any]:
        reason = _REASONS[run.tag]
        detail: dict[str, Any] = {}
        circle: tuple[float, float, float, float, float] | None = None
        if run.tag == _CIRCLE:
            circle = self._circles.get(run.track)
        elif (
            run.tag == _SPEED
            and run.value_min == 1.0
            and run.points >= self.config.circle_min_points
        ):
            circle = fit_circle(np.concatenate(run.lats), np.concatenate(run.lons))
        if circle is not None and (run.tag == _CIRCLE or self._is_circle(*circle)):
            reason = "circle"
            lat, lon, radius_m, residual, arc_deg = circle
            detail = {
                "circle_lat": round(lat, 6),
                "circle_lon": round(lon, 6),
                "radius_m": round(radius_m, 1),
                "residual": round(residual, 4),
                "arc_deg": round(arc_deg, 1),
            }
        if any(e.track == run.track and e.start == run.start for e in self._ended.values()):
            detail["returned_to_own_path"] = True
        if (run.track, run.start) in self._off_reckoning:
            detail["off_own_reckoning"] = True
        return {
            "reason": reason,
            "points": run.points,
            "duration_s": run.duration_s,
            **detail,
            "thresholds": {
                "max_speed_kn": self.config.max_speed_kn,
                "min_points": self.config.min_points,
            },
        }

    def _is_circle(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        residual: float,
        arc_deg: float,
        *,
        min_arc_deg: float | None = None,
    ) -> bool:
        del lat, lon, radius_m
        arc_needed = self.config.circle_min_arc_deg if min_arc_deg is None else min_arc_deg
        return residual <= self.config.circle_max_residual and arc_deg >= arc_needed


def _since_silence(
    history: History, track: int, t: float
) -> tuple[TrackPoints, int, np.ndarray[Any, Any]] | None:
    """The track's points read, its last sound fix before its last silence before
    ``t``, and the rows of the sound fixes heard since that silence (before ``t``);
    None without such a silence, or when they began more than ``_RETURN_MAX_S`` before
    ``t``."""
    points = history.history(track, t - 2 * _RETURN_MAX_S)
    sound = (points.flags & (_SPEED_FLAGS | _LAND_FLAG)) == 0
    heard = np.flatnonzero(sound & (points.t < t))
    silences = np.flatnonzero(np.diff(points.t[heard]) >= _SILENCE_S)
    if silences.shape[0] == 0:
        return None
    rows = heard[silences[-1] + 1 :]
    if t - points.t[int(rows[0])] > _RETURN_MAX_S:
        return None
    return points, int(heard[silences[-1]]), rows


def _on_reckoning(points: TrackPoints, k: int, t: float, lat: float, lon: float) -> bool:
    """(``lat``, ``lon``) at ``t`` is where fix ``k``, held on its course and speed, would
    be by then (within ``_RETURN_MIN_M`` or ``_RETURN_SHARE`` of the distance sailed)."""
    sog, cog = float(points.sog[k]), float(points.cog[k])
    if not (math.isfinite(sog) and math.isfinite(cog)):
        return False
    sailed = sog * KNOT_M_S * (t - float(points.t[k]))
    there = destination(float(points.lat[k]), float(points.lon[k]), cog, sailed)
    off = flat_distance_m(
        np.array([there[0]]), np.array([there[1]]), np.array([lat]), np.array([lon])
    )
    return float(off[0]) <= max(_RETURN_MIN_M, _RETURN_SHARE * sailed)


def _excursion_run(
    track: int, points: TrackPoints, k: int, rows: np.ndarray[Any, Any], key: Key | None
) -> Run | None:
    """The excursion made of ``rows`` when they report fix ``k``'s speed (a spoof carries
    the vessel's own; another vessel on the MMSI sails at its own); else None."""
    sog = float(points.sog[k])
    reported = points.sog[rows]
    reported = reported[np.isfinite(reported)]
    if reported.shape[0] == 0 or abs(float(np.median(reported)) - sog) > _OTHER_VESSEL_KN:
        return None
    first, last = int(rows[0]), int(rows[-1])
    run = Run(
        track=track,
        tag=_SPEED,
        start=float(points.t[first]),
        end=float(points.t[last]),
        lat=float(points.lat[first]),
        lon=float(points.lon[first]),
        points=int(rows.shape[0]),
        speed_sum=float(reported.sum()),
        speed_count=int(reported.shape[0]),
        value_min=0.0,  # not all outliers: no circle to fit
        value_max=1.0,
        end_lat=float(points.lat[last]),
        end_lon=float(points.lon[last]),
        key=key,
    )
    run.evidence.label_nos.update(points.label_no[rows].tolist())
    run.evidence.seqs.extend(points.seq[rows[:MAX_SEQS]].tolist())
    return run


def _circle_start(kept: list[WatchedFix]) -> int:
    """Where a watched track's circle starts: at the fix before its first fix that went
    against the course after ``_TRUE_STRETCH_FIXES`` fixes over ``_TRUE_STRETCH_S`` that
    did not (a circle turned in 10-30 minutes goes against a steady course every half
    turn; such a stretch is the vessel's true track, and maybe a course lagging a turn;
    a silence between satellite passes is no stretch)."""
    start, along, along_since = 0, 0, math.inf
    for k, (t, _, _, against) in enumerate(kept):
        if not against:
            along += 1
            along_since = min(along_since, t)
            continue
        if along >= _TRUE_STRETCH_FIXES and t - along_since >= _TRUE_STRETCH_S:
            start = max(k - 1, 0)
        along, along_since = 0, math.inf
    return start


def fit_circle(lat: F64, lon: F64) -> tuple[float, float, float, float, float] | None:
    """Least-squares circle through the points (Kasa's algebraic fit on a local plane):
    centre lat/lon, radius in metres, RMS residual as a fraction of the radius, and the
    arc the points cover (degrees, 360 when they go all the way round)."""
    if lat.shape[0] < 4:
        return None
    lat0, lon0 = float(lat.mean()), float(lon.mean())
    scale = math.cos(math.radians(lat0))
    x = np.radians(lon - lon0) * scale * EARTH_RADIUS_M
    y = np.radians(lat - lat0) * EARTH_RADIUS_M
    a = np.column_stack((x, y, np.ones_like(x)))
    b = x * x + y * y
    try:
        (cx2, cy2, c), *_ = np.linalg.lstsq(a, b, rcond=None)
    except np.linalg.LinAlgError:
        return None
    cx, cy = cx2 / 2.0, cy2 / 2.0
    r2 = c + cx * cx + cy * cy
    if not r2 > 0:
        return None
    radius = math.sqrt(r2)
    distances = np.hypot(x - cx, y - cy)
    residual = float(np.sqrt(np.mean((distances - radius) ** 2))) / radius
    angles = np.sort(np.degrees(np.arctan2(y - cy, x - cx)) % 360.0)
    gaps = np.diff(np.r_[angles, angles[0] + 360.0])
    arc = 360.0 - float(gaps.max())
    centre_lat = lat0 + math.degrees(cy / EARTH_RADIUS_M)
    centre_lon = lon0 + math.degrees(cx / EARTH_RADIUS_M / scale)
    return centre_lat, centre_lon, radius, residual, arc
