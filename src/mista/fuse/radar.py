"""Radar contacts: associated to AIS tracks, or followed as dark tracks.

Each scan (one radar's contacts within ``scan_s``) is matched to the AIS tracks near that
radar, predicted to the scan time (interpolated between fixes, dead-reckoned past the last
one), gated at ``gate_sigmas`` and assigned with the Hungarian method
(``scipy.optimize.linear_sum_assignment``). Contacts no AIS track explains feed a
nearest-neighbour tracker: a dark track is confirmed after ``dark_confirm_contacts``
contacts over ``dark_confirm_span_s``; a tentative one that stops getting contacts is
dropped, so scattered false contacts never make a track. Associated contacts confirm an
AIS track without adding points to it (AIS tracks stay AIS-only).

A radar reports each target once per report period. The period is learned per radar (the
median time between the contacts its tracks take); a track given a contact less than
``radar_report_fraction`` of it ago takes no other, so a ship alongside another keeps
its own contacts. A confirmed dark track's gate leaves room to manoeuvre, but its cost
uses only fit and contact error, so it is not outbid by an AIS track for its contacts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from ._kinematics import KNOT_M_S, dead_reckon
from .chunk import Association, PointFlag, TrackKind
from .config import FuseConfig
from .feed import PositionRows
from .tracks import Track

__all__ = ["RadarTracker"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]

_BAD = int(PointFlag.OUTLIER | PointFlag.IMPLAUSIBLE_SPEED)
_M_PER_DEG = 111_195.0
#: Contacts further than this beyond a radar's contacts are not considered for it.
_SEARCH_MARGIN_M = 30_000.0
#: Contacts used to fit a dark track's course and speed.
_FIT_CONTACTS = 16
#: How far (m/s of time since the last contact) a dark track may stray from its line.
_MANOEUVRE_M_S = 2.0
#: Per radar, AIS tracks whose last contact time is kept before old ones are dropped.
_MAX_REMEMBERED = 4096
#: Times between a track's contacts kept per radar, and needed before they are used.
_GAP_SAMPLE = 512
_GAP_MIN_SAMPLE = 50


class _Sink(Protocol):
    associations: list[Association]
    touched: set[int]

    def add(self, rows: PositionRows, track: I64, flags: U16) -> None: ...


class _DarkTrack:
    """Contacts followed by one radar; ``track`` is set once confirmed. ``line`` is the
    straight-line fit of the last contacts (time of the last, lat, lon, and their rates)."""

    __slots__ = ("first_t", "index", "lat", "line", "lon", "t", "track")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.first_t = math.nan
        self.index: list[tuple[PositionRows, int]] = []  # contacts while tentative
        self.track: Track | None = None
        self.line: tuple[float, float, float, float, float] | None = None

    def add(self, t: float, lat: float, lon: float) -> None:
        if not self.t:
            self.first_t = t
        self.t.append(t)
        self.lat.append(lat)
        self.lon.append(lon)
        if len(self.t) > _FIT_CONTACTS:
            del self.t[0], self.lat[0], self.lon[0]
        self.line = None
        n = len(self.t)
        if n >= 3 and self.t[-1] - self.t[0] >= 30.0:
            # Least squares by hand: a handful of points, numpy would cost more.
            xs = [x - t for x in self.t]
            xm = sum(xs) / n
            lat_m = sum(self.lat) / n
            lon_m = sum(self.lon) / n
            sxx = sum((x - xm) ** 2 for x in xs)
            slope_lat = sum((x - xm) * (y - lat_m) for x, y in zip(xs, self.lat, strict=True)) / sxx
            slope_lon = sum((x - xm) * (y - lon_m) for x, y in zip(xs, self.lon, strict=True)) / sxx
            self.line = (t, lat_m - slope_lat * xm, lon_m - slope_lon * xm, slope_lat, slope_lon)

    def predict(self, t: float, config: FuseConfig) -> tuple[float, float, float]:
        """Position at ``t`` and the gate radius (m): on the fitted line (fit error taken
        as one more contact error, plus room to manoeuvre at ``_MANOEUVRE_M_S``), or the
        last contact with room for top speed when there is no fit yet."""
        sigma = math.sqrt(2.0) * config.radar_sigma_m
        dt = t - self.t[-1]
        if self.line is not None:
            t0, lat0, lon0, slope_lat, slope_lon = self.line
            return (
                lat0 + slope_lat * (t - t0),
                lon0 + slope_lon * (t - t0),
                (config.gate_sigmas + 1.0) * sigma + _MANOEUVRE_M_S * dt,
            )
        return (
            self.lat[-1],
            self.lon[-1],
            config.gate_sigmas * sigma + config.dark_max_speed_kn * KNOT_M_S * dt,
        )


class RadarTracker:
    def __init__(self, config: FuseConfig, new_dark: Callable[[str], tuple[int, str]]) -> None:
        self._config = config
        self._new_dark = new_dark
        self._dark: dict[str, list[_DarkTrack]] = {}
        self._dark_done_t: dict[str, float] = {}
        self._confirmed: dict[int, Track] = {}
        self._touched: set[int] = set()
        self._pending: dict[int, list[int]] = {}  # dark track -> row indexes to place
        self._last_contact: dict[str, dict[int, float]] = {}  # radar -> AIS track -> time
        self._gaps: dict[str, deque[float]] = {}  # radar -> recent times between a track's contacts

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
        snapshot = _Snapshot(ais)
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            part = rows.take(slice(start, stop))
            self._one_radar(str(radars[start]), part, snapshot, sink)
            self._place_pending(part, sink)

    def _one_radar(self, radar: str, rows: PositionRows, snapshot: _Snapshot, sink: _Sink) -> None:
        """Each scan: AIS tracks and confirmed dark tracks compete for the contacts in one
        assignment (cost: the negative log-likelihood of the distance under each track's
        sigma); the rest continue tentative dark tracks or start new ones."""
        c = self._config
        gaps = np.flatnonzero(np.diff(rows.t) > c.scan_s) + 1
        scans = np.split(np.arange(len(rows)), gaps)
        scan_t = np.array([float(rows.t[s].mean()) for s in scans])
        predicted = snapshot.predict(rows, scan_t, c)
        # When each AIS track last took a contact of this radar: one report per target
        # per report interval, so a second contact that soon is another object.
        recent = self._last_contact.setdefault(radar, {})
        spacing = self._gaps.setdefault(radar, deque(maxlen=_GAP_SAMPLE))
        interval = self._report_interval(spacing)
        ais_numbers = predicted[0].tolist() if predicted is not None else []
        ais_last = np.array([recent.get(n, -math.inf) for n in ais_numbers], np.float64)
        for k, scan in enumerate(scans):
            t = float(scan_t[k])
            live = t >= self._dark_done_t.get(radar, -math.inf)
            dark = self._live_dark(radar, t) if live else []
            confirmed = [d for d in dark if d.track is not None]
            # Predicted lat, lon, gate radius and sigma (m) per candidate track.
            blocks: list[tuple[F64, F64, F64, F64]] = []
            if predicted is not None:
                _, plat, plon, sigma = predicted
                total = np.sqrt(sigma[:, k] ** 2 + c.radar_sigma_m**2)
                blocks.append((plat[:, k], plon[:, k], c.gate_sigmas * total, total))
            busy = [t - ais_last < interval]
            if confirmed:
                pred = np.array([d.predict(t, c) for d in confirmed])
                # Its gate has room to manoeuvre; its likelihood, like an AIS track's, is
                # that of its fit and contact error, so it is not outbid for its contacts.
                fit_sigma = np.full(len(confirmed), math.sqrt(2.0) * c.radar_sigma_m)
                blocks.append((pred[:, 0], pred[:, 1], pred[:, 2], fit_sigma))
                busy.append(np.array([t - d.t[-1] < interval for d in confirmed]))
            n_ais = 0 if predicted is None else predicted[0].shape[0]
            assigned = np.full(scan.shape[0], -1, np.int64)
            distance = np.full(scan.shape[0], np.nan)
            to_dark = np.full(scan.shape[0], -1, np.int64)
            if blocks:
                plat_all = np.concatenate([b[0] for b in blocks])
                plon_all = np.concatenate([b[1] for b in blocks])
                gate_all = np.concatenate([b[2] for b in blocks])[:, None]
                sig_all = np.concatenate([b[3] for b in blocks])[:, None]
                d = _flat_m(plat_all[:, None], plon_all[:, None], rows.lat[scan], rows.lon[scan])
                inside = (d <= gate_all) & ~np.concatenate(busy)[:, None]
                if inside.any():
                    cand = np.flatnonzero(inside.any(axis=1))
                    sig = sig_all[cand]
                    nll = (d[cand] / sig) ** 2 + 2.0 * np.log(sig)
                    cost = np.where(inside[cand], nll, 1e9)
                    r, col = linear_sum_assignment(cost)
                    ok = cost[r, col] < 1e9
                    r, col = cand[r[ok]], col[ok]
                    distance[col] = d[r, col]
                    is_ais = r < n_ais
                    if predicted is not None:
                        assigned[col[is_ais]] = predicted[0][r[is_ais]]
                        before = ais_last[r[is_ais]]
                        spacing.extend((t - before[np.isfinite(before)]).tolist())
                        ais_last[r[is_ais]] = t
                    to_dark[col[~is_ais]] = r[~is_ais] - n_ais
            if live and (to_dark >= 0).any() | (assigned < 0).any():
                self._dark_done_t[radar] = t
                dark_numbers, dark_d = self._follow_dark(
                    radar, rows, scan, to_dark, confirmed, assigned < 0, t, sink
                )
                use = dark_numbers >= 0
                assigned[use] = dark_numbers[use]
                distance[use & np.isnan(distance)] = dark_d[use & np.isnan(distance)]
            for j, i in enumerate(scan.tolist()):
                number = int(assigned[j])
                sink.associations.append(
                    Association(
                        seq=int(rows.seq[i]),
                        t=float(rows.t[i]),
                        track=None if number < 0 else number,
                        distance_m=None if number < 0 else float(distance[j]),
                    )
                )
        for number, last in zip(ais_numbers, ais_last.tolist(), strict=True):
            if last > -math.inf:
                recent[number] = last
        if len(recent) > _MAX_REMEMBERED:
            horizon = float(rows.t[-1]) - c.association_max_age_s
            self._last_contact[radar] = {n: v for n, v in recent.items() if v >= horizon}

    def _report_interval(self, gaps: deque[float]) -> float:
        """How soon after a contact the radar reports the same target again at the
        earliest: ``radar_report_fraction`` of the median time between the contacts its
        tracks take (0 until enough are seen)."""
        if len(gaps) < _GAP_MIN_SAMPLE:
            return 0.0
        return self._config.radar_report_fraction * float(np.median(np.asarray(gaps)))

    def _place_pending(self, rows: PositionRows, sink: _Sink) -> None:
        """Contacts won by confirmed dark tracks in this radar's rows: one add per track."""
        for number, index in self._pending.items():
            track = self._confirmed.get(number)
            if track is not None:
                self._place(track, rows.take(np.asarray(index, np.intp)), sink)
        self._pending = {}

    def _live_dark(self, radar: str, t: float) -> list[_DarkTrack]:
        """This radar's dark tracks still followed at ``t`` (the others are dropped)."""
        c = self._config
        live = [
            d
            for d in self._dark.get(radar, [])
            if t - d.t[-1]
            <= (c.dark_drop_after_s if d.track is not None else c.dark_tentative_timeout_s)
        ]
        self._dark[radar] = live
        return live

    def _follow_dark(
        self,
        radar: str,
        rows: PositionRows,
        scan: npt.NDArray[np.intp],
        to_confirmed: I64,
        confirmed: list[_DarkTrack],
        free: npt.NDArray[np.bool_],
        t: float,
        sink: _Sink,
    ) -> tuple[I64, F64]:
        """Contacts won by confirmed dark tracks join them; free contacts continue a
        tentative track (nearest within its gate) or start one."""
        c = self._config
        out = np.full(scan.shape[0], -1, np.int64)
        out_d = np.full(scan.shape[0], np.nan)
        for j in np.flatnonzero(to_confirmed >= 0).tolist():
            dark = confirmed[int(to_confirmed[j])]
            i = int(scan[j])
            dark.add(float(rows.t[i]), float(rows.lat[i]), float(rows.lon[i]))
            assert dark.track is not None
            self._pending.setdefault(dark.track.number, []).append(i)
            out[j] = dark.track.number
        index = np.flatnonzero(free & (to_confirmed < 0))
        if index.shape[0] == 0:
            return out, out_d
        tracks = self._dark.setdefault(radar, [])
        interval = self._report_interval(self._gaps.get(radar, deque()))
        tentative = [d for d in tracks if d.track is None and t - d.t[-1] >= interval]
        matched = np.full(index.shape[0], -1, np.int64)
        if tentative:
            pred = np.array([d.predict(t, c) for d in tentative])
            dist = _flat_m(
                pred[:, 0][:, None],
                pred[:, 1][:, None],
                rows.lat[scan[index]],
                rows.lon[scan[index]],
            )
            inside = dist <= pred[:, 2][:, None]
            if inside.any():
                cost = np.where(inside, dist / pred[:, 2][:, None], 1e9)
                r, col = linear_sum_assignment(cost)
                ok = cost[r, col] < 1e9
                matched[col[ok]] = r[ok]
        for m, j in zip(matched.tolist(), index.tolist(), strict=True):
            i = int(scan[j])
            if m < 0:
                dark = _DarkTrack()
                tracks.append(dark)
            else:
                dark = tentative[m]
            dark.add(float(rows.t[i]), float(rows.lat[i]), float(rows.lon[i]))
            dark.index.append((rows, i))
            if (
                len(dark.index) >= c.dark_confirm_contacts
                and dark.t[-1] - dark.first_t >= c.dark_confirm_span_s
            ):
                self._confirm(radar, dark, sink)
                assert dark.track is not None
                out[j] = dark.track.number
                out_d[j] = 0.0
        return out, out_d

    def _confirm(self, radar: str, dark: _DarkTrack, sink: _Sink) -> None:
        number, track_id = self._new_dark(radar)
        track = Track(number, track_id, TrackKind.DARK, None)
        dark.track = track
        self._confirmed[number] = track
        self._place(
            track, PositionRows.concat([r.take(slice(i, i + 1)) for r, i in dark.index]), sink
        )
        dark.index = []

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


def _flat_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Distance in metres on a local flat earth (tracks near one radar: tens of km),
    broadcasting; much cheaper than great circles per scan."""
    north = (lat2 - lat1) * _M_PER_DEG
    east = ((lon2 - lon1 + 180.0) % 360.0 - 180.0) * _M_PER_DEG * np.cos(np.radians(lat2))
    out: F64 = np.hypot(north, east)
    return out


class _Snapshot:
    """AIS tracks' last positions, to pick those near a radar's contacts."""

    def __init__(self, tracks: list[Track]) -> None:
        self.tracks = [t for t in tracks if len(t.history)]
        self.last_t = np.array([t.last_t for t in self.tracks], np.float64)
        self.lat = np.array([t.last_lat for t in self.tracks], np.float64)
        self.lon = np.array([t.last_lon for t in self.tracks], np.float64)

    def predict(
        self, rows: PositionRows, scan_t: F64, c: FuseConfig
    ) -> tuple[I64, F64, F64, F64] | None:
        """Track numbers and their predicted lat, lon and sigma (m) at each scan time
        (arrays tracks x scans), for the tracks near these contacts; ``None`` if none."""
        if not self.tracks:
            return None
        margin_deg = _SEARCH_MARGIN_M / _M_PER_DEG
        lat_lo, lat_hi = float(rows.lat.min()) - margin_deg, float(rows.lat.max()) + margin_deg
        coslat = max(math.cos(math.radians(float(np.abs(rows.lat).max()) + margin_deg)), 0.05)
        lon_lo = float(rows.lon.min()) - margin_deg / coslat
        lon_hi = float(rows.lon.max()) + margin_deg / coslat
        near = (
            (self.last_t >= float(scan_t[0]) - c.association_max_age_s)
            & (self.lat >= lat_lo)
            & (self.lat <= lat_hi)
            & (self.lon >= lon_lo)
            & (self.lon <= lon_hi)
        )
        index = np.flatnonzero(near)
        if index.shape[0] == 0:
            return None
        n, m = index.shape[0], scan_t.shape[0]
        plat = np.empty((n, m))
        plon = np.empty((n, m))
        sigma = np.empty((n, m))
        numbers = np.empty(n, np.int64)
        for row, i in enumerate(index.tolist()):
            track = self.tracks[i]
            numbers[row] = track.number
            plat[row], plon[row], sigma[row] = _predict_track(track, scan_t, c)
        return numbers, plat, plon, sigma


def _predict_track(track: Track, when: F64, c: FuseConfig) -> tuple[F64, F64, F64]:
    """A track's position at times ``when``: between fixes interpolated, after the last
    dead-reckoned, before the first held; sigma grows with the time to the nearest fix."""
    history = track.history
    good = (history.flags & np.uint16(_BAD)) == 0
    t = history.t[good]
    if t.shape[0] == 0:
        t = history.t
        good = np.ones(t.shape[0], np.bool_)
    lat = history.column("lat")[good].astype(np.float64)
    lon = history.column("lon")[good].astype(np.float64)
    plat = np.interp(when, t, lat)
    plon = np.interp(when, t, np.unwrap(lon, period=360.0))
    i = np.searchsorted(t, when)
    before = np.where(i > 0, when - t[np.maximum(i - 1, 0)], np.inf)
    after = np.where(i < t.shape[0], t[np.minimum(i, t.shape[0] - 1)] - when, np.inf)
    near_dt = np.minimum(before, after)
    late = when > t[-1]
    if late.any():
        sog = history.column("sog")[good].astype(np.float64)
        cog = history.column("cog")[good].astype(np.float64)
        dr_lat, dr_lon = dead_reckon(
            np.full(int(late.sum()), lat[-1]),
            np.full(int(late.sum()), lon[-1]),
            np.full(int(late.sum()), sog[-1]),
            np.full(int(late.sum()), cog[-1]),
            when[late] - t[-1],
        )
        plat[late] = dr_lat
        plon[late] = dr_lon
    plon = (plon + 180.0) % 360.0 - 180.0
    sigma = np.minimum(
        c.prediction_sigma_m + c.prediction_sigma_growth_m_per_s * near_dt, c.prediction_sigma_cap_m
    )
    return plat, plon, sigma
