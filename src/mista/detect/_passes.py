"""Passes of each track (fixes heard together, silences between them), for spoofing's
rule on a pass that is off the vessel's own reckoning.

Offshore a vessel is heard at satellite passes hours apart. A spoof heard at one pass
only may be plausible from the fixes before and after it (within 30 kn), so the fuser
flags nothing. What gives it away is the vessel's own report: it says it kept one course
and speed across the silence before the pass, yet the pass is nowhere near where that
course and speed would have taken it (it made good less than half that speed, or more
than half again, or went the other way), while the next pass is where the vessel's motion
before the silence leads. The middle pass is then the false one. The thresholds hold no
false alerts on the standard scenarios of two seeds and catch the spoofs heard that way.

``PassLog`` finds, from sound fixes as they come, each pass that starts after two others
(constant work per fix and per pass, no history read); ``off_own_reckoning`` judges it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mista.detect._common import EARTH_RADIUS_M, KNOT_M_S
from mista.fuse.chunk import TrackPoints

#: One sound fix: time, lat, lon, reported speed (kn), reported course (degrees).
PassFix = tuple[float, float, float, float, float]

#: A reported speed under this says too little: a slow vessel drifts, turns and fishes.
MIN_SPEED_KN = 8.0
#: The same reported motion either side of a silence: speed and course within these.
SAME_SPEED_KN = 1.0
SAME_COURSE_DEG = 10.0
#: Off the reckoning: made good outside this share of the reported speed, or this far off
#: the reported course (going the other way).
MADE_GOOD_SHARE = (0.5, 1.5)
AGAINST_DEG = 90.0
#: On the reckoning: made good within this share (or this many knots) of the speed.
ALONG_SHARE = 0.15
ALONG_KN = 2.0
#: The silence before the middle pass at most; the whole span, first to third, at most.
MAX_SILENCE_S = 6 * 3600.0
MAX_SPAN_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class PassTriple:
    """A pass of one track between the one before it and the one after it."""

    track: int
    before: PassFix  # the last fix of the pass before
    first: PassFix  # the middle pass's first fix
    last: PassFix  # and its last
    after: PassFix  # the first fix of the pass after


class PassLog:
    """Per track, its last sound fix and the edges of its latest pass."""

    def __init__(self, silence_s: float) -> None:
        self.silence_s = silence_s
        self._last: dict[int, PassFix] = {}
        # track -> (the last fix before its latest pass, that pass's first fix)
        self._edges: dict[int, tuple[PassFix, PassFix]] = {}

    def add(self, points: TrackPoints, sound: Any) -> list[PassTriple]:
        """Add the ``sound`` fixes of ``points`` (sorted by track and time); each pass that
        starts among them after two earlier ones, as a triple. A fix older than its
        track's last is late and left out."""
        rows = np.flatnonzero(sound)
        if rows.shape[0] == 0:
            return []
        track, t = points.track[rows], points.t[rows]
        first = np.r_[True, track[1:] != track[:-1]]
        prev_t = np.r_[np.nan, t[:-1]]
        # A track's first fix here follows its last one kept (a loop over tracks, not fixes).
        for k in np.flatnonzero(first).tolist():
            kept = self._last.get(int(track[k]))
            prev_t[k] = kept[0] if kept is not None else np.nan
        with np.errstate(invalid="ignore"):
            starts = np.flatnonzero(t - prev_t >= self.silence_s)
            late = t < prev_t
        out: list[PassTriple] = []
        for k in starts.tolist():
            number = int(track[k])
            before = self._fix(points, int(rows[k - 1])) if not first[k] else self._last[number]
            here = self._fix(points, int(rows[k]))
            edges = self._edges.get(number)
            if edges is not None:
                out.append(PassTriple(number, edges[0], edges[1], before, here))
            self._edges[number] = (before, here)
        lasts = np.flatnonzero(np.r_[track[1:] != track[:-1], True] & ~late)
        for k in lasts.tolist():
            self._last[int(track[k])] = self._fix(points, int(rows[k]))
        return out

    def forget_before(self, horizon: float) -> None:
        """Forget tracks with no fix since ``horizon``."""
        self._last = {n: fix for n, fix in self._last.items() if fix[0] >= horizon}
        self._edges = {n: e for n, e in self._edges.items() if n in self._last}

    @staticmethod
    def _fix(points: TrackPoints, row: int) -> PassFix:
        return (
            float(points.t[row]),
            float(points.lat[row]),
            float(points.lon[row]),
            float(points.sog[row]),
            float(points.cog[row]),
        )


def off_own_reckoning(triple: PassTriple) -> bool:
    """The middle pass is off where the vessel's reported motion before it leads, and the
    pass after is on it (see the module's docstring)."""
    before, first, after = triple.before, triple.first, triple.after
    speed, course = before[3], before[4]
    if not all(math.isfinite(x) for x in (speed, course, first[3], first[4], after[3])):
        return False
    if min(speed, first[3], after[3]) < MIN_SPEED_KN:
        return False
    if first[0] - before[0] > MAX_SILENCE_S or after[0] - before[0] > MAX_SPAN_S:
        return False
    turned = abs((first[4] - course + 180.0) % 360.0 - 180.0)
    if abs(first[3] - speed) > SAME_SPEED_KN or turned > SAME_COURSE_DEG:
        return False
    made, heading = _made_good(before, first)
    off_course = abs((heading - course + 180.0) % 360.0 - 180.0)
    low, high = MADE_GOOD_SHARE
    if low * speed <= made <= high * speed and off_course <= AGAINST_DEG:
        return False
    made_on, _ = _made_good(before, after)
    return abs(made_on - speed) <= max(ALONG_KN, ALONG_SHARE * speed)


def _made_good(a: PassFix, b: PassFix) -> tuple[float, float]:
    """Speed (kn) and course (degrees) made good from fix ``a`` to fix ``b`` (on a sphere;
    scalar maths: numpy is slower for one pair)."""
    lat1, lat2 = math.radians(a[1]), math.radians(b[1])
    dlon = math.radians(b[2] - a[2])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    metres = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
    y = math.sin(dlon) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    seconds = max(b[0] - a[0], 1.0)
    return metres / seconds / KNOT_M_S, math.degrees(math.atan2(y, x)) % 360.0
