"""True motion: each vessel's plan as timed knots, and positions at any times, vectorised.

A vessel moves in straight lines (in latitude/longitude) between knots at the speed the
knot times imply; a stay is two knots at (nearly) one place. :class:`Timeline` builds one
vessel's knots leg by leg; :class:`Trajectories` joins every vessel's knots and answers
``positions_at(vessel, t)`` for millions of (vessel, time) pairs with one ``searchsorted``.
Times are seconds from the scenario start (negative before it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mista.geo import bearing_deg, haversine_m

__all__ = [
    "KN_TO_MPS",
    "STATUS_ANCHORED",
    "STATUS_FISHING",
    "STATUS_MOORED",
    "STATUS_UNDER_WAY",
    "Positions",
    "Timeline",
    "Trajectories",
]

KN_TO_MPS = 1852.0 / 3600.0
# AIS navigational status codes (ITU-R M.1371-5, Table 45).
STATUS_UNDER_WAY = 0
STATUS_ANCHORED = 1
STATUS_MOORED = 5
STATUS_FISHING = 7
#: Knot times of one vessel fit in this span; vessel v's keys are v * span + t.
_KEY_SPAN_S = 1.0e7

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Timeline:
    """One vessel's knots, appended leg by leg from a start time and place."""

    def __init__(self, t_s: float, lat: float, lon: float) -> None:
        self.t = [float(t_s)]
        self.lat = [float(lat)]
        self.lon = [float(lon)]
        self.status: list[int] = []

    @property
    def now(self) -> float:
        return self.t[-1]

    @property
    def here(self) -> tuple[float, float]:
        return self.lat[-1], self.lon[-1]

    def go(self, lats: F64, lons: F64, speed_kn: float, status: int = STATUS_UNDER_WAY) -> None:
        """Sail along the polyline (from the current place, then through each point)."""
        la = np.concatenate([[self.lat[-1]], np.asarray(lats, np.float64)])
        lo = np.concatenate([[self.lon[-1]], np.asarray(lons, np.float64)])
        step = np.asarray(haversine_m(la[:-1], lo[:-1], la[1:], lo[1:]), np.float64)
        keep = step > 1.0
        if not keep.any():
            return
        dt = step[keep] / (max(speed_kn, 0.1) * KN_TO_MPS)
        times = self.t[-1] + np.cumsum(dt)
        self.t.extend(times.tolist())
        self.lat.extend(la[1:][keep].tolist())
        self.lon.extend(lo[1:][keep].tolist())
        self.status.extend([status] * int(keep.sum()))

    def stay(
        self, duration_s: float, status: int, *, to: tuple[float, float] | None = None
    ) -> None:
        """Stay ``duration_s``, ending at ``to`` (a slow drift) or where it is."""
        if duration_s <= 0:
            return
        lat, lon = to if to is not None else self.here
        self.t.append(self.t[-1] + duration_s)
        self.lat.append(float(lat))
        self.lon.append(float(lon))
        self.status.append(status)

    def until(self, t_s: float, status: int) -> None:
        """Stay where it is until ``t_s``."""
        self.stay(t_s - self.now, status)


@dataclass(frozen=True, slots=True)
class Positions:
    lat: F64
    lon: F64
    sog_kn: F64
    cog_deg: F64
    status: I64


class Trajectories:
    """Every vessel's knots, searchable together."""

    def __init__(self, timelines: list[Timeline]) -> None:
        counts = np.array([len(tl.t) for tl in timelines], np.int64)
        if (counts < 2).any():
            raise ValueError("every timeline needs at least two knots")
        vessel = np.repeat(np.arange(len(timelines), dtype=np.int64), counts)
        t = np.concatenate([np.asarray(tl.t, np.float64) for tl in timelines])
        self.lat = np.concatenate([np.asarray(tl.lat, np.float64) for tl in timelines])
        self.lon = np.concatenate([np.asarray(tl.lon, np.float64) for tl in timelines])
        self.t = t
        self.vessel = vessel
        self.key = vessel * _KEY_SPAN_S + t
        self.first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.last = self.first + counts - 1
        # Segment k runs from knot k to knot k+1 (the last knot of a vessel repeats the
        # segment before it).
        status = np.concatenate(
            [np.asarray([*tl.status, tl.status[-1]], np.int64) for tl in timelines]
        )
        nxt = np.minimum(np.arange(len(t)) + 1, len(t) - 1)
        same = vessel[nxt] == vessel
        nxt = np.where(same, nxt, np.arange(len(t)))
        dist = np.asarray(haversine_m(self.lat, self.lon, self.lat[nxt], self.lon[nxt]))
        dt = t[nxt] - t
        speed = np.where(dt > 0, dist / np.where(dt > 0, dt, 1.0) / KN_TO_MPS, 0.0)
        course = np.asarray(bearing_deg(self.lat, self.lon, self.lat[nxt], self.lon[nxt]))
        # A stay keeps the course it arrived with (a moored ship's COG is its last one).
        moving = dist > 1.0
        idx = np.where(moving, np.arange(len(t)), -1)
        np.maximum.accumulate(idx, out=idx)
        idx = np.where((idx >= 0) & (vessel[np.maximum(idx, 0)] == vessel), idx, -1)
        course = np.where(idx >= 0, course[np.maximum(idx, 0)], 0.0)
        last = ~same
        speed[last] = speed[np.maximum(np.arange(len(t))[last] - 1, 0)]
        self.speed_kn = np.where(last, 0.0, speed)
        self.course_deg = course
        self.status = status
        self.n_vessels = len(timelines)

    def segment_of(self, vessel: I64, t_s: F64) -> I64:
        """Index of the knot that starts the segment holding each (vessel, t)."""
        key = vessel * _KEY_SPAN_S + t_s
        idx = np.searchsorted(self.key, key, side="right") - 1
        return np.clip(idx, self.first[vessel], self.last[vessel] - 1)

    def positions_at(self, vessel: I64, t_s: F64) -> Positions:
        """True position, speed, course and status of each vessel at each time."""
        vessel = np.asarray(vessel, np.int64)
        t_s = np.asarray(t_s, np.float64)
        k = self.segment_of(vessel, t_s)
        t0, t1 = self.t[k], self.t[k + 1]
        f = np.clip((t_s - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
        lat = self.lat[k] + f * (self.lat[k + 1] - self.lat[k])
        lon = self.lon[k] + f * (self.lon[k + 1] - self.lon[k])
        return Positions(lat, lon, self.speed_kn[k], self.course_deg[k], self.status[k])
