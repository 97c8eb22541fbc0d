"""``loitering``: a vessel slow (average < 2 kn) for at least 1 h, 20 nm or more from shore
(Global Fishing Watch's definition; thresholds in ``LoiteringConfig``).

Offshore, fixes often come from satellite passes hours apart: a run goes on over a
silence of up to ``max_gap_s`` when the vessel covered little ground over it, and a run
seen by one pass also counts part of the silences around it: half the time the vessel
did not need to reach the fixes before and after it (``LoiteringDetector._slack_s``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mista.detect._common import I64, KNOT_M_S, DistanceMemo, config_of, flat_distance_m, setting
from mista.detect._runs import F64, Bools, Fix, Marks, Run, RunDetector
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, TrackPoints
from mista.geo import LandMask


@register("loitering")
class LoiteringDetector(RunDetector):
    """Runs of good points slower than ``max_speed_kn`` whose every point is at least
    ``min_shore_distance_m`` from shore (distance computed for slow points only)."""

    kind = "loitering"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.config = config_of(settings).loitering
        self.max_gap_s = self.config.max_gap_s
        # A pass heard late may continue a run that expired meanwhile (by the watermark).
        self.rejoin_s = self.config.max_gap_s
        self._land = setting(settings, "land", LandMask)
        self._memo = DistanceMemo()
        self._finished = False

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        out = super().update(chunk, history)
        # A slow run not heard from since may qualify by the silence after it.
        for run in list(self._open.values()):
            out += self._opened(run, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        # The stream ends, not the vessel's silence: no slack after a run's last fix.
        self._finished = True
        return super().finish(watermark, history)

    def _forget(self, tracks: list[int]) -> None:
        self._memo.forget(tracks)

    def mark(self, points: TrackPoints, speed: F64, open_runs: Mapping[int, Run]) -> Marks:
        slow = np.isfinite(speed) & (speed < self.config.max_speed_kn)
        distance = np.full(len(points), np.nan)
        rows = np.flatnonzero(slow)
        if rows.shape[0]:
            distance[rows] = self._shore_distance(
                points.track[rows], points.lat[rows], points.lon[rows]
            )
        in_run = slow & (distance >= self.config.min_shore_distance_m)
        tag = np.zeros(len(points), np.int64)
        return Marks(in_run=in_run, value=distance, tag=tag, breaks=self._breaks(points, open_runs))

    def _breaks(self, points: TrackPoints, open_runs: Mapping[int, Run]) -> Bools:
        """A silence longer than ``bridge_s`` ends a run unless the vessel covered little
        ground over it (implied speed below ``max_speed_kn``): offshore, fixes come from
        satellite passes hours apart."""
        n = len(points)
        prev_t, prev_lat, prev_lon = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        prev_t[1:], prev_lat[1:], prev_lon[1:] = points.t[:-1], points.lat[:-1], points.lon[:-1]
        firsts = np.flatnonzero(np.r_[True, points.track[1:] != points.track[:-1]])
        for row in firsts.tolist():
            run = open_runs.get(int(points.track[row]))
            prev_t[row], prev_lat[row], prev_lon[row] = (
                (run.end, run.end_lat, run.end_lon) if run else (np.nan, np.nan, np.nan)
            )
        dt = points.t - prev_t
        long = np.flatnonzero(dt > self.config.bridge_s)
        breaks = np.zeros(n, np.bool_)
        if long.shape[0]:
            metres = flat_distance_m(
                prev_lat[long], prev_lon[long], points.lat[long], points.lon[long]
            )
            implied = metres / dt[long] / KNOT_M_S
            breaks[long] = ~(implied < self.config.max_speed_kn)
        return breaks

    def _shore_distance(self, track: I64, lat: F64, lon: F64) -> F64:
        """Distance to shore, computed only where the memo cannot tell which side of the
        threshold a point is on (elsewhere the memo's lower bound, itself far from it)."""
        low, high = self._memo.bounds(track, lat, lon)
        threshold = self.config.min_shore_distance_m
        distance = np.maximum(low, 0.0)
        exact = np.flatnonzero(~((low >= threshold) | (high < threshold)))
        if exact.shape[0]:
            distance[exact] = self._land.distance_to_shore_m(lon[exact], lat[exact])
            self._memo.remember(track[exact], lat[exact], lon[exact], distance[exact])
        return distance

    def stretched_s(self, run: Run) -> float:
        """The run's span, with the time the vessel may have spent slow in the silences
        before and after it (``_slack_s``; the watermark while no fix came after it, until
        the stream is finished)."""
        after = run.next_fix
        if after is None and not self._finished:
            after = (self.watermark, run.end_lat, run.end_lon, math.nan)
        before = self._slack_s(run.prev_fix, run.start, run.lat, run.lon)
        return run.duration_s + before + self._slack_s(after, run.end, run.end_lat, run.end_lon)

    def _slack_s(self, fix: Fix | None, t: float, lat: float, lon: float) -> float:
        """Half the time of a silence (longer than ``bridge_s``) between a run's end fix
        (``t``, ``lat``, ``lon``) and the track's fix beyond it that the vessel did not
        need to cover the distance between them at the speed it reported there (no fix
        beyond: no slack; unknown speed: the distance at ``max_speed_kn``), at most
        ``extend_max_s``."""
        if fix is None:
            return 0.0
        silence = abs(t - fix[0])
        if not silence > self.config.bridge_s:
            return 0.0
        metres = float(
            flat_distance_m(
                np.array([lat]), np.array([lon]), np.array([fix[1]]), np.array([fix[2]])
            )[0]
        )
        speed = fix[3] if fix[3] == fix[3] else self.config.max_speed_kn
        needed = metres / (max(speed, self.config.max_speed_kn) * KNOT_M_S)
        return min(max(silence - needed, 0.0) / 2.0, self.config.extend_max_s)

    def qualifies(self, run: Run) -> bool:
        return (
            self.stretched_s(run) >= self.config.min_duration_s
            and run.mean_speed_kn < self.config.max_speed_kn
        )

    def evidence(self, run: Run) -> dict[str, Any]:
        return {
            "duration_s": run.duration_s,
            "stretched_duration_s": self.stretched_s(run),
            "mean_speed_kn": round(run.mean_speed_kn, 3),
            "min_shore_distance_m": round(run.value_min, 1),
            "points": run.points,
            "thresholds": {
                "max_speed_kn": self.config.max_speed_kn,
                "min_shore_distance_m": self.config.min_shore_distance_m,
                "min_duration_s": self.config.min_duration_s,
            },
        }
