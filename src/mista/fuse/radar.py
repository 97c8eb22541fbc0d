"""Radar contacts: associated to AIS tracks through radar tracklets, or followed as dark
tracks.

Per radar, contacts are taken scan by scan (contacts within ``scan_s``). Every AIS track
near the radar is predicted to every scan (interpolated between fixes, dead-reckoned past
the last one) and gated against every contact in one vectorised pass
(``radar_gate``), with the radar's sigma (``FuseConfig.radar_sigma``) and the
prediction's growing error. Then, scan by scan:

1. each contact continues a **tracklet** (``radar_tracklet``): one that follows an AIS
   track gated for the contact, or a free one whose line passes near it, and in either
   case whose last contact is a whole number of report periods earlier (a radar reports
   a target once per period; the period is learned per radar); otherwise it starts one;
2. each tracklet folds the contact's gated AIS tracks into its moving scores;
3. the scan's tracklets are assigned to AIS tracks (``scipy.optimize.linear_sum_assignment``
   when two want one track) by those scores: a tracklet takes an AIS track whose average
   cost is at most ``radar_max_mean_cost`` unless another live tracklet follows that
   track with a lower average (by ``radar_owner_margin``). So two ships alongside each
   keep their own contacts, and a dark ship alongside an AIS ship is not given to it;
4. a contact whose tracklet follows no AIS track is dark: a tentative dark track is
   confirmed after ``dark_confirm_contacts`` contacts over ``dark_confirm_span_s``
   (scattered false contacts never line up) and dropped when it misses for
   ``dark_tentative_timeout_s`` before that. Confirmed dark tracks
   (``dark:<radar>:<n>``) have their own points; contacts on AIS tracks confirm them
   without adding points (AIS tracks stay AIS-only).

One contact goes to at most one track, and one track takes at most one contact per scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from .chunk import Association, TrackKind
from .config import FuseConfig
from .feed import PositionRows
from .radar_gate import M_PER_DEG, AisSnapshot
from .radar_tracklet import CLOSE_X, RadarState, Tracklet
from .tracks import Track

__all__ = ["RadarTracker"]

I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]

#: Tracklets are checked for silence at most this often (s of data time).
_EXPIRE_EVERY_S = 30.0
#: Continuing a free tracklet costs this more than continuing one that follows an AIS
#: track (whose prediction is the AIS track's, far better than a line through contacts):
#: a contact of an AIS ship does not start a second chain beside its own.
_FREE_PENALTY = 2.0


class _Sink(Protocol):
    associations: list[Association]
    touched: set[int]

    def add(self, rows: PositionRows, track: I64, flags: U16) -> None: ...


class RadarTracker:
    def __init__(self, config: FuseConfig, new_dark: Callable[[str], tuple[int, str]]) -> None:
        self._config = config
        self._new_dark = new_dark
        self._radars: dict[str, RadarState] = {}
        self._confirmed: dict[int, Track] = {}
        self._touched: set[int] = set()
        self._pending: dict[int, list[int]] = {}  # dark track -> row indexes to place
        self._decay = 1.0 - 1.0 / config.radar_memory_contacts
        self._gate2 = config.gate_sigmas**2

    def dark_track(self, number: int) -> Track | None:
        return self._confirmed.get(number)

    def confirmed(self) -> Iterator[Track]:
        return iter(self._confirmed.values())

    def touched(self) -> Iterator[Track]:
        touched, self._touched = self._touched, set()
        return (self._confirmed[n] for n in touched if n in self._confirmed)

    def evict(self, horizon: float, history_s: float) -> list[str]:
        """Forget confirmed dark tracks silent since before ``horizon`` (their ids are
        returned) and trim the rest."""
        gone = []
        for number, track in list(self._confirmed.items()):
            if track.last_t < horizon:
                del self._confirmed[number]
                gone.append(track.id)
            else:
                track.trim(history_s)
        return gone

    def associate(self, rows: PositionRows, ais: list[Track], sink: _Sink) -> None:
        """Associate contacts (time order) to AIS tracks, else to dark tracks."""
        radars = np.asarray([r if isinstance(r, str) else "radar" for r in rows.receiver.tolist()])
        order = np.lexsort((rows.t, radars))
        rows = rows.take(order)
        radars = radars[order]
        bounds = np.flatnonzero(np.r_[True, radars[1:] != radars[:-1], True])
        snapshot = AisSnapshot(ais)
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            part = rows.take(slice(start, stop))
            self._one_radar(str(radars[start]), part, snapshot, sink)
            self._place_pending(part, sink)

    def _one_radar(
        self, radar: str, rows: PositionRows, snapshot: AisSnapshot, sink: _Sink
    ) -> None:
        c = self._config
        state = self._radars.setdefault(radar, RadarState())
        sigma_m = c.radar_sigma(radar)
        starts = np.flatnonzero(np.r_[True, np.diff(rows.t) > c.scan_s])
        counts = np.diff(np.r_[starts, len(rows)])
        scan_t = np.add.reduceat(rows.t, starts) / counts
        scan_of = np.repeat(np.arange(starts.shape[0]), counts)
        # Pairs one sigma beyond the gate: a tracklet may continue with a contact that is
        # a little outside its AIS track's gate (1 % are); only gated ones associate.
        pairs = snapshot.gate(rows, scan_of, scan_t, sigma_m, c, c.gate_sigmas + 1.0)
        ptr = pairs.ptr.tolist()
        numbers = pairs.number.tolist()
        xs = pairs.x.tolist()
        dists = pairs.distance_m.tolist()
        lats = rows.lat.tolist()
        lons = rows.lon.tolist()
        seqs = rows.seq.tolist()
        times = rows.t.tolist()
        stops = [*starts.tolist()[1:], len(rows)]
        for start, stop, t in zip(starts.tolist(), stops, scan_t.tolist(), strict=True):
            scan = range(start, stop)
            if t < state.done_t:
                # Older than what this radar's tracklets have seen (late data): the
                # nearest AIS track, if any, without touching the tracklets.
                chosen = self._nearest_only(scan, ptr, numbers, xs)
                for i in scan:
                    p = chosen.get(i, -1)
                    sink.associations.append(
                        Association(
                            seq=seqs[i],
                            t=times[i],
                            track=None if p < 0 else numbers[p],
                            distance_m=None if p < 0 else dists[p],
                        )
                    )
                continue
            state.done_t = t
            if t - state.expired_t >= _EXPIRE_EVERY_S:
                state.expire(t, c)
            tracklets = self._continue(state, scan, t, ptr, numbers, xs, lats, lons, sigma_m)
            for i, tracklet in zip(scan, tracklets, strict=True):
                lo, hi = ptr[i], ptr[i + 1]
                # A contact near one AIS track and no other times the radar's period.
                if hi - lo == 1 and xs[lo] <= CLOSE_X:
                    state.learn_period(numbers[lo], t, c.scan_s)
                tracklet.score(numbers[lo:hi], xs[lo:hi], self._gate2, self._decay)
                tracklet.add(times[i], lats[i], lons[i], c.radar_fit_contacts)
            chosen = self._follow(state, scan, tracklets, t, ptr, numbers, xs)
            for i, tracklet in zip(scan, tracklets, strict=True):
                p = chosen.get(i, -1)
                if p >= 0:
                    number: int | None = numbers[p]
                    distance: float | None = dists[p]
                    tracklet.pending = []
                else:
                    number = self._dark(radar, state, tracklet, rows, i, sink)
                    distance = None if number is None else 0.0
                sink.associations.append(
                    Association(seq=seqs[i], t=times[i], track=number, distance_m=distance)
                )

    def _continue(
        self,
        state: RadarState,
        scan: range,
        t: float,
        ptr: list[int],
        numbers: list[int],
        xs: list[float],
        lats: list[float],
        lons: list[float],
        sigma_m: float,
    ) -> list[Tracklet]:
        """The tracklet each contact of the scan continues (a new one if none fits): by
        the gated AIS tracks they follow, or by the line of free ones, each at most once."""
        c = self._config
        fit_sigma2 = 2.0 * sigma_m**2
        period = state.period
        slack = c.radar_period_tolerance * period
        scan_s = c.scan_s
        coslat = math.cos(math.radians(lats[scan[0]]))
        owner_of = state.owner.get
        options: list[dict[Tracklet, float]] = []
        for i in scan:
            found: dict[Tracklet, float] = {}
            for p in range(ptr[i], ptr[i + 1]):
                owner = owner_of(numbers[p])
                if owner is not None and _on_time(t - owner.last_t, period, slack, scan_s):
                    found[owner] = min(found.get(owner, math.inf), xs[p])
            lat, lon = lats[i], lons[i]
            for free in state.free_near(lat, lon):
                if free in found or not _on_time(t - free.last_t, period, slack, scan_s):
                    continue
                plat, plon, radius = free.predict(t, sigma_m, c)
                north = (lat - plat) * M_PER_DEG
                east = (lon - plon) * M_PER_DEG * coslat
                d2 = north * north + east * east
                if d2 <= radius * radius:
                    found[free] = d2 / fit_sigma2 + _FREE_PENALTY
            options.append(found)
        chosen = _assign(options)
        out: list[Tracklet] = []
        for tracklet in chosen:
            if tracklet is None:
                tracklet = Tracklet()
                state.tracklets.append(tracklet)
            out.append(tracklet)
        return out

    def _follow(
        self,
        state: RadarState,
        scan: range,
        tracklets: list[Tracklet],
        t: float,
        ptr: list[int],
        numbers: list[int],
        xs: list[float],
    ) -> dict[int, int]:
        """Per contact, the gated pair (index into the pairs) of the AIS track its
        tracklet follows from now, if any; the tracklets' following is updated."""
        c = self._config
        stale = t - c.dark_tentative_timeout_s
        options: list[dict[int, float]] = []
        for i, tracklet in zip(scan, tracklets, strict=True):
            found: dict[int, float] = {}
            for p in range(ptr[i], ptr[i + 1]):
                if xs[p] > self._gate2:
                    continue
                number = numbers[p]
                cost = tracklet.mean_cost(number)
                if cost > c.radar_max_mean_cost:
                    continue
                owner = state.owner.get(number)
                if (
                    owner is not None
                    and owner is not tracklet
                    and owner.last_t >= stale
                    and owner.mean_cost(number) <= cost + c.radar_owner_margin
                ):
                    continue
                found[p] = cost
            options.append(found)
        picked = _assign_pairs(options, numbers)
        out: dict[int, int] = {}
        for i, tracklet, pick in zip(scan, tracklets, picked, strict=True):
            if pick is None:
                state.release(tracklet)
                state.place_free(tracklet)
            else:
                state.follow(tracklet, numbers[pick])
                out[i] = pick
        return out

    def _dark(
        self,
        radar: str,
        state: RadarState,
        tracklet: Tracklet,
        rows: PositionRows,
        i: int,
        sink: _Sink,
    ) -> int | None:
        """A contact no AIS track explains: on its tracklet's dark track, or kept until the
        tracklet is confirmed (its number then)."""
        c = self._config
        if tracklet.track is not None:
            self._pending.setdefault(tracklet.track.number, []).append(i)
            return tracklet.track.number
        if not tracklet.pending:
            tracklet.dark_first_t = float(rows.t[i])
        tracklet.pending.append((rows, i))
        if (
            len(tracklet.pending) >= c.dark_confirm_contacts
            and float(rows.t[i]) - tracklet.dark_first_t >= c.dark_confirm_span_s
        ):
            self._confirm(radar, tracklet, sink)
            assert tracklet.track is not None
            return tracklet.track.number
        return None

    def _nearest_only(
        self, scan: range, ptr: list[int], numbers: list[int], xs: list[float]
    ) -> dict[int, int]:
        gate2 = self._gate2
        options = [{p: xs[p] for p in range(ptr[i], ptr[i + 1]) if xs[p] <= gate2} for i in scan]
        picked = _assign_pairs(options, numbers)
        return {i: p for i, p in zip(scan, picked, strict=True) if p is not None}

    def _place_pending(self, rows: PositionRows, sink: _Sink) -> None:
        """Contacts won by confirmed dark tracks in this radar's rows: one add per track."""
        for number, index in self._pending.items():
            track = self._confirmed.get(number)
            if track is not None:
                self._place(track, rows.take(np.asarray(index, np.intp)), sink)
        self._pending = {}

    def _confirm(self, radar: str, tracklet: Tracklet, sink: _Sink) -> None:
        number, track_id = self._new_dark(radar)
        track = Track(number, track_id, TrackKind.DARK, None)
        tracklet.track = track
        self._confirmed[number] = track
        self._place(
            track, PositionRows.concat([r.take(slice(i, i + 1)) for r, i in tracklet.pending]), sink
        )
        tracklet.pending = []

    def _place(self, track: Track, rows: PositionRows, sink: _Sink) -> None:
        flags = np.zeros(len(rows), np.uint16)
        numbers = np.full(len(rows), track.number, np.int64)
        track.add(
            {
                "seq": rows.seq,
                "t": rows.t,
                "lat": rows.lat,
                "lon": rows.lon,
                "sog": rows.sog,
                "cog": rows.cog,
                "mmsi": np.full(len(rows), -1, np.int64),
                "label_no": rows.label_no,
                "source": rows.source,
                "flags": flags,
            }
        )
        sink.add(rows, numbers, flags)
        self._touched.add(track.number)


def _on_time(dt: float, period: float, slack: float, scan_s: float) -> bool:
    """Whether a target last reported ``dt`` ago can be reported again now: after its
    scan and, once the period is known, a whole number of periods (give or take
    ``slack``) later."""
    if dt <= scan_s:
        return False
    if period <= 0.0:
        return True
    k = round(dt / period)
    return k >= 1 and abs(dt - k * period) <= slack


def _assign(options: list[dict[Tracklet, float]]) -> list[Tracklet | None]:
    """One tracklet per contact at most and one contact per tracklet, least total cost:
    the cheapest option each when no two contacts want one tracklet, else the Hungarian
    method over the scan."""
    if len(options) == 1:
        (found,) = options
        return [min(found, key=found.__getitem__) if found else None]
    best: list[Tracklet | None] = [
        min(found, key=found.__getitem__) if found else None for found in options
    ]
    taken = [b for b in best if b is not None]
    if len(taken) == len(set(taken)):
        return best
    columns = list({k: None for found in options for k in found})
    index = {k: j for j, k in enumerate(columns)}
    cost = np.full((len(options), len(columns)), 1e9)
    for row, found in enumerate(options):
        for k, v in found.items():
            cost[row, index[k]] = v
    r, col = linear_sum_assignment(cost)
    out: list[Tracklet | None] = [None] * len(options)
    for a, b in zip(r.tolist(), col.tolist(), strict=True):
        if cost[a, b] < 1e9:
            out[a] = columns[b]
    return out


def _assign_pairs(options: list[dict[int, float]], numbers: list[int]) -> list[int | None]:
    """Per contact, one of its gated pairs (keys) or none, no AIS track twice: as
    ``_assign``, with pairs standing for their AIS track."""
    best: list[int | None] = [
        min(found, key=found.__getitem__) if found else None for found in options
    ]
    taken = [numbers[p] for p in best if p is not None]
    if len(taken) == len(set(taken)):
        return best
    columns = list({numbers[p]: None for found in options for p in found})
    index = {k: j for j, k in enumerate(columns)}
    cost = np.full((len(options), len(columns)), 1e9)
    pair = np.full((len(options), len(columns)), -1, np.int64)
    for row, found in enumerate(options):
        for p, v in found.items():
            cost[row, index[numbers[p]]] = v
            pair[row, index[numbers[p]]] = p
    r, col = linear_sum_assignment(cost)
    out: list[int | None] = [None] * len(options)
    for a, b in zip(r.tolist(), col.tolist(), strict=True):
        if cost[a, b] < 1e9:
            out[a] = int(pair[a, b])
    return out
