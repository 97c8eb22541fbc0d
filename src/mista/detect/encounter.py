"""``encounter``: two slow vessels within 500 m of each other for at least 2 h, at least
10 km from a port (Global Fishing Watch's definition; thresholds in ``EncounterConfig``).

Fixes of two vessels are not simultaneous, so positions are compared per time bucket
(10 min): each vessel's mean position and speed in the bucket. Only vessels slow in the
bucket and far from ports are paired, with a k-d tree per bucket. A pair's run goes on
over reception gaps up to ``max_gap_s`` (offshore, satellite passes are hours apart), and
its span reaches half-way to the vessels' neighbouring fixes (at most ``extend_max_s``):
a pair seen together at passes hours apart was likely together in between. A run seen
by satellite alone with no fix of either vessel before (after) it reaches back (on) the
full ``extend_max_s``: a pass is minutes long, nothing says when the meeting began.
Buckets are compared ``lag_s`` behind the watermark so that late satellite positions are
in; positions later still are not compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from mista.detect._common import (
    SETTLED_KEPT_S,
    Evidence,
    Key,
    Ledger,
    concat,
    config_of,
    make_draft,
    setting,
    speed_kn,
    to_xyz_m,
    track_id,
)
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, SourceCode, TrackPoints
from mista.geo import Ports
from mista.model import AlertStatus


@dataclass(slots=True)
class PairRun:
    """Two tracks close together over consecutive buckets."""

    a: int
    b: int
    start: float
    end: float
    lat: float
    lon: float
    est_start: float
    est_end: float = -math.inf
    after: float = math.inf  # the first time either vessel was seen after ``end``
    satellite_only: bool = True  # every fix of the run came from satellite passes
    speeds: list[float] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    key: Key | None = None
    opened: bool = False

    @property
    def duration_s(self) -> float:
        """From the likely start to the likely end (the observed end while it goes on)."""
        return max(self.est_end, self.end) - self.est_start


@register("encounter")
class EncounterDetector:
    kind = "encounter"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).encounter
        self._ports = setting(settings, "ports", Ports)
        self._pending: list[TrackPoints] = []
        self._done_until = -math.inf  # end of the last bucket compared
        self._pruned_at = -math.inf
        self._pairs: dict[tuple[int, int], PairRun] = {}
        self._closing: list[PairRun] = []  # runs broken by a long gap, closed next
        self._seen: dict[int, float] = {}  # track -> the last time it was seen (compared)
        self._ledger = Ledger()

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        points = chunk.points
        keep = points.good() & (points.t >= self._done_until)
        if keep.any():
            self._pending.append(points.take(keep))
        bucket_s = self.config.bucket_s
        until = math.floor((chunk.watermark - self.config.lag_s) / bucket_s) * bucket_s
        return self._compare(until, history)

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out = self._compare(math.inf, history)
        for pair in list(self._pairs):
            out += self._close(self._pairs.pop(pair), history)
        return out

    # -- buckets ----------------------------------------------------------------------------

    def _compare(self, until: float, history: History) -> list[AlertDraft]:
        """Compare every bucket that ends by ``until``."""
        points = concat(self._pending)
        bucket_s = self.config.bucket_s
        bucket = np.floor(points.t / bucket_s)
        ready = (bucket + 1) * bucket_s <= until
        if not ready.any():
            self._pending = [points]
            return []
        self._pending = [points.take(~ready)]
        points = points.take(ready)
        bucket = bucket[ready]
        by_track = np.lexsort((points.t, points.track))
        points = points.take(by_track)
        bucket = bucket[by_track]
        speed = speed_kn(points)
        order = np.argsort(bucket, kind="stable")
        points, speed, bucket = points.take(order), speed[order], bucket[order]
        self._done_until = max(self._done_until, float((bucket.max() + 1) * bucket_s))
        out: list[AlertDraft] = []
        starts = np.flatnonzero(
            np.r_[True, (bucket[1:] != bucket[:-1]) | (points.track[1:] != points.track[:-1])]
        )
        ends = np.r_[starts[1:], len(points)]
        # Each vessel's slow fixes in a bucket (a bucket where it gets under way keeps
        # the fixes from before it did): their mean speed and position.
        slow_fix = speed < self.config.max_speed_kn
        count = np.add.reduceat(slow_fix.astype(np.float64), starts)
        speed_sum = np.add.reduceat(np.where(slow_fix, speed, 0.0), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_speed = speed_sum / count
        slow = np.flatnonzero(mean_speed < self.config.max_speed_kn)
        if slow.shape[0] >= 2:
            lat = np.add.reduceat(np.where(slow_fix, points.lat, 0.0), starts)[slow] / count[slow]
            lon = np.add.reduceat(np.where(slow_fix, points.lon, 0.0), starts)[slow] / count[slow]
            _, port_m = self._ports.nearest(lon, lat)
            offshore = port_m >= self.config.min_port_distance_m
            groups = slow[offshore]
            lat, lon = lat[offshore], lon[offshore]
        else:
            groups = np.empty(0, np.intp)
            lat = lon = np.empty(0)
        group_bucket = bucket[starts[groups]]
        every_bucket = bucket[starts]
        for value in np.unique(every_bucket).tolist():
            here = np.flatnonzero(group_bucket == value)
            if here.shape[0] >= 2:
                self._pair_up(points, starts, ends, mean_speed, groups[here], lat[here], lon[here])
            seen = np.flatnonzero(every_bucket == value)
            last_t = points.t[ends[seen] - 1].tolist()
            tracks_here = points.track[starts[seen]].tolist()
            self._seen.update(zip(tracks_here, last_t, strict=True))
            first_t = dict(zip(tracks_here, points.t[starts[seen]].tolist(), strict=True))
            self._note_after(value * bucket_s, first_t)
            out += self._expire((value + 1) * bucket_s, history, ongoing=True)
        out += self._expire(self._done_until, history, ongoing=False)
        self._prune()
        return out

    def _prune(self) -> None:
        """Forget when tracks silent for two days were last seen (hourly): memory bounded
        by active vessels; a pair of theirs has long been closed."""
        if self._done_until - self._pruned_at < 3600.0:
            return
        self._pruned_at = self._done_until
        horizon = self._done_until - SETTLED_KEPT_S
        paired = {track for pair in self._pairs for track in pair}
        self._seen = {n: t for n, t in self._seen.items() if t >= horizon or n in paired}

    def _pair_up(
        self,
        points: TrackPoints,
        starts: np.ndarray[Any, np.dtype[np.intp]],
        ends: np.ndarray[Any, np.dtype[np.intp]],
        mean_speed: np.ndarray[Any, np.dtype[np.float64]],
        groups: np.ndarray[Any, np.dtype[np.intp]],
        lat: np.ndarray[Any, np.dtype[np.float64]],
        lon: np.ndarray[Any, np.dtype[np.float64]],
    ) -> None:
        """Extend (or begin) the run of every pair of groups within ``distance_m``."""
        xyz = to_xyz_m(lat, lon)
        found = cKDTree(xyz).query_pairs(self.config.distance_m, output_type="ndarray")
        for i, j in found.tolist():
            gi, gj = int(groups[i]), int(groups[j])
            ti, tj = int(points.track[starts[gi]]), int(points.track[starts[gj]])
            if ti == tj:
                continue
            if ti > tj:
                gi, gj, ti, tj, i, j = gj, gi, tj, ti, j, i
            start = max(float(points.t[starts[gi]]), float(points.t[starts[gj]]))
            end = min(float(points.t[ends[gi] - 1]), float(points.t[ends[gj] - 1]))
            rows = np.r_[starts[gi] : ends[gi], starts[gj] : ends[gj]]
            by_satellite = bool((points.source[rows] == SourceCode.AIS_SATELLITE).all())
            run = self._pairs.get((ti, tj))
            if run is not None and start - run.end > self.config.max_gap_s:
                self._closing.append(self._pairs.pop((ti, tj)))
                run = None
            if run is None:
                run = PairRun(
                    a=ti,
                    b=tj,
                    start=start,
                    end=end,
                    est_start=self._reach_back(ti, tj, start, satellite_only=by_satellite),
                    satellite_only=by_satellite,
                    lat=float((lat[i] + lat[j]) / 2),
                    lon=float((lon[i] + lon[j]) / 2),
                )
                self._pairs[(ti, tj)] = run
            run.end = max(run.end, end)
            run.after = math.inf
            run.satellite_only = run.satellite_only and by_satellite
            run.speeds += [float(mean_speed[gi]), float(mean_speed[gj])]
            run.distances.append(float(np.linalg.norm(xyz[i] - xyz[j])))
            run.evidence.add(points, slice(int(starts[gi]), int(ends[gi])))
            run.evidence.add(points, slice(int(starts[gj]), int(ends[gj])))

    def _reach_back(self, a: int, b: int, start: float, *, satellite_only: bool) -> float:
        """Where a pair's run likely began: half-way back to the last time either vessel
        was seen before it (at most ``extend_max_s``); fixes offshore are hours apart."""
        before = max(self._seen.get(a, -math.inf), self._seen.get(b, -math.inf))
        if not math.isfinite(before):
            # Neither seen before: by satellite alone nothing bounds the run (passes are
            # hours apart); under terrestrial cover it began when they were first heard.
            return start - self.config.extend_max_s if satellite_only else start
        if before >= start:
            return start
        return start - min((start - before) / 2, self.config.extend_max_s)

    def _note_after(self, bucket_start: float, first_t: Mapping[int, float]) -> None:
        """For runs that ended before the bucket just compared: the first time either
        vessel was seen after the run's end, in a later bucket (a fix later in the run's
        last bucket is not: the run's end is the earlier of the vessels' last fixes)."""
        for run in self._pairs.values():
            if run.after == math.inf and run.end < bucket_start:
                later = [first_t[n] for n in (run.a, run.b) if n in first_t]
                if later:
                    run.after = min(later)

    def _reach_on(self, run: PairRun) -> float:
        """Where a run likely ended: half-way on to the first time either vessel was seen
        after it (at most ``extend_max_s``)."""
        if run.after == math.inf:  # neither seen since (within max_gap_s)
            return run.end + (self.config.extend_max_s if run.satellite_only else 0.0)
        return run.end + min((run.after - run.end) / 2, self.config.extend_max_s)

    def _expire(self, now: float, history: History, *, ongoing: bool) -> list[AlertDraft]:
        """Close runs not seen for longer than ``max_gap_s``; open those that qualify."""
        out: list[AlertDraft] = []
        for run in self._closing:
            out += self._close(run, history)
        self._closing = []
        for pair, run in list(self._pairs.items()):
            if now - run.end > self.config.max_gap_s + self.config.bucket_s:
                out += self._close(self._pairs.pop(pair), history)
            elif ongoing and not run.opened and self._qualifies(run):
                run.opened = True
                out += self._emit(run, AlertStatus.OPEN, history)
        return out

    # -- alerts -----------------------------------------------------------------------------

    def _qualifies(self, run: PairRun) -> bool:
        return (
            run.duration_s >= self.config.min_duration_s
            and float(np.median(run.speeds)) < self.config.max_speed_kn
        )

    def _close(self, run: PairRun, history: History) -> list[AlertDraft]:
        run.est_end = self._reach_on(run)
        if not self._qualifies(run):
            return []
        return self._emit(run, AlertStatus.CLOSED, history)

    def _emit(self, run: PairRun, status: AlertStatus, history: History) -> list[AlertDraft]:
        if run.key is None:
            run.key = (self.kind, track_id(history, run.a), track_id(history, run.b), run.start)
        evidence = {
            "duration_s": run.duration_s,
            "observed_start": run.start,
            "observed_end": run.end,
            "median_speed_kn": round(float(np.median(run.speeds)), 3),
            "min_distance_m": round(min(run.distances), 1),
            "median_distance_m": round(float(np.median(run.distances)), 1),
            "thresholds": {
                "distance_m": self.config.distance_m,
                "min_duration_s": self.config.min_duration_s,
                "max_speed_kn": self.config.max_speed_kn,
                "min_port_distance_m": self.config.min_port_distance_m,
            },
        }
        draft = make_draft(
            self.kind,
            run.key,
            status,
            start=run.est_start,
            end=max(run.est_end, run.end),
            lat=run.lat,
            lon=run.lon,
            tracks=(run.a, run.b),
            history=history,
            label_nos=run.evidence.label_nos,
            evidence=evidence,
            seqs=run.evidence.seqs,
        )
        emitted = self._ledger.emit(draft, (run.a, run.b))
        return [emitted] if emitted is not None else []
