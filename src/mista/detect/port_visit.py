"""``port-visit``: a vessel within 3 km of a port, until it is beyond 4 km, for at least
30 min (Global Fishing Watch's anchorage hysteresis; thresholds in ``PortVisitConfig``).

A satellite pass sees a moored vessel for a few minutes, hours apart: a vessel stopped in
port (below ``stationary_kn``) and not heard since for ``silence_s`` or more is presumed
still there (it was not seen leaving), so its visit counts from its first fix inside to
the latest time the node knows of (the watermark). A drive-by is under way, never stopped.

A pass may also catch a vessel only under way inside: heading in, then silent, next heard
far off; or heard first heading out after a silence. If the silence is longer than the
vessel needed to sail between the port and its fix beyond (straight, at the slower of its
speeds inside and at that fix), it spent the rest somewhere, most likely in the port it
was heading into or out of: half that spare time counts towards the visit (as loitering
counts a silence it could not have sailed through). A drive-by has no spare time. Heard
once inside, its heading is unknown: the spare time on both sides counts. Heading in and
not heard since, it has no fix beyond: all of the silence so far is spare.

Two fixes inside more than twice ``exit_m`` apart are at two ports (no port is within
``exit_m`` of both): the visit at the first ends, one at the second begins, even with no
fix between them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mista.detect._common import I64, KNOT_M_S, DistanceMemo, config_of, flat_distance_m, setting
from mista.detect._runs import F64, Bools, Fix, Marks, Run, RunDetector
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, PointFlag, SourceCode, TrackPoints
from mista.geo import Ports

_OUTSIDE, _INSIDE, _UNDECIDED = 0, 1, -1


@register("port-visit")
class PortVisitDetector(RunDetector):
    """A point within ``entry_m`` of a port is inside, beyond ``exit_m`` outside, between
    the two it keeps the state before it; a visit is a run of inside points, at the port
    nearest its first point."""

    kind = "port-visit"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.config = config_of(settings).port_visit
        self.max_gap_s = self.config.max_gap_s
        self._ports = setting(settings, "ports", Ports)
        self._memo = DistanceMemo()
        self._watermark = -np.inf

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        self._watermark = max(self._watermark, chunk.watermark)
        out = super().update(chunk, history)
        # Stopped vessels not heard since: their visits may qualify by the time passed.
        for run in list(self._open.values()):
            out += self._opened(run, history)
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        self._watermark = max(self._watermark, watermark)
        return super().finish(watermark, history)

    def _forget(self, tracks: list[int]) -> None:
        self._memo.forget(tracks)

    def select(self, points: TrackPoints) -> Bools:
        """Good AIS points, and those flagged only as on land: a coarse coastline puts
        many berths on land, and a position far inland is no port visit anyway. Radar
        contacts are not: a port call is a named vessel's (dark vessels have their own
        alert), and radars see moored ships and harbour craft all day."""
        doubtful = np.uint16(PointFlag.IMPLAUSIBLE_SPEED | PointFlag.OUTLIER)
        mask: Bools = ((points.flags & doubtful) == 0) & (points.source != SourceCode.RADAR)
        return mask

    def mark(self, points: TrackPoints, speed: F64, open_runs: Mapping[int, Run]) -> Marks:
        n = len(points)
        port, distance = self._nearest(points)
        state = np.full(n, _UNDECIDED, np.int64)
        state[distance <= self.config.entry_m] = _INSIDE
        state[distance > self.config.exit_m] = _OUTSIDE
        # A track's first point in between takes the state carried in from before.
        firsts = np.flatnonzero(np.r_[True, points.track[1:] != points.track[:-1]])
        undecided = firsts[state[firsts] == _UNDECIDED]
        if undecided.shape[0]:
            carried = [int(t) in open_runs for t in points.track[undecided].tolist()]
            state[undecided] = np.where(carried, _INSIDE, _OUTSIDE)
        # Forward-fill the decided states (each track's first point is decided).
        last = np.where(state != _UNDECIDED, np.arange(n), 0)
        np.maximum.accumulate(last, out=last)
        in_run = state[last] == _INSIDE
        tag = np.zeros(n, np.int64)
        breaks = self._other_port(points, open_runs)
        return Marks(
            in_run=in_run, value=distance.astype(np.float64), tag=tag, subject=port, breaks=breaks
        )

    def _other_port(self, points: TrackPoints, open_runs: Mapping[int, Run]) -> Bools:
        """Points more than twice ``exit_m`` from the track's point before (or the end of
        the run carried in): no port is within ``exit_m`` of both."""
        n = len(points)
        prev_lat, prev_lon = np.full(n, np.nan), np.full(n, np.nan)
        prev_lat[1:], prev_lon[1:] = points.lat[:-1], points.lon[:-1]
        firsts = np.flatnonzero(np.r_[True, points.track[1:] != points.track[:-1]])
        prev_lat[firsts], prev_lon[firsts] = np.nan, np.nan
        if open_runs:
            carried = np.fromiter(open_runs, np.int64, len(open_runs))
            for row in firsts[np.isin(points.track[firsts], carried)].tolist():
                run = open_runs[int(points.track[row])]
                prev_lat[row], prev_lon[row] = run.end_lat, run.end_lon
        metres = flat_distance_m(prev_lat, prev_lon, points.lat, points.lon)
        far: Bools = metres > 2.0 * self.config.exit_m  # NaN (no point before): False
        return far

    def _nearest(self, points: TrackPoints) -> tuple[I64, F64]:
        """Nearest port and its distance, looked up only for points the memo cannot place
        beyond ``exit_m`` (elsewhere: port -1, the memo's lower bound)."""
        low, _ = self._memo.bounds(points.track, points.lat, points.lon)
        distance = np.maximum(low, 0.0)
        port = np.full(len(points), -1, np.int64)
        exact = np.flatnonzero(~(low > self.config.exit_m))
        if exact.shape[0]:
            found, metres = self._ports.nearest(points.lon[exact], points.lat[exact])
            port[exact], distance[exact] = found, metres
            track = points.track[exact]
            self._memo.remember(track, points.lat[exact], points.lon[exact], metres)
        return port, distance

    def qualifies(self, run: Run) -> bool:
        return self._presumed_duration_s(run) >= self.config.min_duration_s

    def _presumed_duration_s(self, run: Run) -> float:
        """The run's span, or for a stopped vessel silent since its last fix inside, the
        time from its first fix inside to the track's next fix (outside), or to the watermark
        when there is none yet (it was not seen leaving)."""
        last_known = self._watermark if math.isnan(run.next_t) else run.next_t
        stopped = run.mean_speed_kn < self.config.stationary_kn
        if stopped and last_known - run.end >= self.config.silence_s:
            return max(run.duration_s, last_known - run.start)
        if stopped or run.subject < 0:
            return run.duration_s
        # Under way inside: heading in before a silence, or out after one.
        port_lat, port_lon = (
            float(self._ports.lat[run.subject]),
            float(self._ports.lon[run.subject]),
        )
        first_m, last_m = flat_distance_m(
            np.array([run.lat, run.end_lat]),
            np.array([run.lon, run.end_lon]),
            np.full(2, port_lat),
            np.full(2, port_lon),
        ).tolist()
        # Heading in when it came closer, out when it went away; heard once, either.
        once = run.points == 1
        spare = 0.0
        if last_m < first_m or once:
            after = run.next_fix
            if after is None:  # not heard since: the silence so far, at the port
                after = (self._watermark, run.end_lat, run.end_lon, run.mean_speed_kn)
            spare += self._spare_s(run, after, run.end, run.end_lat, run.end_lon)
        if last_m > first_m or once:
            spare += self._spare_s(run, run.prev_fix, run.start, run.lat, run.lon)
        return run.duration_s + spare / 2.0

    def _spare_s(self, run: Run, fix: Fix | None, t: float, lat: float, lon: float) -> float:
        """The time between ``fix`` (beyond a silence) and the run's point (t, lat, lon)
        that the vessel did not need to sail between them, straight, at the slower of its
        speeds in the run and at ``fix``: 0 when there is none or it was not moving."""
        if fix is None or abs(fix[0] - t) < self.config.silence_s:
            return 0.0
        speed = min(run.mean_speed_kn, fix[3])
        if not speed >= self.config.stationary_kn:  # NaN or stopped: no way to tell
            return 0.0
        metres = float(
            flat_distance_m(
                np.array([fix[1]]), np.array([fix[2]]), np.array([lat]), np.array([lon])
            )[0]
        )
        return max(abs(fix[0] - t) - metres / (speed * KNOT_M_S), 0.0)

    def evidence(self, run: Run) -> dict[str, Any]:
        index = run.subject
        return {
            "port": self._ports.names[index],
            "port_lat": float(self._ports.lat[index]),
            "port_lon": float(self._ports.lon[index]),
            "duration_s": run.duration_s,
            "presumed_duration_s": self._presumed_duration_s(run),
            "min_distance_m": round(run.value_min, 1),
            "points": run.points,
            "thresholds": {
                "entry_m": self.config.entry_m,
                "exit_m": self.config.exit_m,
                "min_duration_s": self.config.min_duration_s,
                "stationary_kn": self.config.stationary_kn,
                "silence_s": self.config.silence_s,
            },
        }
