"""Radar tracklets: one radar's contacts of one target, chained by place and report time.

A radar reports each target once per report period, so a target's contacts come a whole
number of periods apart; two ships alongside, reported at different moments of the
period, make two chains even when their contacts overlap in place. A tracklet scores
every AIS track it has passed near by the moving average of the squared distance over the
combined variance (capped at the gate, and counted at the gate while the track was not
near): the AIS track whose average is lowest is the one the tracklet follows, which
decides a contact between two close vessels by the tracklet's history, not by the contact
alone.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ._kinematics import KNOT_M_S
from .config import FuseConfig
from .feed import PositionRows
from .tracks import Track

__all__ = ["RadarState", "Tracklet"]

#: How far (m/s of time since the last contact) a tracklet may stray from its line.
_MANOEUVRE_M_S = 2.0
#: Times between close contacts of one AIS track kept per radar, and needed before the
#: period is taken from them; their histogram's bin (s), and the longest period believed.
_GAP_SAMPLE = 1024
_GAP_MIN_SAMPLE = 50
_GAP_BIN_S = 0.25
_MAX_PERIOD_S = 600.0
#: A contact this close to an AIS track (normalised squared distance, 1 sigma) times the
#: radar's period by the track's previous close contact.
CLOSE_X = 1.0
#: Free tracklets are found by grid cell (degrees): one cell is wider than any gate.
CELL_DEG = 0.05


class Tracklet:
    """Contacts of one radar target. ``scores`` holds, per AIS track, the decayed sum of
    its normalised squared distances to the contacts (``weight`` the decayed count);
    ``ais`` is the AIS track it follows (-1: none); ``track`` its dark track once
    confirmed; ``pending`` its contacts while a tentative dark track."""

    __slots__ = (
        "adds",
        "ais",
        "cell",
        "dark_first_t",
        "last_t",
        "lat",
        "line",
        "lon",
        "origin",
        "pending",
        "scores",
        "stale",
        "sums",
        "t",
        "track",
        "weight",
    )

    def __init__(self) -> None:
        self.t: list[float] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.last_t = -math.inf
        self.scores: dict[int, float] = {}
        self.weight = 0.0
        self.ais = -1
        self.track: Track | None = None
        self.pending: list[tuple[PositionRows, int]] = []
        self.dark_first_t = math.nan
        self.line: tuple[float, float, float, float, float] | None = None
        self.cell: tuple[int, int] | None = None
        # Running sums over the kept contacts for the line fit (time, lat, lon relative to
        # ``origin``): t, t^2, lat, lon, t*lat, t*lon.
        self.origin = (0.0, 0.0, 0.0)
        self.sums = [0.0] * 6
        self.adds = 0
        self.stale = False

    def add(self, t: float, lat: float, lon: float, keep: int) -> None:
        """One more contact; the line is fitted to the last ``keep``. The running sums
        are kept only while the tracklet follows no AIS track (else its line is not
        used: they are summed afresh when it is)."""
        running = self.ais < 0 and not self.stale and self.adds % 256 != 0
        self.adds += 1
        self.t.append(t)
        self.lat.append(lat)
        self.lon.append(lon)
        if running:
            self._sum(t, lat, lon, 1.0)
        if len(self.t) > keep:
            if running:
                self._sum(self.t[0], self.lat[0], self.lon[0], -1.0)
            del self.t[0], self.lat[0], self.lon[0]
        if not running:
            if self.ais >= 0:
                self.stale = True
            else:
                self._rebase(t, lat, lon)
        self.last_t = t
        self.line = None

    def _sum(self, t: float, lat: float, lon: float, sign: float) -> None:
        t0, lat0, lon0 = self.origin
        x, y, z = t - t0, lat - lat0, lon - lon0
        s = self.sums
        s[0] += sign * x
        s[1] += sign * x * x
        s[2] += sign * y
        s[3] += sign * z
        s[4] += sign * x * y
        s[5] += sign * x * z

    def _rebase(self, t: float, lat: float, lon: float) -> None:
        """Sums afresh about a new origin (rounding does not pile up over long chains)."""
        self.origin = (t, lat, lon)
        self.sums = [0.0] * 6
        self.stale = False
        for ti, la, lo in zip(self.t, self.lat, self.lon, strict=True):
            self._sum(ti, la, lo, 1.0)

    def score(self, numbers: list[int], xs: list[float], gate2: float, decay: float) -> None:
        """Fold one contact's gated AIS tracks (``xs``: normalised squared distances) into
        the scores; a track first seen now counts as at the gate for the history before,
        and one not gated now is counted at the gate (and forgotten once that is all it
        has been)."""
        old = self.scores
        prior = gate2 * self.weight
        new: dict[int, float] = {}
        for number, x in zip(numbers, xs, strict=True):
            new[number] = decay * old.pop(number, prior) + min(x, gate2)
        self.weight = decay * self.weight + 1.0
        give_up = 0.99 * gate2 * self.weight
        for number, total in old.items():
            total = decay * total + gate2
            if total < give_up:
                new[number] = total
        self.scores = new

    def mean_cost(self, number: int) -> float:
        total = self.scores.get(number)
        return math.inf if total is None else total / self.weight

    def predict(self, t: float, sigma_m: float, c: FuseConfig) -> tuple[float, float, float]:
        """Position at ``t`` and the gate radius (m): on the line fitted to the last
        contacts (fit error taken as one more contact error, plus room to manoeuvre), or
        the last contact with room for top speed when there is no fit yet."""
        dt = t - self.last_t
        sigma = math.sqrt(2.0) * sigma_m
        line = self._line()
        if line is not None:
            t0, lat0, lon0, slope_lat, slope_lon = line
            return (
                lat0 + slope_lat * (t - t0),
                lon0 + slope_lon * (t - t0),
                (c.gate_sigmas + 1.0) * sigma + _MANOEUVRE_M_S * dt,
            )
        return (
            self.lat[-1],
            self.lon[-1],
            c.gate_sigmas * sigma + c.dark_max_speed_kn * KNOT_M_S * dt,
        )

    def _line(self) -> tuple[float, float, float, float, float] | None:
        if self.line is not None:
            return self.line
        n = len(self.t)
        if n < 3 or self.t[-1] - self.t[0] < 30.0:
            return None
        # Least squares from the running sums.
        if self.stale:
            self._rebase(self.t[-1], self.lat[-1], self.lon[-1])
        t0, lat0, lon0 = self.origin
        sx, sxx, sy, sz, sxy, sxz = self.sums
        xm = sx / n
        var = sxx - sx * xm
        if var <= 1e-9:
            return None
        slope_lat = (sxy - xm * sy) / var
        slope_lon = (sxz - xm * sz) / var
        lat_m = lat0 + sy / n - slope_lat * xm
        lon_m = lon0 + sz / n - slope_lon * xm
        # The line through (t0, lat_m, lon_m), expressed from the last contact's time.
        t = self.t[-1]
        self.line = (
            t,
            lat_m + slope_lat * (t - t0),
            lon_m + slope_lon * (t - t0),
            slope_lat,
            slope_lon,
        )
        return self.line


class RadarState:
    """One radar's tracklets: which follows which AIS track (``owner``), the free ones
    (following none) by grid cell, and the learned report period."""

    def __init__(self) -> None:
        self.tracklets: list[Tracklet] = []
        self.owner: dict[int, Tracklet] = {}
        self.cells: dict[tuple[int, int], set[Tracklet]] = {}
        self.done_t = -math.inf
        self.expired_t = -math.inf
        self.gaps: deque[float] = deque(maxlen=_GAP_SAMPLE)
        self.new_gaps = 0
        self.period = 0.0
        self.last_close: dict[int, float] = {}

    def learn_period(self, number: int, t: float, scan_s: float) -> None:
        """A contact within one sigma of AIS track ``number`` at ``t``: the time since the
        track's previous such contact is a sample of the report period (or a multiple,
        after a missed report). The period is the commonest sample, which neither missed
        reports nor a neighbour's contacts move; it is learned apart from the tracklets,
        which it then constrains."""
        before = self.last_close.get(number)
        self.last_close[number] = t
        if before is None:
            return
        gap = t - before
        if not scan_s < gap <= _MAX_PERIOD_S:
            return
        self.gaps.append(gap)
        self.new_gaps += 1
        if len(self.gaps) >= _GAP_MIN_SAMPLE and self.new_gaps >= 64:
            self.new_gaps = 0
            bins = np.bincount(np.round(np.asarray(self.gaps) / _GAP_BIN_S).astype(np.int64))
            # Neighbouring bins together: a period between two bins splits its samples.
            smooth = np.convolve(bins, np.ones(3), mode="same")
            self.period = float(np.argmax(smooth)) * _GAP_BIN_S
        if len(self.last_close) > 4 * _GAP_SAMPLE:
            horizon = t - _MAX_PERIOD_S
            self.last_close = {n: v for n, v in self.last_close.items() if v >= horizon}

    def follow(self, tracklet: Tracklet, number: int) -> None:
        """The tracklet now follows AIS track ``number`` (and stops being free)."""
        if tracklet.ais == number:
            return
        self.release(tracklet)
        previous = self.owner.get(number)
        if previous is not None and previous is not tracklet:
            previous.ais = -1
            self.place_free(previous)
        self.owner[number] = tracklet
        tracklet.ais = number
        self.unplace_free(tracklet)

    def release(self, tracklet: Tracklet) -> None:
        """The tracklet follows no AIS track any more."""
        if tracklet.ais >= 0:
            if self.owner.get(tracklet.ais) is tracklet:
                del self.owner[tracklet.ais]
            tracklet.ais = -1

    def place_free(self, tracklet: Tracklet) -> None:
        """(Re)file a free tracklet under the cell of its last contact."""
        cell = (int(tracklet.lat[-1] // CELL_DEG), int(tracklet.lon[-1] // CELL_DEG))
        if cell == tracklet.cell:
            return
        self.unplace_free(tracklet)
        self.cells.setdefault(cell, set()).add(tracklet)
        tracklet.cell = cell

    def unplace_free(self, tracklet: Tracklet) -> None:
        if tracklet.cell is not None:
            members = self.cells.get(tracklet.cell)
            if members is not None:
                members.discard(tracklet)
                if not members:
                    del self.cells[tracklet.cell]
            tracklet.cell = None

    def free_near(self, lat: float, lon: float) -> list[Tracklet]:
        """Free tracklets filed in the cell of (lat, lon) and the eight around it."""
        row, col = int(lat // CELL_DEG), int(lon // CELL_DEG)
        out: list[Tracklet] = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                members = self.cells.get((row + dr, col + dc))
                if members:
                    out.extend(members)
        return out

    def expire(self, t: float, c: FuseConfig) -> None:
        """Drop tracklets silent too long: a confirmed dark one after
        ``dark_drop_after_s``, any other after ``dark_tentative_timeout_s``."""
        keep = []
        for tracklet in self.tracklets:
            limit = (
                c.dark_drop_after_s if tracklet.track is not None else c.dark_tentative_timeout_s
            )
            if t - tracklet.last_t <= limit:
                keep.append(tracklet)
            else:
                self.release(tracklet)
                self.unplace_free(tracklet)
        self.tracklets = keep
        self.expired_t = t
