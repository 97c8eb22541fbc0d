"""``close-approach``: two vessels under way (>= 3 kn) within 0.5 nm (926 m) of each other.

Once a minute every moving vessel's latest state (at most ``stale_s`` old; a report of it
stopped ends it) is dead-reckoned to that minute; pairs within ``search_m`` (a k-d tree)
are compared. A pass whose closest point of approach is under 926 m within the next 10 min
is raised early (OPEN, ``"predicted": true``); an observed distance under 926 m confirms
it, and the alert is CLOSED when they separate (start and end = the close period). The
distance observed is the closest the two came since both were last heard (at most a
minute back): two fast vessels may be within 926 m for less than a minute, between two
minutes. A prediction never observed is WITHDRAWN, unless both vessels, heard again the
minute it lapses, are on tracks whose closest point was under 926 m within ``confirm_s``
of the predicted time (they held course and speed through a pass while one was unheard):
then it is CLOSED there. A vessel whose next report is already in and says it stopped
was under way only as long as its speed takes it to where it stopped (``next_report_s``):
harbour craft stop and go. A pair close again within ``late_merge_s`` of its last pass
is that pass, unless either was heard stopped since.

Satellite positions arrive 20-90 min after the pass, after those minutes were compared,
and passes arrive out of order. They are compared ``late_wait_s`` (90 min) after their
time, once the reports around them are likely in, against every moving vessel's
positions from around their times: each pair of fixes (one per vessel, within
``late_search_m``) is brought to a common time and the pair's closest distance is sought
within ``late_reach_s`` of it (constant course and speed). A fix's course and speed are
held only until half-way to its vessel's reports before and after it (any speed: a later
report says where it went, or that it stopped), so a pass lies next to real fixes of
both; beside a report of the vessel stopped, only ``slow_hold_s`` (when it got under
way, or stopped, is unknown). Fixes more than ``late_open_m`` apart with both vessels
heard either side of them (satellite passes each side of the pass) are compared between
those reports; with either not heard on one side (first heard there, or not since), only
``late_open_reach_s`` (15 min) either side of the fixes, and a pass still closing then
is not called (it lies beyond). Closer ones are compared also by
dead reckoning past their last fix. A fix its vessel was not yet heard after is compared
once more ``late_retry_s`` (3 h) after its time, with fixes further than ``late_open_m``
only: by then the next satellite pass of both is likely in and says how long their
courses held. A pass under 926 m is raised CLOSED, ``"late": true``, unless it follows
the pair's last pass within ``late_merge_s``, or so soon that at their relative speed the
two (in company) cannot have drawn 926 m apart since; fixes of both (a minute apart at
most) that put them further apart than 926 m between the two make them two passes. So
a pair's passes found among one batch of fixes are kept apart: held back, the fixes
before a turn may show one pass half an hour earlier, and those after it another.
A vessel heard moving again ``late_turn_s`` (10 min) or more after a fix, but not where
its course and speed lead, turned (most often at a lane's waypoint, soon after or long
before its next satellite pass): it is taken to have held its course until it turned
straight for where it was heard, at its speed. That one turn fits at one time only, and
the leg after it is compared like a fix, between the turn and the next report, with
vessels whose own next report lies where their course and speed lead (within
``late_straight_m``): their path is known too.
Satellite fixes that came in time are looked at the same way, as late: minute by minute,
a pass between two satellite passes is never seen.

Dark (radar-only) tracks take part in the minute-by-minute comparison with AIS tracks: a
vessel with its AIS off still passes close to others. A radar contact reports no speed or
course, so they are taken from the track's first contact 2-10 minutes earlier, unless
the latest contact 2 minutes earlier or more puts it under 3 kn: it has stopped (over
10 minutes a boat stopped for two still shows 5-7 kn). A dark track
close to an AIS track moving with it (within ``distance_m`` and ``shadow_kn`` of its
velocity) that minute, one of whose contacts of the last 10 minutes came within 250 m of
it, is most likely that ship's own echo, not yet associated: it is compared with nobody
that minute. (An echo's contacts lie 50-200 m off the ship, now and then one 450 m off;
a small boat 450-850 m off, 4-5 kn slower or faster, is passing close.) Two dark tracks
are not compared (no MMSI to name).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from mista.detect._common import (
    KNOT_M_S,
    Evidence,
    Key,
    Ledger,
    concat,
    config_of,
    flat_distance_m,
    make_draft,
    to_xyz_m,
    track_id,
)
from mista.detect.base import AlertDraft, History, register
from mista.fuse.chunk import FusedChunk, PointFlag, SourceCode, TrackPoints
from mista.geo import METRES_PER_DEGREE, cpa_tcpa
from mista.model import AlertStatus

#: A dark track's velocity is measured over at least this long (radar contacts are 50-150 m
#: off: over 2 minutes at 10 kn that is a 20-30 % error), from contacts at most this old.
_DARK_BASE_MIN_S = 120.0
_DARK_BASE_MAX_S = 600.0
#: A dark track this close in velocity to an AIS track beside it moves with it: its echo.
_SHADOW_KN = 5.0
#: ... and is its echo only if one of its contacts of the last 10 minutes was this close to
#: it: an echo's contacts lie 50-200 m off its AIS position (one 450 m off happens); a
#: small dark boat passing 450-850 m off a ship 4-5 kn apart is a close approach.
_ECHO_NEAR_M = 250.0
_ECHO_MEMORY_S = 600.0
#: A vessel heard again off its course turned if the leg after the turn is this far off it.
_TURN_DEG = 10.0
#: Sort keys of (track, time): a track's reports span less than this many seconds.
_KEY_SPAN_S = float(2**22)


def _sort_keys(tracks: Any, times: Any, base: float) -> Any:
    """One float per (track, time) that sorts as the pair does (times from ``base``)."""
    return tracks.astype(np.float64) * _KEY_SPAN_S + (times - base)


@dataclass(slots=True)
class Approach:
    """A pair of tracks raised as a close approach (predicted or observed)."""

    a: int
    b: int
    first_t: float
    deadline: float  # a prediction not confirmed by then is withdrawn
    lat: float
    lon: float
    cpa_m: float
    tcpa_s: float
    cpa_t: float = math.nan  # when the latest prediction put the closest point
    close_start: float | None = None
    close_end: float = math.nan
    min_distance_m: float = math.inf
    evidence: Evidence = field(default_factory=Evidence)
    key: Key | None = None


@dataclass(frozen=True, slots=True)
class States:
    """Every moving track's state dead-reckoned to one minute."""

    track: np.ndarray[Any, np.dtype[np.int64]]
    lat: np.ndarray[Any, np.dtype[np.float64]]
    lon: np.ndarray[Any, np.dtype[np.float64]]
    sog: np.ndarray[Any, np.dtype[np.float64]]
    cog: np.ndarray[Any, np.dtype[np.float64]]
    label_no: np.ndarray[Any, np.dtype[np.int32]]
    seq: np.ndarray[Any, np.dtype[np.int64]]
    dark: np.ndarray[Any, np.dtype[np.bool_]]
    t: np.ndarray[Any, np.dtype[np.float64]]  # when each was last heard


@register("close-approach")
class CloseApproachDetector:
    kind = "close-approach"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config = config_of(settings).close_approach
        self._pending = TrackPoints.empty()  # moving points, time order
        self._done_until = -math.inf  # the last minute compared
        self._approaches: dict[tuple[int, int], Approach] = {}
        self._ledger = Ledger()
        self._recent = TrackPoints.empty()  # moving points of the last ``recent_s``, any order
        self._delayed = TrackPoints.empty()  # satellite fixes compared later
        self._retry = TrackPoints.empty()  # late fixes compared again once heard after
        self._heard = TrackPoints.empty()  # AIS reports of the last ``recent_s``, any speed
        self._heard_sorted: tuple[TrackPoints, Any, Any, float] | None = None
        self._last_pass: dict[tuple[int, int], float] = {}  # pair -> end of its latest alert
        # Radar track -> its contacts (t, lat, lon), in time order, of the last
        # ``_ECHO_MEMORY_S`` before the minutes compared: its speed and course, and
        # whether it is an AIS ship's echo.
        self._contacts: dict[int, list[tuple[float, float, float]]] = {}

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        points = chunk.points
        radar = points.source == SourceCode.RADAR
        if radar.any():
            points = self._dark_velocities(points, radar)
        # Points the coarse coastline puts on land are fine positions of moving ships.
        doubtful = np.uint16(PointFlag.IMPLAUSIBLE_SPEED | PointFlag.OUTLIER)
        moving = (
            ((points.flags & doubtful) == 0)
            & (points.sog >= self.config.min_speed_kn)
            & np.isfinite(points.cog)
        )
        fresh = points.t > self._done_until - self.config.stale_s
        on_time = moving & fresh
        # Dark tracks only minute by minute, with their echo check (late satellite fixes
        # would meet their own ship's echo).
        late = moving & ~on_time & ~radar
        moving &= ~radar
        # A report of a vessel stopped ends its moving state: without it, its last moving
        # fix would be dead-reckoned on past where it stopped.
        stopped = fresh & ~radar & ((points.flags & doubtful) == 0) & ~on_time
        if on_time.any() or stopped.any():
            merged = concat([self._pending, points.take(on_time | stopped)])
            self._pending = merged.take(np.argsort(merged.t, kind="stable"))
        # Satellite fixes that came in time are compared again later, as late ones: the
        # minute-by-minute comparison rarely sees a pass between passes.
        satellite = on_time & (points.source == SourceCode.AIS_SATELLITE)
        if satellite.any():
            self._delayed = concat([self._delayed, points.take(satellite)])
        out: list[AlertDraft] = []
        if moving.any():
            recent = concat([self._recent, points.take(moving)])
            keep = recent.t > chunk.watermark - self.config.recent_s
            self._recent = recent.take(keep)
        heard = ~radar & ((points.flags & doubtful) == 0)
        if heard.any():
            merged = concat([self._heard, points.take(heard)])
            self._heard = merged.take(merged.t > chunk.watermark - self.config.recent_s)
        if late.any():  # compared once the satellite data around them is likely in
            self._delayed = concat([self._delayed, points.take(late)])
        out += self._compare(chunk.watermark, history)
        # Passes older than any late fix can reach are forgotten (memory: active vessels).
        horizon = chunk.watermark - self.config.recent_s - self.config.late_merge_s
        if self._last_pass and min(self._last_pass.values()) < horizon:
            self._last_pass = {p: end for p, end in self._last_pass.items() if end >= horizon}
        due = self._delayed.t < chunk.watermark - self.config.late_wait_s
        if due.any():
            now_due = self._delayed.take(due)
            out += self._late(now_due, history)
            self._delayed = self._delayed.take(~due)
            # A fix its vessel was not heard after yet is compared again later, once its
            # next report (a satellite pass hours on) says how long its course held.
            _, after = self._held(now_due.track, now_due.t)
            if np.isinf(after).any():
                self._retry = concat([self._retry, now_due.take(np.isinf(after))])
        again = self._retry.t < chunk.watermark - self.config.late_retry_s
        if again.any():
            out += self._late(self._retry.take(again), history, again=True)
            self._retry = self._retry.take(~again)
        return out

    def _dark_velocities(self, points: TrackPoints, radar: Any) -> TrackPoints:
        """``points`` with each radar contact's speed and course from its track's contact
        2-10 minutes before it (NaN when there is none)."""
        sog, cog = points.sog.copy(), points.cog.copy()
        rows = np.flatnonzero(radar)
        measured: list[int] = []  # rows given a speed and course, and those
        speeds: list[float] = []
        courses: list[float] = []
        for row, number, t, lat, lon in zip(
            rows.tolist(),
            points.track[rows].tolist(),
            points.t[rows].tolist(),
            points.lat[rows].tolist(),
            points.lon[rows].tolist(),
            strict=True,
        ):
            kept = self._contacts.setdefault(number, [])
            base = None  # the first kept contact 2-10 minutes before (a loop: no generator)
            for fix in kept:
                if _DARK_BASE_MIN_S <= t - fix[0] <= _DARK_BASE_MAX_S:
                    base = fix
                    break
            if base is not None:
                north = (lat - base[1]) * METRES_PER_DEGREE
                east = (lon - base[2]) * METRES_PER_DEGREE * math.cos(math.radians(lat))
                measured.append(row)
                speeds.append(
                    min(
                        math.hypot(north, east) / (t - base[0]) / KNOT_M_S,
                        self._stopped_speed(kept, t, lat, lon),
                    )
                )
                courses.append(math.degrees(math.atan2(east, north)) % 360.0)
            if not kept or t > kept[-1][0]:
                kept.append((t, lat, lon))
        sog[measured] = speeds
        cog[measured] = courses
        return replace(points, sog=sog, cog=cog)

    def _stopped_speed(
        self, kept: list[tuple[float, float, float]], t: float, lat: float, lon: float
    ) -> float:
        """The speed (kn) from the latest kept contact at least 2 minutes before, if under
        ``min_speed_kn`` (else inf): over 2-10 minutes a boat that stopped a minute or two
        ago still shows 5-7 kn, and a stopped boat's passes are no close approaches."""
        for fix in reversed(kept):
            if _DARK_BASE_MIN_S <= t - fix[0] <= _DARK_BASE_MAX_S:
                north = (lat - fix[1]) * METRES_PER_DEGREE
                east = (lon - fix[2]) * METRES_PER_DEGREE * math.cos(math.radians(lat))
                speed = math.hypot(north, east) / (t - fix[0]) / KNOT_M_S
                return speed if speed < self.config.min_speed_kn else math.inf
        return math.inf

    def _late(
        self, late: TrackPoints, history: History, *, again: bool = False
    ) -> list[AlertDraft]:
        """Passes found among late points and the moving points around their times."""
        window = self.config.late_reach_s
        recent = self._recent
        span = (recent.t >= late.t.min() - window) & (recent.t <= late.t.max() + window)
        recent = recent.take(span)
        if len(recent) < 2:
            return []
        # Each fix, and where its vessel turned after it (the leg from the turn to its next
        # report, as one more fix): rows past ``n_late`` / ``n_recent`` are such legs.
        n_late, n_recent = len(late), len(recent)
        late, late_next, late_held = self._turns(late)
        recent, recent_next, recent_held = self._turns(recent)
        tree = cKDTree(to_xyz_m(recent.lat, recent.lon))
        near = tree.query_ball_point(to_xyz_m(late.lat, late.lon), self.config.late_search_m)
        counts = np.fromiter(map(len, near), np.int64, len(near))
        if counts.sum() == 0:
            return []
        p = np.repeat(np.arange(len(late)), counts)
        q = np.fromiter(itertools.chain.from_iterable(near), np.int64, int(counts.sum()))
        keep = (late.track[p] != recent.track[q]) & (np.abs(late.t[p] - recent.t[q]) <= window)
        p, q = p[keep], q[keep]
        if p.shape[0] == 0:
            return []
        # Each fix's course and speed hold only until half-way to its vessel's reports
        # either side: a later report tells where it went (or that it stopped).
        held_lo, held_hi = self._held(np.r_[late.track, recent.track], np.r_[late.t, recent.t])
        late_lo, late_hi = held_lo[: len(late)], held_hi[: len(late)]
        recent_lo, recent_hi = held_lo[len(late) :], held_hi[len(late) :]
        leg = np.isfinite(late_next)  # a leg holds from the turn to the next report
        late_lo[leg], late_hi[leg] = late.t[leg], late_next[leg]
        leg = np.isfinite(recent_next)
        recent_lo[leg], recent_hi[leg] = recent.t[leg], recent_next[leg]
        now = np.maximum(late.t[p], recent.t[q])
        lo = np.maximum.reduce([late_lo[p], recent_lo[q], now - window])
        hi = np.minimum.reduce([late_hi[p], recent_hi[q], now + window])
        # Fixes further apart are compared between reports of both vessels heard either
        # side of them (the pass lies between what they were heard doing); with either
        # unheard on one side, only ``late_open_reach_s`` from the fixes.
        far = flat_distance_m(late.lat[p], late.lon[p], recent.lat[q], recent.lon[q])
        bounded = np.isfinite(late_lo[p]) & np.isfinite(late_hi[p])
        bounded &= np.isfinite(recent_lo[q]) & np.isfinite(recent_hi[q])
        loose = (far > self.config.late_open_m) & ~bounded
        reach = self.config.late_open_reach_s
        lo[loose] = np.maximum(lo[loose], now[loose] - reach)
        hi[loose] = np.minimum(hi[loose], now[loose] + reach)
        fixes = (p < n_late) & (q < n_recent)
        apart = self._apart(late, recent, p[fixes], q[fixes])
        # A leg after a turn is compared only with a vessel whose next report says it held
        # its course: two reconstructed paths together are too rough.
        keep = (lo <= hi) & (fixes | recent_held[q] | late_held[p])
        if again:  # fixes this close were compared the first time
            keep &= (far > self.config.late_open_m) | ~fixes
        p, q, lo, hi, loose = p[keep], q[keep], lo[keep], hi[keep], loose[keep]
        if p.shape[0] == 0:
            return []
        found = _closest(
            (late.t[p], late.lat[p], late.lon[p], late.sog[p], late.cog[p]),
            (recent.t[q], recent.lat[q], recent.lon[q], recent.sog[q], recent.cog[q]),
            (lo, hi),
            self.config.distance_m,
        )
        distance, at, half = found
        # With a vessel unheard on one side, a pass still closing when its course is no
        # longer held lies beyond what was heard.
        edge = loose & ((at <= lo + 1.0) | (at >= hi - 1.0))
        close = np.flatnonzero((distance < self.config.distance_m) & ~edge)
        a, b = late.track[p[close]], recent.track[q[close]]
        low, high = np.minimum(a, b), np.maximum(a, b)
        order = np.lexsort((distance[close], high, low))
        # Per pair its closest pass, and others only with fixes of both seen further apart
        # than ``distance_m`` between them: two passes, not one seen from two fixes.
        passes: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
        for k in order.tolist():
            pair = (int(low[k]), int(high[k]))
            if pair in self._approaches:
                continue
            row = int(close[k])
            span = (float(at[row] - half[row]), float(at[row] + half[row]))
            taken = passes.setdefault(pair, [])
            if all(_parted(apart.get(pair, []), other[:2], span) for other in taken):
                taken.append((*span, row))
        out: list[AlertDraft] = []
        both = (late, recent, p, q)
        for pair, taken in passes.items():
            for start, end, row in sorted(taken):
                if self._merged(pair, (start, end), both, row, apart.get(pair, [])):
                    continue
                i, j = int(p[row]), int(q[row])
                approach = Approach(
                    a=pair[0],
                    b=pair[1],
                    first_t=float(at[row]),
                    deadline=end,
                    lat=float((late.lat[i] + recent.lat[j]) / 2),
                    lon=float((late.lon[i] + recent.lon[j]) / 2),
                    cpa_m=float(distance[row]),
                    tcpa_s=0.0,
                    close_start=start,
                    close_end=end,
                    min_distance_m=float(distance[row]),
                )
                approach.evidence.add_one(int(late.label_no[i]), int(late.seq[i]))
                approach.evidence.add_one(int(recent.label_no[j]), int(recent.seq[j]))
                out += self._emit(approach, AlertStatus.CLOSED, history, late=True)
        return out

    def _merged(
        self,
        pair: tuple[int, int],
        span: tuple[float, float],
        fixes: tuple[TrackPoints, TrackPoints, Any, Any],
        row: int,
        apart: list[float],
    ) -> bool:
        """Whether a late pass is the pair's last one seen again: it starts within
        ``late_merge_s`` of its end, or so soon that at their relative speed the two (in
        company) cannot have parted since; unless fixes of both seen in between put them
        further apart than ``distance_m``."""
        late, recent, p, q = fixes
        i, j = int(p[row]), int(q[row])
        last = self._last_pass.get(pair, -math.inf)
        since = span[0] - last
        drift = since * _relative_speed(
            (float(late.sog[i]), float(late.cog[i])),
            (float(recent.sog[j]), float(recent.cog[j])),
        )
        if since > self.config.late_merge_s and drift > self.config.distance_m:
            return False
        return since < 0 or not _parted(apart, (last, last), span)

    def _apart(
        self, late: TrackPoints, recent: TrackPoints, p: Any, q: Any
    ) -> dict[tuple[int, int], list[float]]:
        """Per pair, the times fixes of both (``p`` of ``late``, ``q`` of ``recent``, at
        most ``bucket_s`` apart) put them further apart than ``distance_m``."""
        both = np.abs(late.t[p] - recent.t[q]) <= self.config.bucket_s
        p, q = p[both], q[both]
        now = np.maximum(late.t[p], recent.t[q])
        separation, _, _ = _closest(
            (late.t[p], late.lat[p], late.lon[p], late.sog[p], late.cog[p]),
            (recent.t[q], recent.lat[q], recent.lon[q], recent.sog[q], recent.cog[q]),
            (now, now),
            self.config.distance_m,
        )
        far = separation > self.config.distance_m
        a, b = late.track[p[far]], recent.track[q[far]]
        out: dict[tuple[int, int], list[float]] = {}
        for low, high, t in zip(
            np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), now[far].tolist(), strict=True
        ):
            out.setdefault((low, high), []).append(t)
        return out

    def _turns(self, points: TrackPoints) -> tuple[TrackPoints, Any, Any]:
        """``points`` and, after them, for each moving point whose vessel was heard moving
        again ``late_turn_s`` or more later (within ``recent_s``) but not where its course
        and speed lead, the leg it took after it turned: it held its course until it turned
        straight for where it was heard, at its speed (one turn, at the one time that fits,
        as at a lane's waypoint), as a point at the turn heading there. Also per row, when
        a leg's next report is (NaN for the points), and whether a point's course and speed
        lead to its next report (``late_straight_m``, or 2 % of the way): it held them."""
        n = len(points)
        none = np.full(n, np.nan)
        held = np.zeros(n, np.bool_)
        heard = self._heard
        if n == 0 or len(heard) == 0:
            return points, none, held
        order, keys, base = self._heard_keys()
        wanted = _sort_keys(points.track, points.t, base)
        after = np.searchsorted(keys, wanted, side="right")
        nxt = order[np.minimum(after, len(keys) - 1)]
        span = heard.t[nxt] - points.t
        heard_next = (after < len(keys)) & (heard.track[nxt] == points.track)
        heard_next &= (span >= self.config.late_turn_s) & (span <= self.config.recent_s)
        heard_next &= (heard.sog[nxt] >= self.config.min_speed_kn) & np.isfinite(points.cog)
        scale = METRES_PER_DEGREE * np.cos(np.radians(points.lat))
        dx = (heard.lon[nxt] - points.lon) * scale  # to the next report, east and north
        dy = (heard.lat[nxt] - points.lat) * METRES_PER_DEGREE
        course = np.radians(points.cog)
        ux, uy = np.sin(course), np.cos(course)
        reach = points.sog * KNOT_M_S * span  # how far it went at its speed
        off = np.hypot(dx - ux * reach, dy - uy * reach)
        held = heard_next & (off <= np.maximum(self.config.late_straight_m, 0.02 * reach))
        # Held for ``before`` metres, then straight to the next report: the path is as long
        # as its speed took it.
        gap2 = dx * dx + dy * dy
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            before = (reach * reach - gap2) / (2.0 * (reach - (dx * ux + dy * uy)))
        turned = heard_next & ~held & (before >= 0) & (before < reach) & (reach * reach >= gap2)
        tx, ty = ux * before, uy * before
        leg_course = np.degrees(np.arctan2(dx - tx, dy - ty)) % 360.0
        turned &= np.abs((leg_course - points.cog + 180.0) % 360.0 - 180.0) > _TURN_DEG
        rows = np.flatnonzero(turned)
        if rows.shape[0] == 0:
            return points, none, held
        legs = points.take(rows)
        legs = replace(
            legs,
            t=legs.t + before[rows] / (legs.sog * KNOT_M_S),
            lat=legs.lat + ty[rows] / METRES_PER_DEGREE,
            lon=legs.lon + tx[rows] / scale[rows],
            cog=leg_course[rows],
        )
        extended = concat([points, legs])
        return extended, np.r_[none, heard.t[nxt[rows]]], np.r_[held, np.zeros(rows.shape[0], bool)]

    def _heard_keys(self) -> tuple[Any, Any, float]:
        """The reports heard sorted by (track, time): their order, sort keys and the time
        the keys count from (kept until the reports change: ``_late`` looks them up thrice)."""
        heard = self._heard
        if self._heard_sorted is None or self._heard_sorted[0] is not heard:
            base = float(heard.t.min()) if len(heard) else 0.0
            order = np.lexsort((heard.t, heard.track))
            keys = _sort_keys(heard.track[order], heard.t[order], base)
            self._heard_sorted = (heard, order, keys, base)
        _, order, keys, base = self._heard_sorted
        return order, keys, base

    def _held(self, tracks: Any, times: Any) -> tuple[Any, Any]:
        """For fixes (track, time): from and to when their course and speed are taken as
        held, half-way to the track's previous and next reports (unbounded without one)."""
        heard = self._heard
        order, sorted_keys, base = self._heard_keys()
        heard_track, heard_t = heard.track[order], heard.t[order]
        wanted = _sort_keys(tracks, times, base)
        before = np.searchsorted(sorted_keys, wanted, side="left") - 1
        after = np.searchsorted(sorted_keys, wanted, side="right")
        heard_slow = heard.sog[order] < self.config.min_speed_kn
        reach = self.config.slow_hold_s
        lo = np.full(len(times), -np.inf)
        hi = np.full(len(times), np.inf)
        has = before >= 0
        has[has] = heard_track[before[has]] == tracks[has]
        lo[has] = (heard_t[before[has]] + times[has]) / 2
        # Beside a report of it stopped, when it got under way (or stopped) is unknown.
        slow = has.copy()
        slow[has] = heard_slow[before[has]]
        lo[slow] = np.maximum(lo[slow], times[slow] - reach)
        has = after < len(heard_t)
        has[has] = heard_track[after[has]] == tracks[has]
        hi[has] = (heard_t[after[has]] + times[has]) / 2
        slow = has.copy()
        slow[has] = heard_slow[after[has]]
        hi[slow] = np.minimum(hi[slow], times[slow] + reach)
        return lo, hi

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        out = self._compare(watermark, history)
        if len(self._delayed):
            out += self._late(self._delayed, history)
            self._delayed = TrackPoints.empty()
        if len(self._retry):
            out += self._late(self._retry, history, again=True)
            self._retry = TrackPoints.empty()
        for pair in list(self._approaches):
            out += self._end(self._approaches.pop(pair), history)
        return out

    def _compare(self, until: float, history: History) -> list[AlertDraft]:
        bucket_s = self.config.bucket_s
        pending = self._pending
        if len(pending) == 0:
            return []
        first = max(self._done_until + bucket_s, math.ceil(pending.t[0] / bucket_s) * bucket_s)
        out: list[AlertDraft] = []
        now = first
        latest = _Latest(pending)
        following = _following(pending)
        while now <= until:
            if not self._approaches:  # nothing open: minutes with no point find nothing
                busy = self._next_busy(now)
                if busy > until:
                    self._done_until = now + math.floor((until - now) / bucket_s) * bucket_s
                    break
                now = busy
            out += self._minute(now, self._states(now, latest, following), history)
            self._done_until = now
            now += bucket_s
        keep = pending.t > self._done_until - self.config.stale_s
        self._pending = pending.take(keep)
        horizon = self._done_until - _ECHO_MEMORY_S
        for number, contacts in list(self._contacts.items()):
            kept = [c for c in contacts if c[0] >= horizon]
            if kept:
                self._contacts[number] = kept
            else:
                del self._contacts[number]
        return out

    def _next_busy(self, now: float) -> float:
        """``now``, or else the first minute after it with a pending point in its window
        (inf: none); a feed with days between its data would compare every minute."""
        pending, bucket_s = self._pending, self.config.bucket_s
        hi = int(np.searchsorted(pending.t, now, side="right"))
        lo = int(np.searchsorted(pending.t, now - self.config.stale_s, side="right"))
        if lo < hi:
            return now
        if hi == len(pending):
            return math.inf
        return max(now, math.ceil(float(pending.t[hi]) / bucket_s) * bucket_s)

    def _states(self, now: float, latest: _Latest, following: Any) -> States:
        """Every track's latest pending point of the ``stale_s`` up to ``now``, by track
        number, dead-reckoned to ``now``."""
        pending = self._pending
        lo = int(np.searchsorted(pending.t, now - self.config.stale_s, side="right"))
        hi = int(np.searchsorted(pending.t, now, side="right"))
        last = latest.rows(lo, hi)
        under_way = (pending.sog[last] >= self.config.min_speed_kn) & np.isfinite(pending.cog[last])
        last = last[under_way]
        lat, lon, sog, cog = (
            pending.lat[last],
            pending.lon[last],
            pending.sog[last],
            pending.cog[last],
        )
        metres = sog * KNOT_M_S * (now - pending.t[last])
        course = np.radians(cog)
        lat_now = lat + metres * np.cos(course) / METRES_PER_DEGREE
        lon_now = lon + metres * np.sin(course) / (METRES_PER_DEGREE * np.cos(np.radians(lat)))
        # A vessel whose next report, already in, says it stopped was under way only as
        # long as its speed takes it to where it stopped: harbour craft stop and go, and
        # carried on at its old speed it would be up to 90 s past that point. Radar
        # contacts report no stop.
        after = following[last]
        known = (after >= 0) & (pending.source[last] != SourceCode.RADAR)
        after = np.where(known, after, last)
        span = pending.t[after] - pending.t[last]
        known &= (span > 0) & (span <= self.config.next_report_s)
        known &= pending.sog[after] < self.config.min_speed_kn
        if known.any():
            moved = flat_distance_m(lat, lon, pending.lat[after], pending.lon[after])
            stopped = known & (metres > moved)
            if stopped.any():
                keep = ~stopped
                last, lat_now, lon_now, sog, cog = (
                    last[keep],
                    lat_now[keep],
                    lon_now[keep],
                    sog[keep],
                    cog[keep],
                )
        return States(
            pending.track[last],
            lat_now,
            lon_now,
            sog,
            cog,
            pending.label_no[last],
            pending.seq[last],
            pending.source[last] == SourceCode.RADAR,
            pending.t[last],
        )

    def _minute(self, now: float, states: States, history: History) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        limit = self.config.distance_m
        close_now: set[tuple[int, int]] = set()
        if states.track.shape[0] >= 2:
            found = cKDTree(to_xyz_m(states.lat, states.lon)).query_pairs(
                self.config.search_m, output_type="ndarray"
            )
            i, j = found[:, 0], found[:, 1]
            distance = flat_distance_m(states.lat[i], states.lon[i], states.lat[j], states.lon[j])
            if states.dark.any():
                i, j, distance = self._without_echoes(states, i, j, distance, now)
            cpa, tcpa = cpa_tcpa(
                states.lat[i],
                states.lon[i],
                states.sog[i],
                states.cog[i],
                states.lat[j],
                states.lon[j],
                states.sog[j],
                states.cog[j],
            )
            cpa = np.asarray(cpa, np.float64)
            tcpa = np.asarray(tcpa, np.float64)
            # Two fast vessels close for less than a minute pass between two minutes: the
            # closest they came since both were last heard (at most a minute ago) counts.
            since = np.maximum(np.maximum(states.t[i], states.t[j]), now - self.config.bucket_s)
            ago = np.clip(tcpa, since - now, 0.0)
            closing = _relative_speeds(states, i, j)
            distance = np.minimum(distance, np.hypot(cpa, closing * (ago - tcpa)))
            predicted = (cpa < limit) & (tcpa >= 0) & (tcpa <= self.config.max_tcpa_s)
            for k in np.flatnonzero((distance < limit) | predicted).tolist():
                a, b = int(states.track[i[k]]), int(states.track[j[k]])
                pair = (a, b) if a < b else (b, a)
                found_k = (int(i[k]), int(j[k]), float(distance[k]), float(cpa[k]), float(tcpa[k]))
                out += self._seen(pair, now, states, found_k, history)
                if distance[k] < limit:
                    close_now.add(pair)
        present: set[int] | None = None  # the tracks with a state this minute
        for pair, approach in list(self._approaches.items()):
            if pair in close_now:
                continue
            if approach.close_start is None:
                if now > approach.deadline:
                    del self._approaches[pair]
                    if self._passed_unheard(approach, now, states):
                        out += self._emit(approach, AlertStatus.CLOSED, history)
                        continue
                    withdrawn = self._ledger.withdraw(approach.key) if approach.key else None
                    out += [withdrawn] if withdrawn is not None else []
                continue
            if present is None:
                present = set(states.track.tolist())
            both = pair[0] in present and pair[1] in present
            if both or now - approach.close_end > self.config.stale_s:
                del self._approaches[pair]  # apart again (or both no longer under way)
                out += self._end(approach, history)
        return out

    def _passed_unheard(self, approach: Approach, now: float, states: States) -> bool:
        """Whether a predicted pass never observed (a vessel unheard around it) happened
        as predicted: both AIS vessels heard again this minute, on tracks that put their
        closest point under ``distance_m`` within ``confirm_s`` of the predicted time (they
        held course and speed through it). If so it is marked observed there."""
        if now > approach.deadline + self.config.bucket_s:
            return False  # nothing moved for minutes: looked at only now, long after it
        rows = np.searchsorted(states.track, (approach.a, approach.b))
        if (rows >= states.track.shape[0]).any():
            return False
        i, j = int(rows[0]), int(rows[1])
        if states.track[i] != approach.a or states.track[j] != approach.b:
            return False
        if states.dark[i] or states.dark[j]:
            return False  # a radar-only track's course is too rough to tell
        cpa, tcpa = cpa_tcpa(
            float(states.lat[i]),
            float(states.lon[i]),
            float(states.sog[i]),
            float(states.cog[i]),
            float(states.lat[j]),
            float(states.lon[j]),
            float(states.sog[j]),
            float(states.cog[j]),
        )
        when = now + float(tcpa)
        if not (float(cpa) < self.config.distance_m and approach.first_t <= when < now):
            return False
        if abs(when - approach.cpa_t) > self.config.confirm_s:
            return False
        approach.close_start = approach.close_end = when
        approach.min_distance_m = float(cpa)
        for row in (i, j):
            approach.evidence.add_one(int(states.label_no[row]), int(states.seq[row]))
        return True

    def _without_echoes(
        self, states: States, i: Any, j: Any, distance: Any, now: float
    ) -> tuple[Any, Any, Any]:
        """The pairs less those of two dark tracks and of a dark track moving with an AIS
        track beside it (its echo) this minute."""
        dark_i, dark_j = states.dark[i], states.dark[j]
        mixed = dark_i != dark_j
        course_i, course_j = np.radians(states.cog[i]), np.radians(states.cog[j])
        dn = states.sog[i] * np.cos(course_i) - states.sog[j] * np.cos(course_j)
        de = states.sog[i] * np.sin(course_i) - states.sog[j] * np.sin(course_j)
        along = mixed & (distance < self.config.distance_m) & (np.hypot(dn, de) < _SHADOW_KN)
        # Its own ship's echo came within ``_ECHO_NEAR_M`` of it lately: a contact 450 m
        # off happens, but at a minute mark a real boat passing that close is moving with
        # it too (5 kn apart at most).
        for k in np.flatnonzero(along).tolist():
            dark, ship = (int(i[k]), int(j[k])) if dark_i[k] else (int(j[k]), int(i[k]))
            along[k] = self._nearest_contact_m(states, dark, ship, now) < _ECHO_NEAR_M
        echo = np.zeros(states.track.shape[0], np.bool_)  # per state: an echo this minute
        echo[np.where(dark_i, i, j)[along]] = True
        keep = ~(dark_i & dark_j) & ~echo[i] & ~echo[j]
        return i[keep], j[keep], distance[keep]

    def _nearest_contact_m(self, states: States, dark: int, ship: int, now: float) -> float:
        """How close the radar contacts of the last ``_ECHO_MEMORY_S`` of the dark track
        (row ``dark`` of ``states``) came to the AIS track (row ``ship``), its course and
        speed held back to each contact's time."""
        east, north = _velocity(states.sog[ship], states.cog[ship])
        lat0, lon0 = float(states.lat[ship]), float(states.lon[ship])
        scale = METRES_PER_DEGREE * math.cos(math.radians(lat0))
        nearest = math.inf
        for t, lat, lon in self._contacts.get(int(states.track[dark]), []):
            if now - _ECHO_MEMORY_S <= t <= now:
                dx = (lon - lon0) * scale - float(east) * (t - now)
                dy = (lat - lat0) * METRES_PER_DEGREE - float(north) * (t - now)
                nearest = min(nearest, math.hypot(dx, dy))
        return nearest

    def _seen(
        self,
        pair: tuple[int, int],
        now: float,
        states: States,
        found: tuple[int, int, float, float, float],
        history: History,
    ) -> list[AlertDraft]:
        """The pair (rows ``i``, ``j`` of ``states``) is close now or predicted to be."""
        i, j, distance_m, cpa_m, tcpa_s = found
        approach = self._approaches.get(pair)
        is_new = approach is None
        ended = self._last_pass.get(pair, -math.inf)
        # The pair's last pass ended moments ago: still the same pass, unless one of them
        # was heard stopped since (harbour craft stop and go: a new pass).
        if (
            approach is None
            and now - ended <= self.config.late_merge_s
            and not self._stopped_since(pair, ended, now)
        ):
            return []
        if approach is None:
            approach = Approach(
                a=pair[0],
                b=pair[1],
                first_t=now,
                deadline=now + max(tcpa_s, 0.0) + 2 * self.config.bucket_s,
                lat=float((states.lat[i] + states.lat[j]) / 2),
                lon=float((states.lon[i] + states.lon[j]) / 2),
                cpa_m=cpa_m,
                tcpa_s=tcpa_s,
                cpa_t=now + tcpa_s,
            )
            self._approaches[pair] = approach
        for row in (i, j):
            approach.evidence.add_one(int(states.label_no[row]), int(states.seq[row]))
        if distance_m < self.config.distance_m:
            was_close = approach.close_start is not None
            if not was_close:
                approach.close_start = now
            approach.close_end = now
            if distance_m < approach.min_distance_m:
                approach.min_distance_m = distance_m
                approach.lat = float((states.lat[i] + states.lat[j]) / 2)
                approach.lon = float((states.lon[i] + states.lon[j]) / 2)
            if not was_close:
                return self._emit(approach, AlertStatus.OPEN, history)
            return []
        if approach.close_start is None:
            approach.deadline = max(approach.deadline, now + tcpa_s + 2 * self.config.bucket_s)
            approach.cpa_m, approach.tcpa_s = min(approach.cpa_m, cpa_m), tcpa_s
            approach.cpa_t = now + tcpa_s
        return self._emit(approach, AlertStatus.OPEN, history) if is_new else []

    def _stopped_since(self, pair: tuple[int, int], since: float, until: float) -> bool:
        """Whether either track of ``pair`` was heard stopped after ``since``, by ``until``."""
        heard = self._heard
        when = (heard.t > since) & (heard.t <= until)
        when &= (heard.track == pair[0]) | (heard.track == pair[1])
        return bool((heard.sog[when] < self.config.min_speed_kn).any())

    def _end(self, approach: Approach, history: History) -> list[AlertDraft]:
        if approach.close_start is None:
            withdrawn = self._ledger.withdraw(approach.key) if approach.key else None
            return [withdrawn] if withdrawn is not None else []
        return self._emit(approach, AlertStatus.CLOSED, history)

    def _emit(
        self, approach: Approach, status: AlertStatus, history: History, *, late: bool = False
    ) -> list[AlertDraft]:
        if approach.key is None:
            approach.key = (
                self.kind,
                track_id(history, approach.a),
                track_id(history, approach.b),
                approach.first_t,
            )
        confirmed = approach.close_start is not None
        evidence: dict[str, Any] = {
            "predicted": not confirmed,
            "cpa_m": round(approach.cpa_m, 1),
            "tcpa_s": round(approach.tcpa_s, 1),
            "thresholds": {
                "distance_m": self.config.distance_m,
                "min_speed_kn": self.config.min_speed_kn,
                "max_tcpa_s": self.config.max_tcpa_s,
            },
        }
        if late:
            evidence["late"] = True
        if confirmed:
            assert approach.close_start is not None
            evidence["min_distance_m"] = round(approach.min_distance_m, 1)
            evidence["duration_s"] = approach.close_end - approach.close_start
            start, end = approach.close_start, approach.close_end
            pair = (approach.a, approach.b)
            self._last_pass[pair] = max(self._last_pass.get(pair, -math.inf), end)
        else:
            start, end = approach.first_t, approach.first_t + max(approach.tcpa_s, 0.0)
        draft = make_draft(
            self.kind,
            approach.key,
            status,
            start=start,
            end=end,
            lat=approach.lat,
            lon=approach.lon,
            tracks=(approach.a, approach.b),
            history=history,
            label_nos=approach.evidence.label_nos,
            evidence=evidence,
            seqs=approach.evidence.seqs,
        )
        emitted = self._ledger.emit(draft, (approach.a, approach.b))
        return [emitted] if emitted is not None else []


class _Latest:
    """Per track, its last row of the pending points (in time order) up to a row, kept
    up to date as the minutes of one comparison go by (each minute's window of rows
    starts and ends no earlier than the last one's)."""

    def __init__(self, pending: TrackPoints) -> None:
        numbers, self._index = np.unique(pending.track, return_inverse=True)
        self._last = np.full(numbers.shape[0], -1, np.int64)  # per track (by number)
        self._seen = 0  # rows before this one are counted

    def rows(self, lo: int, hi: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Each track's last row before ``hi`` if that is at or after ``lo``, by track
        number (ascending)."""
        if hi > self._seen:
            np.maximum.at(self._last, self._index[self._seen : hi], np.arange(self._seen, hi))
            self._seen = hi
        last = self._last
        found: np.ndarray[Any, np.dtype[np.int64]] = last[last >= lo]
        return found


def _following(points: TrackPoints) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per row of ``points`` (in time order), its track's next row (-1 for none)."""
    order = np.lexsort((points.t, points.track))
    following = np.full(len(points), -1, np.int64)
    same = points.track[order[1:]] == points.track[order[:-1]]
    following[order[:-1][same]] = order[1:][same]
    return following


_State = tuple[np.ndarray[Any, Any], ...]  # t, lat, lon, sog, cog


def _closest(
    first: _State, second: _State, window: tuple[Any, Any], limit_m: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """For pairs of fixes (element-wise), the vessels' closest distance between the times
    ``window`` (from, to; constant course and speed), when it happens, and half the time
    they are within ``limit_m`` of each other around it (0 when they never are)."""
    t1, lat1, lon1, sog1, cog1 = first
    t2, lat2, lon2, sog2, cog2 = second
    now = np.maximum(t1, t2)
    v1e, v1n = _velocity(sog1, cog1)
    v2e, v2n = _velocity(sog2, cog2)
    scale = METRES_PER_DEGREE * np.cos(np.radians((lat1 + lat2) / 2))
    # Both brought to ``now``: relative position (second minus first) and velocity.
    rx = (lon2 - lon1) * scale + v2e * (now - t2) - v1e * (now - t1)
    ry = (lat2 - lat1) * METRES_PER_DEGREE + v2n * (now - t2) - v1n * (now - t1)
    vx, vy = v2e - v1e, v2n - v1n
    speed2 = vx * vx + vy * vy
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(speed2 > 0, -(rx * vx + ry * vy) / speed2, 0.0)
    lo, hi = window[0] - now, window[1] - now
    tau = np.clip(tau, lo, hi)
    distance = np.hypot(rx + vx * tau, ry + vy * tau)
    inside = np.sqrt(np.maximum(limit_m * limit_m - distance * distance, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = np.where(speed2 > 0, inside / np.sqrt(speed2), np.inf)
    return distance, now + tau, np.minimum.reduce([half, tau - lo, hi - tau])


def _parted(apart: list[float], first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Whether any of the times ``apart`` lies between two spans (from, to)."""
    lo, hi = min(first[1], second[1]), max(first[0], second[0])
    return any(lo < t < hi for t in apart)


def _relative_speeds(states: States, i: Any, j: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """How fast (m/s) the pairs of states (rows ``i``, ``j``) draw apart or together."""
    east_i, north_i = _velocity(states.sog[i], states.cog[i])
    east_j, north_j = _velocity(states.sog[j], states.cog[j])
    speed: np.ndarray[Any, np.dtype[np.float64]] = np.hypot(east_i - east_j, north_i - north_j)
    return speed


def _relative_speed(first: tuple[float, float], second: tuple[float, float]) -> float:
    """How fast (m/s) two vessels at (speed kn, course deg) draw apart or together."""
    (speed1, course1), (speed2, course2) = first, second
    east = speed1 * math.sin(math.radians(course1)) - speed2 * math.sin(math.radians(course2))
    north = speed1 * math.cos(math.radians(course1)) - speed2 * math.cos(math.radians(course2))
    return math.hypot(east, north) * KNOT_M_S


def _velocity(
    sog_kn: np.ndarray[Any, Any], cog_deg: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """East and north speed in m/s."""
    course = np.radians(cog_deg)
    speed = sog_kn * KNOT_M_S
    return speed * np.sin(course), speed * np.cos(course)
