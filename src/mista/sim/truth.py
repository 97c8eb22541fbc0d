"""Truth: every behaviour the TRUE trajectories meet, by each definition of the contract.

These are the simulator's own, simple implementations (per-minute samples of the true
motion, what each transmitter sent), independent of ``mista.detect`` and ``mista.fuse``:
an injected behaviour and an incidental one (a port call at a voyage's end, two ships
passing close, the partners of an encounter loitering, a gap vessel crossing radar
cover) are found the same way. ``injected`` marks those that were planned.

Definitions (thresholds of the contract; the same numbers ``mista.detect`` defaults to):

- port-visit: within 3 km of a port to enter, beyond 4 km to leave, 30 min or more inside.
- encounter: two vessels 500 m or less apart, both under 2 kn, both 10 km or more from
  any port, for 2 h or more (gaps of up to 2 min allowed).
- loitering: under 2 kn, 20 nm (37,040 m) or more from shore, for 1 h or more.
- close-approach: both vessels at 3 kn or more come within 926 m (0.5 nm); the distance
  between minute samples is interpolated linearly.
- ais-gap: the transmitter off for 12 h or more after it was first heard (level "gap").
- dark-vessel: transmitter off within a coastal radar's range for 10 min or more.
- spoofing, identity-change, shared-mmsi: what the transmitters sent (their windows,
  name and MMSI changes, and one MMSI sent by two vessels at once 100 km or more apart).
- zone-entry: two consecutive minutes inside a zone to enter, two outside to leave.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree
from shapely import contains_xy
from shapely.geometry import Polygon

from mista.geo import LandMask, Ports, haversine_m
from mista.sim.behaviours import Injected, Transmitter
from mista.sim.fleet import Fleet
from mista.sim.kinematics import Positions, Trajectories
from mista.sim.places import ZONES
from mista.sim.sensors import Source
from mista.sim.transmit import spoof_centre
from mista.sim.writer import iso

__all__ = ["behaviour_truth", "runs", "vessel_records"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
MINUTE = 60.0
PORT_ENTER_M = 3000.0
PORT_EXIT_M = 4000.0
PORT_MIN_S = 1800.0
ENCOUNTER_M = 500.0
ENCOUNTER_SLOW_KN = 2.0
ENCOUNTER_PORT_M = 10_000.0
ENCOUNTER_MIN_S = 7200.0
LOITER_SLOW_KN = 2.0
LOITER_SHORE_M = 37_040.0
LOITER_MIN_S = 3600.0
CLOSE_M = 926.0
CLOSE_MOVING_KN = 3.0
GAP_MIN_S = 12 * 3600.0
DARK_MIN_S = 600.0
SHARED_MIN_M = 100_000.0


def runs(mask: B, *, bridge: int = 0) -> list[tuple[int, int]]:
    """(start, end exclusive) of the runs of True; gaps of up to ``bridge`` False joined."""
    m = np.asarray(mask, np.bool_)
    if not m.any():
        return []
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    if bridge > 0 and len(starts) > 1:
        keep = np.concatenate([[True], starts[1:] - ends[:-1] > bridge])
        starts = starts[keep]
        ends = np.concatenate([ends[:-1][keep[1:]], [ends[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


class _Truth:
    def __init__(
        self,
        fleet: Fleet,
        tx: list[Transmitter],
        injected: list[Injected],
        m_lat: F64,
        m_lon: F64,
        minute: Positions,
        minute_mmsi: I64,
        duration_s: float,
        start: datetime,
    ) -> None:
        self.fleet = fleet
        self.tx = tx
        self.injected = injected
        self.lat = m_lat
        self.lon = m_lon
        n_v, n_min = m_lat.shape
        self.n_min = n_min
        self.sog = minute.sog_kn.reshape(n_v, n_min)
        self.mmsi = minute_mmsi.reshape(n_v, n_min)
        self.duration_s = duration_s
        self.start = start
        self.records: list[dict[str, Any]] = []

    def mmsis(self, vessel: int, i0: int, i1: int) -> list[int]:
        seen = self.mmsi[vessel, max(i0, 0) : max(i1, i0 + 1)]
        seen = seen[seen >= 0]
        if len(seen) == 0:
            before = self.mmsi[vessel, : max(i0, 0)]
            before = before[before >= 0]
            seen = before[-1:] if len(before) else seen
        _, first = np.unique(seen, return_index=True)
        return [int(seen[i]) for i in sorted(first.tolist())]

    def was_injected(
        self, kind: str, vessels: tuple[int, ...], t0: float, t1: float, **match: Any
    ) -> bool:
        for item in self.injected:
            if item.kind != kind or set(item.vessels) != set(vessels):
                continue
            if any(item.detail.get(k) != v for k, v in match.items()):
                continue
            if item.start_s - 3600.0 <= t1 and t0 <= item.end_s + 3600.0:
                return True
        return False

    def add(
        self,
        kind: str,
        vessels: tuple[int, ...],
        t0: float,
        t1: float,
        lat: float,
        lon: float,
        detail: dict[str, Any],
        *,
        mmsis: list[int] | None = None,
        injected: bool | None = None,
    ) -> None:
        i0, i1 = int(t0 // MINUTE), math.ceil(t1 / MINUTE)
        if mmsis is None:
            mmsis = []
            for v in vessels:
                mmsis += [m for m in self.mmsis(v, i0, i1) if m not in mmsis]
        if injected is None:
            match = {"zone": detail["zone"]} if kind == "zone-entry" else {}
            injected = self.was_injected(kind, vessels, t0, t1, **match)
        self.records.append({
            "kind": kind, "vessels": list(vessels), "mmsis": mmsis,
            "start": iso(self.start, t0), "end": iso(self.start, t1),
            "lat": round(float(lat), 6), "lon": round(float(lon), 6),
            "injected": injected, "detail": detail,
        })  # fmt: skip

    def span(self, i0: int, i1: int) -> tuple[float, float, dict[str, Any]]:
        """Times of minutes [i0, i1) and whether they touch the scenario's ends."""
        detail: dict[str, Any] = {}
        if i0 == 0:
            detail["open_at_start"] = True
        if i1 >= self.n_min:
            detail["open_at_end"] = True
        return i0 * MINUTE, min(i1 * MINUTE, self.duration_s), detail


def _port_visits(t: _Truth, ports: Ports) -> None:
    n_v, n_min = t.lat.shape
    idx, dist = ports.nearest(t.lon.ravel(), t.lat.ravel())
    d = np.asarray(dist).reshape(n_v, n_min)
    near = np.asarray(idx).reshape(n_v, n_min)
    t.port_distance = d  # type: ignore[attr-defined]
    event = np.where(d < PORT_ENTER_M, 1, np.where(d > PORT_EXIT_M, 0, -1))
    col = np.where(event >= 0, np.arange(n_min)[None, :], -1)
    np.maximum.accumulate(col, axis=1, out=col)
    state = np.where(col >= 0, np.take_along_axis(event, np.maximum(col, 0), axis=1), 0) == 1
    for v in np.flatnonzero(state.any(axis=1)).tolist():
        for i0, i1 in runs(state[v]):
            if (i1 - i0) * MINUTE < PORT_MIN_S:
                continue
            t0, t1, detail = t.span(i0, i1)
            p = int(near[v, (i0 + i1) // 2])
            detail["port"] = ports.names[p]
            t.add("port-visit", (v,), t0, t1, float(ports.lat[p]), float(ports.lon[p]), detail,
                  injected=False)  # fmt: skip


def _loitering(t: _Truth, land: LandMask) -> None:
    d_port: F64 = t.port_distance  # type: ignore[attr-defined]
    slow = (t.sog < LOITER_SLOW_KN) & (d_port > 10_000.0)
    far = np.zeros_like(slow)
    rows, cols = np.nonzero(slow)
    if len(rows):
        shore = np.asarray(land.distance_to_shore_m(t.lon[rows, cols], t.lat[rows, cols]))
        far[rows, cols] = shore >= LOITER_SHORE_M
    for v in np.flatnonzero(far.any(axis=1)).tolist():
        for i0, i1 in runs(far[v]):
            if (i1 - i0) * MINUTE < LOITER_MIN_S:
                continue
            t0, t1, detail = t.span(i0, i1)
            m = (i0 + i1) // 2
            t.add("loitering", (v,), t0, t1, t.lat[v, m], t.lon[v, m], detail)


def _unit(lat: F64, lon: F64) -> F64:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


_R = 6_371_008.8


def _pairs_per_minute(t: _Truth, mask: B, radius_m: float) -> dict[tuple[int, int], list[int]]:
    """Per pair of vessels, the minutes both are in ``mask`` within ``radius_m``."""
    out: dict[tuple[int, int], list[int]] = {}
    chord = 2.0 * math.sin(radius_m / (2.0 * _R))
    for m in range(t.n_min):
        vs = np.flatnonzero(mask[:, m])
        if len(vs) < 2:
            continue
        pts = _unit(t.lat[vs, m], t.lon[vs, m])
        pairs = cKDTree(pts).query_pairs(chord, output_type="ndarray")
        for a, b in pairs.tolist():
            va, vb = int(vs[a]), int(vs[b])
            key = (va, vb) if va < vb else (vb, va)
            out.setdefault(key, []).append(m)
    return out


def _encounters(t: _Truth) -> None:
    d_port: F64 = t.port_distance  # type: ignore[attr-defined]
    mask = (t.sog < ENCOUNTER_SLOW_KN) & (d_port >= ENCOUNTER_PORT_M)
    for (a, b), minutes in sorted(_pairs_per_minute(t, mask, ENCOUNTER_M).items()):
        flags = np.zeros(t.n_min, np.bool_)
        flags[minutes] = True
        for i0, i1 in runs(flags, bridge=2):
            if (i1 - i0) * MINUTE < ENCOUNTER_MIN_S:
                continue
            t0, t1, detail = t.span(i0, i1)
            m = (i0 + i1) // 2
            t.add("encounter", (a, b), t0, t1, t.lat[a, m], t.lon[a, m], detail)


def _relative(t: _Truth, a: int, b: int, i: I64) -> tuple[F64, F64]:
    """Local flat metres (east, north) of vessel b relative to a at minutes ``i``."""
    k = math.pi / 180.0 * _R
    dy = (t.lat[b, i] - t.lat[a, i]) * k
    dx = (t.lon[b, i] - t.lon[a, i]) * k * np.cos(np.radians(t.lat[a, i]))
    return dx, dy


def _close_approaches(t: _Truth) -> None:
    moving = t.sog >= CLOSE_MOVING_KN
    both = moving[:, :-1] & moving[:, 1:]
    both = np.concatenate([both, moving[:, -1:]], axis=1)
    pairs = _pairs_per_minute(t, both, 3000.0)
    for (a, b), minutes in sorted(pairs.items()):
        ms = np.asarray(minutes)
        nxt = np.minimum(ms + 1, t.n_min - 1)

        x0, y0 = _relative(t, a, b, ms)
        x1, y1 = _relative(t, a, b, nxt)
        vx, vy = x1 - x0, y1 - y0
        vv = vx * vx + vy * vy
        f = np.clip(
            np.where(vv > 0, -(x0 * vx + y0 * vy) / np.where(vv > 0, vv, 1.0), 0.0), 0.0, 1.0
        )
        dmin = np.hypot(x0 + f * vx, y0 + f * vy)
        close = dmin <= CLOSE_M
        if not close.any():
            continue
        flags = np.zeros(t.n_min, np.bool_)
        flags[ms[close]] = True
        dm = np.full(t.n_min, np.inf)
        dm[ms] = dmin
        fm = np.zeros(t.n_min)
        fm[ms] = f
        for i0, i1 in runs(flags, bridge=1):
            k = i0 + int(np.argmin(dm[i0:i1]))
            when = (k + fm[k]) * MINUTE
            la = t.lat[a, k] + fm[k] * (t.lat[a, min(k + 1, t.n_min - 1)] - t.lat[a, k])
            lo = t.lon[a, k] + fm[k] * (t.lon[a, min(k + 1, t.n_min - 1)] - t.lon[a, k])
            t.add("close-approach", (a, b), i0 * MINUTE, max(i1 * MINUTE, when), la, lo,
                  {"cpa_m": round(float(dm[k]), 1), "cpa_at": iso(t.start, when)})  # fmt: skip


def _gaps_and_dark(t: _Truth, sources: list[Source]) -> None:
    off = t.mmsi < 0
    heard_before = np.maximum.accumulate(~off, axis=1)
    for v in np.flatnonzero((off & heard_before).any(axis=1)).tolist():
        for i0, i1 in runs(off[v] & heard_before[v]):
            if (i1 - i0) * MINUTE < GAP_MIN_S:
                continue
            t0, t1, detail = t.span(i0, i1)
            detail.pop("open_at_start", None)
            detail["level"] = "gap"
            t.add("ais-gap", (v,), t0, t1, t.lat[v, i0], t.lon[v, i0], detail,
                  mmsis=t.mmsis(v, i0, i0))  # fmt: skip
    rows, cols = np.nonzero(off)
    covered = np.zeros_like(off)
    radar_of = np.full(off.shape, -1, np.int64)
    for k, src in enumerate(sources):
        if src.kind != "radar" or src.lat is None or src.lon is None:
            continue
        d = np.asarray(haversine_m(t.lat[rows, cols], t.lon[rows, cols], src.lat, src.lon))
        inside = d <= src.range_km * 1000.0
        covered[rows[inside], cols[inside]] = True
        radar_of[rows[inside], cols[inside]] = k
    for v in np.flatnonzero(covered.any(axis=1)).tolist():
        for i0, i1 in runs(covered[v]):
            if (i1 - i0) * MINUTE < DARK_MIN_S:
                continue
            t0, t1, detail = t.span(i0, i1)
            detail["radar"] = sources[int(radar_of[v, i0])].name
            detail["never_transmits"] = t.tx[v].dark
            m = (i0 + i1) // 2
            t.add("dark-vessel", (v,), t0, t1, t.lat[v, m], t.lon[v, m], detail, mmsis=[],
                  injected=t.tx[v].dark)  # fmt: skip


def _transmitted(t: _Truth, traj: Trajectories) -> None:
    for v, spans in enumerate(t.tx):
        for s in spans.spoofs:
            end = min(s.end_s, t.duration_s)
            lat, lon = spoof_centre(s, traj, v)
            reason = {"jump": "speed", "land": "land", "circle": "circle"}[s.mode]
            t.add("spoofing", (v,), s.start_s, end, lat, lon, {"reason": reason, "mode": s.mode},
                  injected=True)  # fmt: skip
        for (_, old), (at, new) in itertools.pairwise(spans.name):
            i = int(at // MINUTE)
            t.add("identity-change", (v,), at, at, t.lat[v, i], t.lon[v, i],
                  {"field": "name", "old": old, "new": new}, injected=True)  # fmt: skip
        for (_, old_mmsi), (at, new_mmsi) in itertools.pairwise(spans.mmsi):
            stop = max((a for a, b in spans.off if b == at), default=at)
            i = int(stop // MINUTE)
            change = {"field": "mmsi", "old": old_mmsi, "new": new_mmsi}
            t.add("identity-change", (v,), stop, at, t.lat[v, i], t.lon[v, i], change,
                  mmsis=[old_mmsi, new_mmsi], injected=True)  # fmt: skip
    # Shared MMSI: one MMSI sent by two vessels in one minute, 100 km or more apart.
    on_v, on_m = np.nonzero(t.mmsi >= 0)
    key = t.mmsi[on_v, on_m] * t.n_min + on_m
    order = np.argsort(key, kind="stable")
    k = key[order]
    dup = np.flatnonzero(k[1:] == k[:-1])
    pairs: dict[tuple[int, int], list[int]] = {}
    for i in dup.tolist():
        a, b = int(on_v[order[i]]), int(on_v[order[i + 1]])
        m = int(on_m[order[i]])
        if haversine_m(t.lat[a, m], t.lon[a, m], t.lat[b, m], t.lon[b, m]) >= SHARED_MIN_M:
            pairs.setdefault((min(a, b), max(a, b)), []).append(m)
    for (a, b), minutes in sorted(pairs.items()):
        flags = np.zeros(t.n_min, np.bool_)
        flags[minutes] = True
        for i0, i1 in runs(flags, bridge=15):
            t0, t1, detail = t.span(i0, i1)
            detail["mmsi"] = int(t.mmsi[a, i0])
            t.add("shared-mmsi", (a, b), t0, t1, t.lat[b, i0], t.lon[b, i0], detail,
                  mmsis=[int(t.mmsi[a, i0])])  # fmt: skip


def _zone_entries(t: _Truth) -> None:
    for zone in ZONES:
        poly = Polygon(zone.ring)
        w, s, e, n = poly.bounds
        box = (t.lon >= w) & (t.lon <= e) & (t.lat >= s) & (t.lat <= n)
        inside = np.zeros_like(box)
        rows, cols = np.nonzero(box)
        inside[rows, cols] = contains_xy(poly, t.lon[rows, cols], t.lat[rows, cols])
        for v in np.flatnonzero(inside.any(axis=1)).tolist():
            for i0, i1 in runs(inside[v], bridge=1):
                if i1 - i0 < 2:
                    continue
                t0, t1, detail = t.span(i0, i1)
                detail["zone"] = zone.id
                m = (i0 + i1) // 2
                t.add("zone-entry", (v,), t0, t1, t.lat[v, m], t.lon[v, m], detail)


def behaviour_truth(
    traj: Trajectories,
    tx: list[Transmitter],
    fleet: Fleet,
    injected: list[Injected],
    sources: list[Source],
    m_lat: F64,
    m_lon: F64,
    minute: Positions,
    minute_mmsi: I64,
    duration_s: float,
    land: LandMask,
    ports: Ports,
    start: datetime,
) -> list[dict[str, Any]]:
    """Every true behaviour, sorted by start, kind and vessels."""
    t = _Truth(fleet, tx, injected, m_lat, m_lon, minute, minute_mmsi, duration_s, start)
    _port_visits(t, ports)
    _loitering(t, land)
    _encounters(t)
    _close_approaches(t)
    _gaps_and_dark(t, sources)
    _transmitted(t, traj)
    _zone_entries(t)
    t.records.sort(key=lambda r: (r["start"], r["kind"], r["vessels"], r["end"]))
    return t.records


def vessel_records(
    fleet: Fleet, tx: list[Transmitter], duration_s: float, start: datetime
) -> list[dict[str, Any]]:
    """One record per vessel: its MMSIs over time (when each was sent), identity, class."""
    out: list[dict[str, Any]] = []
    for v in range(len(fleet)):
        spans = tx[v]
        mmsis: list[list[Any]] = []
        if not spans.dark:
            starts = [max(a, 0.0) for a, _ in spans.mmsi]
            # An MMSI is sent until the transmitter goes off before the next one starts.
            ends = [
                min(max((a for a, b in spans.off if b == nxt), default=nxt), duration_s)
                for nxt in [*starts[1:], duration_s]
            ]
            for (_, m), a, b in zip(spans.mmsi, starts, ends, strict=True):
                if b > a:
                    mmsis.append([m, iso(start, a), iso(start, b)])
        out.append({
            "vessel": v, "mmsis": mmsis, "name": fleet.name[v],
            "type": int(fleet.ship_type[v]), "flag": fleet.flag[v],
            "class": fleet.ais_class[v], "dark": spans.dark, "kind": fleet.kind[v],
        })  # fmt: skip
    return out
