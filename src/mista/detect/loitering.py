"""``loitering``: a vessel slow (average < 2 kn) for at least 1 h, 20 nm or more from shore
(Global Fishing Watch's definition; thresholds in ``LoiteringConfig``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mista.detect._common import config_of, setting
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

    def mark(self, points: TrackPoints, speed: F64, open_runs: Mapping[int, Run]) -> Marks:
        slow = np.isfinite(speed) & (speed < self.config.max_speed_kn)
        distance = np.full(len(points), np.nan)
        if slow.any():
            distance[slow] = self._land.distance_to_shore_m(points.lon[slow], points.lat[slow])
        in_run = slow & (distance >= self.config.min_shore_distance_m)
        return Marks(in_run=in_run, value=distance, tag=np.zeros(len(points), np.int64))

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
