"""The MMSI segmenter: which of an MMSI's segments each fix belongs to.

A fix joins the segment it is plausible for (implied speed from that segment's last good
fix at most ``max_speed_kn``, with a time floor and position noise forgiven), else it
starts a short segment. Short segments put their fixes on the MMSI's main track flagged
``OUTLIER`` (the fix that broke plausibility also ``IMPLAUSIBLE_SPEED``): jumps and spoofed
circles show up this way. A short segment that grows long either becomes a second track
(both segments heard at once, far apart: a shared MMSI) or takes over the main track (the
old segment went quiet: the vessel really is where the new fixes say).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ._kinematics import KNOT_M_S, haversine_m
from .chunk import PointFlag
from .config import FuseConfig
from .feed import PositionRows
from .tracks import Fix, Track

__all__ = ["MmsiState", "Placement", "Segmenter", "ShortSegment", "distance_m"]

U16 = npt.NDArray[np.uint16]
I64 = npt.NDArray[np.int64]

_DUP = np.uint16(PointFlag.DUPLICATE)
_OUTLIER = int(PointFlag.OUTLIER)
_JUMP = int(PointFlag.OUTLIER | PointFlag.IMPLAUSIBLE_SPEED)
_RAD = math.pi / 180.0
_EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points (scalars: no numpy overhead)."""
    p1 = lat1 * _RAD
    p2 = lat2 * _RAD
    a = (
        math.sin((p2 - p1) * 0.5) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin((lon2 - lon1) * _RAD * 0.5) ** 2
    )
    return 2.0 * _EARTH_RADIUS_M * math.asin(math.sqrt(min(a, 1.0)))


class ShortSegment:
    """Fixes of one MMSI that are not plausible for any of its tracks (yet)."""

    __slots__ = ("first_t", "fix", "fixes", "seqs")

    def __init__(self, fix: Fix, seq: int) -> None:
        self.fix = fix
        self.first_t = fix.t
        self.fixes = 1
        self.seqs: list[int] = [seq]


class MmsiState:
    """What the fuser knows of one MMSI: its tracks (main first), short segments, identity."""

    __slots__ = (
        "callsign",
        "identity_labels",
        "imos_checked",
        "invalid_reported",
        "mmsi",
        "name",
        "seen_t",
        "shared_reported",
        "short",
        "tracks",
    )

    def __init__(self, mmsi: int) -> None:
        self.mmsi = mmsi
        self.tracks: list[Track] = []
        self.short: list[ShortSegment] = []
        self.name: str | None = None
        self.callsign: str | None = None
        self.shared_reported = False
        self.invalid_reported = False
        self.imos_checked: set[int] = set()
        self.identity_labels: frozenset[int] = frozenset()
        self.seen_t = float("-inf")  # newest static row (states with no track expire by it)


class Placement:
    """Where a group's fixes went: a track number and flags per fix, and what changed in
    history (tracks split off, earliest revised time per track)."""

    __slots__ = ("flags", "new_tracks", "revised", "track")

    def __init__(self, track: I64, flags: U16) -> None:
        self.track = track
        self.flags = flags
        self.new_tracks: list[Track] = []
        self.revised: dict[int, float] = {}


class Segmenter:
    def __init__(self, config: FuseConfig, new_track: Callable[[MmsiState], Track]) -> None:
        self._config = config
        self._new_track = new_track
        self._max_speed_m_s = config.max_speed_kn * KNOT_M_S

    def _plausible(self, fix: Fix, t: float, lat: float, lon: float) -> tuple[bool, float]:
        c = self._config
        d = distance_m(fix.lat, fix.lon, lat, lon)
        dt = max(abs(t - fix.t), c.speed_time_floor_s)
        return max(d - c.position_noise_m, 0.0) <= self._max_speed_m_s * dt, d

    def screen(
        self,
        states: list[MmsiState],
        rows: PositionRows,
        starts: I64,
        stops: I64,
        started: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.bool_], U16]:
        """For rows grouped by MMSI (time order within a group): which groups are the
        common case, one track and every fix plausible after the previous one, and the
        duplicate flags of their rows. ``started`` groups' first row began their track."""
        c = self._config
        n = len(rows)
        prev_t = np.empty(n)
        prev_lat = np.empty(n)
        prev_lon = np.empty(n)
        prev_t[1:], prev_lat[1:], prev_lon[1:] = rows.t[:-1], rows.lat[:-1], rows.lon[:-1]
        eligible = np.zeros(starts.shape[0], np.bool_)
        fix_t, fix_lat, fix_lon = [], [], []
        for g, state in enumerate(states):
            fix = state.tracks[0].fix
            if len(state.tracks) == 1 and not state.short and fix is not None:
                eligible[g] = True
                fix_t.append(fix.t)
                fix_lat.append(fix.lat)
                fix_lon.append(fix.lon)
            else:
                fix_t.append(np.nan)
                fix_lat.append(np.nan)
                fix_lon.append(np.nan)
        prev_t[starts] = fix_t
        prev_lat[starts] = fix_lat
        prev_lon[starts] = fix_lon
        d = haversine_m(prev_lat, prev_lon, rows.lat, rows.lon)
        dt = rows.t - prev_t
        ok = np.maximum(d - c.position_noise_m, 0.0) <= self._max_speed_m_s * np.maximum(
            dt, c.speed_time_floor_s
        )
        dup = (dt <= c.duplicate_window_s) & (d <= c.duplicate_distance_m)
        if dup.any():
            dup = self._unchain(dup, rows, starts, stops, prev_t, prev_lat, prev_lon)
        first_of_new = starts[started]
        ok[first_of_new] = True
        dup[first_of_new] = False
        fast = np.logical_and.reduceat(ok, starts) & eligible
        flags = np.where(dup, _DUP, np.uint16(0)).astype(np.uint16)
        return fast, flags

    def _unchain(
        self,
        dup: npt.NDArray[np.bool_],
        rows: PositionRows,
        starts: I64,
        stops: I64,
        prev_t: npt.NDArray[np.float64],
        prev_lat: npt.NDArray[np.float64],
        prev_lon: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.bool_]:
        """A copy of a copy is judged against the original: a row after a duplicate is
        compared with the row that duplicate copied (pointer jumping, a few rounds)."""
        c = self._config
        n = len(rows)
        ref = np.arange(n) - 1  # the row compared with; -1: the track's fix (prev_* at start)
        group_start = np.repeat(starts, stops - starts)
        ref[starts] = -1
        for _ in range(8):
            chained = dup & (ref >= 0)
            chained[chained] = dup[ref[chained]]
            if not chained.any():
                break
            ref[chained] = ref[ref[chained]]
            i = np.flatnonzero(chained)
            r = ref[i]
            at_fix = r < 0
            other = np.where(at_fix, group_start[i], np.maximum(r, 0))
            rt = np.where(at_fix, prev_t[other], rows.t[other])
            rlat = np.where(at_fix, prev_lat[other], rows.lat[other])
            rlon = np.where(at_fix, prev_lon[other], rows.lon[other])
            dd = haversine_m(rlat, rlon, rows.lat[i], rows.lon[i])
            dup[i] = (rows.t[i] - rt <= c.duplicate_window_s) & (dd <= c.duplicate_distance_m)
        return dup

    def place(self, state: MmsiState, rows: PositionRows) -> Placement:
        """Place one MMSI's fixes one by one (time order, none older than its tracks'
        last fixes): the uncommon case of jumps, short segments and shared MMSIs."""
        return self._place_each(state, rows)

    def _place_each(self, state: MmsiState, rows: PositionRows) -> Placement:
        c = self._config
        k = len(rows)
        main = state.tracks[0]
        placement = Placement(np.full(k, main.number, np.int64), np.zeros(k, np.uint16))
        t_all, lat_all, lon_all = rows.t.tolist(), rows.lat.tolist(), rows.lon.tolist()
        for i in range(k):
            t, lat, lon = t_all[i], lat_all[i], lon_all[i]
            state.short = [s for s in state.short if t - s.fix.t <= c.segment_timeout_s]
            best: Track | None = None
            best_d = math.inf
            for track in state.tracks:
                if track.fix is None:
                    continue
                ok, d = self._plausible(track.fix, t, lat, lon)
                if ok and d < best_d:
                    best, best_d = track, d
            fix = Fix(t, lat, lon, float(rows.sog[i]), float(rows.cog[i]))
            if best is not None:
                assert best.fix is not None
                placement.track[i] = best.number
                if t - best.fix.t <= c.duplicate_window_s and best_d <= c.duplicate_distance_m:
                    placement.flags[i] = _DUP
                else:
                    best.fix = fix
                    best.segment_fixes += 1
                continue
            short: ShortSegment | None = None
            best_d = math.inf
            for segment in state.short:
                ok, d = self._plausible(segment.fix, t, lat, lon)
                if ok and d < best_d:
                    short, best_d = segment, d
            seq = int(rows.seq[i])
            if short is None:
                if len(state.short) >= c.max_short_segments:
                    state.short.remove(min(state.short, key=lambda s: s.fix.t))
                state.short.append(ShortSegment(fix, seq))
                placement.flags[i] = _JUMP
                continue
            placement.flags[i] = _OUTLIER
            short.fix = fix
            short.fixes += 1
            short.seqs.append(seq)
            if short.fixes < c.shared_min_fixes:
                continue
            alongside = self._alongside(state, short)
            if alongside or (
                short.fixes >= c.segment_min_fixes and t - short.first_t >= c.segment_min_span_s
            ):
                self._promote(state, short, rows, i, placement, shared=alongside)
        return placement

    def _alongside(self, state: MmsiState, short: ShortSegment) -> bool:
        """Whether a track of this MMSI was heard after the short segment began (the two
        interleave: two transmitters at once), with enough fixes of its own, far away."""
        c = self._config
        return any(
            track.fix is not None
            and track.fix.t > short.first_t
            and short.fix.t - track.fix.t <= c.shared_overlap_s
            and track.segment_fixes >= c.shared_min_fixes
            and distance_m(track.fix.lat, track.fix.lon, short.fix.lat, short.fix.lon)
            >= c.shared_min_distance_m
            for track in state.tracks
        )

    def _promote(
        self,
        state: MmsiState,
        short: ShortSegment,
        rows: PositionRows,
        upto: int,
        placement: Placement,
        *,
        shared: bool,
    ) -> None:
        """A short segment grew: a second vessel on this MMSI (``shared``), or the main
        track moves there (the old segment fell quiet). The fix that broke plausibility
        keeps its ``IMPLAUSIBLE_SPEED`` flag when the track moves: the jump happened."""
        state.short.remove(short)
        main = state.tracks[0]
        seqs = np.asarray(short.seqs, np.int64)
        here = np.flatnonzero(np.isin(rows.seq[: upto + 1], seqs))
        clear = int(PointFlag.OUTLIER | PointFlag.IMPLAUSIBLE_SPEED) if shared else _OUTLIER
        placement.flags[here] &= np.uint16(~clear & 0xFFFF)
        if shared:
            new = self._new_track(state)
            new.start_segment(short.fix, short.fixes, short.first_t)
            moved = main.history.take_out(seqs)
            moved["flags"] = np.bitwise_and(moved["flags"], np.uint16(~clear & 0xFFFF))
            if moved["t"].shape[0]:
                main.points -= int(moved["t"].shape[0])
                new.add(moved)
            placement.track[here] = new.number
            placement.new_tracks.append(new)
            placement.revised[new.number] = short.first_t
        else:
            main.start_segment(short.fix, short.fixes, short.first_t)
            main.history.set_flags(seqs, 0, clear)
        placement.revised[main.number] = min(
            placement.revised.get(main.number, math.inf), short.first_t
        )
