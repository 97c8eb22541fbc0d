"""Runs of marked points on one track (loitering, port visits, spoofing), kept across chunks.

A subclass marks the points that belong to a run (vectorised over a whole chunk) and says
when a run is an alert. This base cuts the marks into runs per track, carries a run that
is still going on into the next chunk, opens the alert once the run qualifies, closes it
when the run ends, and re-reads a track from ``History`` when late data changed it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mista.detect._common import (
    MAX_SEQS,
    Evidence,
    Key,
    Ledger,
    make_draft,
    reach_back,
    speed_kn,
    track_id,
)
from mista.detect._common import without_tracks as _without_tracks
from mista.detect.base import AlertDraft, History
from mista.fuse.chunk import FusedChunk, TrackPoints
from mista.model import AlertStatus

HOUR_S = 3600.0
#: How long the fix before an alert's run is kept (longer than a track's history).
_FIX_BEFORE_KEPT_S = 48 * HOUR_S

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
#: One fix: time, lat, lon, speed (kn; NaN when unknown).
Fix = tuple[float, float, float, float]


@dataclass(slots=True)
class Run:
    """A run of marked points on one track, summarised."""

    track: int
    tag: int
    start: float
    end: float
    lat: float
    lon: float
    points: int = 0
    speed_sum: float = 0.0
    speed_count: int = 0
    value_min: float = math.inf
    value_max: float = -math.inf
    evidence: Evidence = field(default_factory=Evidence)
    lats: list[F64] = field(default_factory=list)  # kept only when keep_positions
    lons: list[F64] = field(default_factory=list)
    subject: int = -1  # what the run is about, when it says (e.g. the port's index)
    end_lat: float = math.nan  # the last point's position
    end_lon: float = math.nan
    key: Key | None = None
    opened: bool = False
    next_fix: Fix | None = None  # the track's first selected point after the run, once seen
    prev_fix: Fix | None = None  # the track's last selected point before the run, if known

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    @property
    def next_t(self) -> float:
        return self.next_fix[0] if self.next_fix is not None else math.nan

    @property
    def mean_speed_kn(self) -> float:
        return self.speed_sum / self.speed_count if self.speed_count else math.nan


@dataclass(frozen=True, slots=True)
class Marks:
    """Per point: in a run or not, a measured value (e.g. distance to shore), a tag (a run
    ends where the tag changes)."""

    in_run: Bools
    value: F64
    tag: I64
    subject: I64 | None = None  # taken by a run from its first point
    breaks: Bools | None = None  # a run may not go on from the point before into this one


class RunDetector(ABC):
    """Base of the per-track run detectors."""

    kind: str
    max_gap_s: float
    #: A point not in a run ends the run (loitering, port visit); when False only time
    #: gaps and tag changes end it (spoofing: spoofed points interleave with true ones).
    broken_by_other_points: bool = True
    keep_positions: bool = False
    #: Whether runs use the fix before them (``Run.prev_fix``), which a re-read from a
    #: run's first point must be given again.
    uses_prev_fix: bool = True
    #: A late change this long at most after a standing alert of the track ended may go
    #: on from its run (which expired before the late data came): re-read from it.
    rejoin_s: float = 0.0

    def __init__(self) -> None:
        self._open: dict[int, Run] = {}
        self._ledger = Ledger()
        self._hints: dict[int, list[AlertDraft]] = {}
        self._last: dict[int, Fix] = {}  # each track's latest selected point
        self._fix_before: dict[Key, Fix | None] = {}  # each alert's run's prev_fix
        self._pruned_at = -math.inf
        self.watermark = -math.inf

    # -- what a subclass says ---------------------------------------------------------------

    def select(self, points: TrackPoints) -> Bools:
        """The points looked at (default: the good ones)."""
        return points.good()

    @abstractmethod
    def mark(self, points: TrackPoints, speed: F64, open_runs: Mapping[int, Run]) -> Marks:
        """Which selected points are in a run (``open_runs``: runs carried in, by track)."""

    @abstractmethod
    def qualifies(self, run: Run) -> bool:
        """Whether a run (so far) is an alert."""

    @abstractmethod
    def evidence(self, run: Run) -> dict[str, Any]:
        """Thresholds and measured values of an alert's run."""

    # -- the detector protocol --------------------------------------------------------------

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        self.watermark = max(self.watermark, chunk.watermark)
        out: list[AlertDraft] = []
        if chunk.revised:
            out += self._reevaluate(chunk.revised, chunk.watermark, history)
        points = _without_tracks(chunk.points, chunk.revised)
        out += self._scan(points, chunk.watermark, history)
        out += self._expire(chunk.watermark, history)
        self._prune(chunk.watermark)
        return out

    def _prune(self, watermark: float) -> None:
        """Forget the fix before alerts, and tracks silent, for longer than any re-read
        reaches (hourly): memory is bounded by active vessels, not by history."""
        if watermark - self._pruned_at < HOUR_S:
            return
        self._pruned_at = watermark
        horizon = watermark - _FIX_BEFORE_KEPT_S
        self._fix_before = {k: f for k, f in self._fix_before.items() if k[-1] >= horizon}
        silent = [n for n, fix in self._last.items() if fix[0] < horizon and n not in self._open]
        for number in silent:
            del self._last[number]
            self._hints.pop(number, None)
        self._forget(silent)

    def _forget(self, tracks: list[int]) -> None:
        """Forget what a subclass keeps per track, for ``tracks`` silent past re-reads."""
        return None

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        self.watermark = max(self.watermark, watermark)
        out: list[AlertDraft] = []
        for track in list(self._open):
            out += self._close(self._open.pop(track), history)
        return out

    # -- runs -------------------------------------------------------------------------------

    def _scan(self, points: TrackPoints, watermark: float, history: History) -> list[AlertDraft]:
        selected = self.select(points)
        if not selected.all():
            points = points.take(selected)
        if len(points) == 0:
            return []
        # Each track's latest point before this scan (a run's fix before it), then now.
        lasts = np.r_[np.flatnonzero(points.track[1:] != points.track[:-1]), len(points) - 1]
        speed = speed_kn(points)
        before: dict[int, Fix | None] = {}
        fixes = zip(  # ``_fix`` of each row, column by column
            points.t[lasts].tolist(),
            points.lat[lasts].tolist(),
            points.lon[lasts].tolist(),
            speed[lasts].tolist(),
            strict=True,
        )
        for number, fix in zip(points.track[lasts].tolist(), fixes, strict=True):
            known = self._last.get(number)
            before[number] = known
            if known is None or known[0] <= fix[0]:
                self._last[number] = fix
        return self._scan_runs(points, speed, watermark, history, before)

    def _scan_runs(
        self,
        points: TrackPoints,
        speed: F64,
        watermark: float,
        history: History,
        before: Mapping[int, Fix | None],
    ) -> list[AlertDraft]:
        marks = self.mark(points, speed, self._open)
        track, t = points.track, points.t
        index = np.flatnonzero(marks.in_run)
        out: list[AlertDraft] = []
        present = np.unique(track)
        if index.shape[0] == 0:
            if self.broken_by_other_points:
                first_rows = _first_rows(track)
                for number in present.tolist():
                    run = self._open.pop(number, None)
                    if run is not None:
                        run.next_fix = _fix(points, speed, first_rows[number])
                        out += self._close(run, history)
            return out
        # Where a new run begins among the marked points.
        new = np.ones(index.shape[0], np.bool_)
        rt, tt, tg = track[index], t[index], marks.tag[index]
        new[1:] = (rt[1:] != rt[:-1]) | (tg[1:] != tg[:-1]) | (tt[1:] - tt[:-1] > self.max_gap_s)
        if self.broken_by_other_points:
            new[1:] |= index[1:] != index[:-1] + 1
        if marks.breaks is not None:
            new[1:] |= marks.breaks[index[1:]]
        begins = np.flatnonzero(new)
        ends = np.r_[begins[1:], index.shape[0]]  # exclusive, in ``index`` positions
        # First and last selected row of each track, to know what touches the chunk edges.
        firsts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
        lasts = np.r_[firsts[1:] - 1, len(points) - 1]
        first_row = dict(zip(track[firsts].tolist(), firsts.tolist(), strict=True))
        last_row = dict(zip(track[lasts].tolist(), lasts.tolist(), strict=True))
        segments = _Segments.of(index, begins, ends, points, speed, marks)
        first_marked: set[int] = set()
        continued: set[int] = set()
        for k, (b, e) in enumerate(zip(begins.tolist(), ends.tolist(), strict=True)):
            number = segments.track[k]
            run = self._open.get(number)
            is_first = number not in first_marked
            first_marked.add(number)
            carry = (
                run is not None
                and is_first
                and run.tag == segments.tag[k]
                and segments.start[k] - run.end <= self.max_gap_s
                and (marks.breaks is None or not marks.breaks[segments.first_row[k]])
                and (not self.broken_by_other_points or segments.first_row[k] == first_row[number])
            )
            if not carry:
                if run is not None:
                    self._open.pop(number)
                    run.next_fix = _fix(points, speed, first_row[number])
                    out += self._close(run, history)
                row = segments.first_row[k]
                prev_fix = _fix(points, speed, row - 1) if row > first_row[number] else None
                if row == first_row[number]:
                    earlier = before.get(number)
                    prev_fix = earlier if earlier is not None and earlier[0] < t[row] else None
                run = Run(
                    track=number,
                    tag=segments.tag[k],
                    start=segments.start[k],
                    end=segments.start[k],
                    lat=segments.lat[k],
                    lon=segments.lon[k],
                    subject=segments.subject[k],
                    prev_fix=prev_fix,
                )
            assert run is not None
            continued.add(number)
            segments.extend(run, k, points, index[b:e], keep_positions=self.keep_positions)
            still_open = (
                segments.last_row[k] == last_row[number]
                if self.broken_by_other_points
                else (e == index.shape[0] or int(rt[e]) != number)
            )
            if still_open and watermark - run.end <= self.max_gap_s:
                self._open[number] = run
                out += self._opened(run, history)
            else:
                self._open.pop(number, None)
                if self.broken_by_other_points and not still_open:
                    run.next_fix = _fix(points, speed, segments.last_row[k] + 1)
                out += self._close(run, history)
        if self.broken_by_other_points:
            first_rows = _first_rows(track)
            for number in present.tolist():
                if number not in continued and number in self._open:
                    run = self._open.pop(number)
                    run.next_fix = _fix(points, speed, first_rows[number])
                    out += self._close(run, history)
        return out

    def _expire(self, watermark: float, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        for number in [n for n, run in self._open.items() if watermark - run.end > self.max_gap_s]:
            out += self._close(self._open.pop(number), history)
        return out

    # -- alerts -----------------------------------------------------------------------------

    def _opened(self, run: Run, history: History) -> list[AlertDraft]:
        if run.opened or not self.qualifies(run):
            return []
        run.opened = True
        return self._emit(run, AlertStatus.OPEN, history)

    def _close(self, run: Run, history: History) -> list[AlertDraft]:
        if not self.qualifies(run):
            if run.key is not None:
                withdrawn = self._ledger.withdraw(run.key)
                return [withdrawn] if withdrawn is not None else []
            return []
        return self._emit(run, AlertStatus.CLOSED, history)

    def _emit(self, run: Run, status: AlertStatus, history: History) -> list[AlertDraft]:
        if run.key is None:
            run.key = self._key_for(run, history)
        if self.uses_prev_fix:
            self._fix_before[run.key] = run.prev_fix
        draft = make_draft(
            self.kind,
            run.key,
            status,
            start=run.start,
            end=run.end,
            lat=run.lat,
            lon=run.lon,
            tracks=(run.track,),
            history=history,
            label_nos=run.evidence.label_nos,
            evidence=self.evidence(run),
            seqs=run.evidence.seqs,
        )
        emitted = self._ledger.emit(draft, (run.track,))
        return [emitted] if emitted is not None else []

    def _key_for(self, run: Run, history: History) -> Key:
        """A new key, or the key of an alert this run replaces after late data (the first
        standing alert of the track it overlaps), so a revision keeps the alert's id."""
        hints = self._hints.get(run.track)
        if hints:
            for hint in hints:
                if hint.start <= run.end and run.start <= hint.end:
                    hints.remove(hint)
                    return hint.key
        return (self.kind, track_id(history, run.track), run.start)

    @property
    def reread_s(self) -> float:
        """How far before a late change a track is re-read (besides the runs and alerts it
        may touch): a run that ended that long before could join the changed one."""
        return min(self.max_gap_s, 2 * HOUR_S)

    def _reevaluate(
        self, revised: Mapping[int, float], watermark: float, history: History
    ) -> list[AlertDraft]:
        """Re-read the revised tracks from before their changes (all in one scan) and
        state their alerts afresh: changed ones are revised (same key), vanished ones
        withdrawn."""
        wanted: list[tuple[int, float]] = []  # (track, since), read at once below
        affected: list[AlertDraft] = []
        for track, changed_at in revised.items():
            stands = self._ledger.of_track(track)
            since = changed_at - self.reread_s
            run = self._open.pop(track, None)
            if run is not None:
                since = min(since, run.start)
            for draft in stands:
                if draft.end < since and changed_at - draft.end <= self.rejoin_s:
                    since = min(since, draft.start)
            since = reach_back(since, stands)
            mine = [d for d in stands if d.start >= since]
            self._hints[track] = list(mine)
            affected += mine
            if self.uses_prev_fix:
                # A run that begins at the re-read's first point is not given the fix
                # before it by the re-read: the latest one known before ``since``, the
                # fix before one of the alerts or the run re-read.
                known = [self._fix_before.get(d.key) for d in mine]
                known.append(run.prev_fix if run is not None else None)
                earlier = [fix for fix in known if fix is not None and fix[0] < since]
                if earlier:
                    self._last[track] = max(earlier)
            wanted.append((track, since))
        points = history.histories(wanted)
        self._ledger.touched = set()
        try:
            out = self._scan(points, watermark, history)
            touched = self._ledger.touched
        finally:
            self._ledger.touched = None
            self._hints.clear()
        for draft in affected:
            if draft.key not in touched:
                withdrawn = self._ledger.withdraw(draft.key)
                if withdrawn is not None:
                    out.append(withdrawn)
        return out


def _first_rows(track: I64) -> dict[int, int]:
    """Each track's first row among points sorted by track."""
    firsts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
    return dict(zip(track[firsts].tolist(), firsts.tolist(), strict=True))


def _fix(points: TrackPoints, speed: F64, row: int) -> Fix:
    return (
        float(points.t[row]),
        float(points.lat[row]),
        float(points.lon[row]),
        float(speed[row]),
    )


@dataclass(slots=True)
class _Segments:
    """Per segment (a run's points within one chunk), its summary as Python values,
    computed for all segments at once."""

    track: list[int]
    tag: list[int]
    start: list[float]
    end: list[float]
    first_row: list[int]
    last_row: list[int]
    count: list[int]
    lat: list[float]
    lon: list[float]
    end_lat: list[float]
    end_lon: list[float]
    subject: list[int]
    speed_sum: list[float]
    speed_count: list[int]
    value_min: list[float]
    value_max: list[float]
    labels: list[list[int]]

    @classmethod
    def of(
        cls,
        index: npt.NDArray[np.intp],
        begins: npt.NDArray[np.intp],
        ends: npt.NDArray[np.intp],
        points: TrackPoints,
        speed: F64,
        marks: Marks,
    ) -> _Segments:
        first, last = index[begins], index[ends - 1]
        speed_m = speed[index]
        known = np.isfinite(speed_m)
        value_m = marks.value[index]
        with np.errstate(invalid="ignore"):
            value_min = np.fmin.reduceat(value_m, begins)
            value_max = np.fmax.reduceat(value_m, begins)
        segment = np.repeat(np.arange(begins.shape[0], dtype=np.int64), ends - begins)
        codes = np.unique((segment << 32) | points.label_no[index].astype(np.int64))
        labels: list[list[int]] = [[] for _ in range(begins.shape[0])]
        for code in codes.tolist():
            labels[code >> 32].append(code & 0xFFFFFFFF)
        subject = marks.subject[first].tolist() if marks.subject is not None else [-1] * len(begins)
        return cls(
            track=points.track[first].tolist(),
            tag=marks.tag[first].tolist(),
            start=points.t[first].tolist(),
            end=points.t[last].tolist(),
            first_row=first.tolist(),
            last_row=last.tolist(),
            count=(ends - begins).tolist(),
            lat=points.lat[first].tolist(),
            lon=points.lon[first].tolist(),
            end_lat=points.lat[last].tolist(),
            end_lon=points.lon[last].tolist(),
            subject=[int(v) for v in subject],
            speed_sum=np.add.reduceat(np.where(known, speed_m, 0.0), begins).tolist(),
            speed_count=np.add.reduceat(known.astype(np.int64), begins).tolist(),
            value_min=value_min.tolist(),
            value_max=value_max.tolist(),
            labels=labels,
        )

    def extend(
        self,
        run: Run,
        k: int,
        points: TrackPoints,
        rows: npt.NDArray[np.intp],
        *,
        keep_positions: bool,
    ) -> None:
        """Add segment ``k`` (rows ``rows`` of ``points``) to ``run``."""
        run.end = self.end[k]
        run.end_lat, run.end_lon = self.end_lat[k], self.end_lon[k]
        run.points += self.count[k]
        run.speed_sum += self.speed_sum[k]
        run.speed_count += self.speed_count[k]
        if self.value_min[k] == self.value_min[k]:  # not NaN
            run.value_min = min(run.value_min, self.value_min[k])
            run.value_max = max(run.value_max, self.value_max[k])
        run.evidence.label_nos.update(self.labels[k])
        room = MAX_SEQS - len(run.evidence.seqs)
        if room > 0:
            run.evidence.seqs.extend(points.seq[rows[:room]].tolist())
        if keep_positions:
            run.lats.append(points.lat[rows])
            run.lons.append(points.lon[rows])
