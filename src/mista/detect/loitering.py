"""``loitering``: a vessel slow (average < 2 kn) for at least 1 h, 20 nm or more from shore
(Global Fishing Watch's definition; thresholds in ``LoiteringConfig``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mista.detect._common import I64, DistanceMemo, config_of, setting
from mista.detect._runs import F64, Marks, Run, RunDetector
from mista.detect.base import register
from mista.fuse.chunk import TrackPoints
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
        self._land = setting(settings, "land", LandMask)
        self._memo = DistanceMemo()

    def mark(self, points: TrackPoints, speed: F64, open_runs: Mapping[int, Run]) -> Marks:
        slow = np.isfinite(speed) & (speed < self.config.max_speed_kn)
        distance = np.full(len(points), np.nan)
        rows = np.flatnonzero(slow)
        if rows.shape[0]:
            distance[rows] = self._shore_distance(
                points.track[rows], points.lat[rows], points.lon[rows]
            )
        in_run = slow & (distance >= self.config.min_shore_distance_m)
        return Marks(in_run=in_run, value=distance, tag=np.zeros(len(points), np.int64))

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

    def qualifies(self, run: Run) -> bool:
        return (
            run.duration_s >= self.config.min_duration_s
            and run.mean_speed_kn < self.config.max_speed_kn
        )

    def evidence(self, run: Run) -> dict[str, Any]:
        return {
            "duration_s": run.duration_s,
            "mean_speed_kn": round(run.mean_speed_kn, 3),
            "min_shore_distance_m": round(run.value_min, 1),
            "points": run.points,
            "thresholds": {
                "max_speed_kn": self.config.max_speed_kn,
                "min_shore_distance_m": self.config.min_shore_distance_m,
                "min_duration_s": self.config.min_duration_s,
            },
        }
