"""Sensors: shore AIS receivers, satellite AIS passes and coastal radars.

- A shore receiver hears a report within its range (40-60 nm) with a probability that
  falls with range (0.95 near the mast, 0 at the horizon).
- A satellite pass sees a footprint 2,500 km wide moving along its ground track for
  10-15 minutes; each report inside is heard with probability 0.3-0.5. A pass is
  downlinked 20-90 minutes after it ends: its file arrives late.
- National networks forward at most one position report per vessel per
  ``forward_interval_s`` window (aligned to the scenario start): the first one heard.
  With 0 every report heard is forwarded. Static data is always forwarded.
- A radar scans every 10-12 s out to about 40 km and writes a target at most once every
  30-60 s (every m-th scan); it misses a target more often far out, its position error
  (1 sigma) grows from 50 m to 150 m with range, and it writes false contacts at a
  Poisson rate. Ships it cannot resolve (within 37.5 m in range and 1° in bearing of each
  other) are one echo and write one plot, at the echo's centre
  (``mista.sim.radar_resolution``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mista.geo import LandMask, bearing_deg, destination, haversine_m
from mista.sim.kinematics import Trajectories
from mista.sim.places import COASTAL_RECEIVERS, RADARS, REGION
from mista.sim.radar_resolution import Echoes, merge_unresolved
from mista.sim.reporting import Schedule

__all__ = [
    "SATELLITE",
    "Pass",
    "RadarContacts",
    "Receptions",
    "Source",
    "make_passes",
    "make_sources",
    "radar_contacts",
    "receive",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
SATELLITE = "USA-ais-sat"
_QUAD = "IND,USA,JPN,AUS"
#: Half the width of a satellite's footprint.
FOOTPRINT_RADIUS_M = 1_250_000.0
#: Sub-satellite point speed over the ground (low Earth orbit).
GROUND_SPEED_MPS = 6_800.0
#: False radar contacts per radar per hour (Poisson).
FALSE_CONTACTS_PER_H = 12.0
#: Ships this far beyond a radar's range still count as echoes for resolution (a plot's
#: turn time rounds its report time by far less than a ship moves this far).
_ECHO_MARGIN_M = 100.0


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    kind: str  # ais-terrestrial | ais-satellite | radar
    nation: str
    lat: float | None
    lon: float | None
    range_km: float
    marking: str
    scan_s: float = 0.0  # radar: seconds per antenna turn
    write_every: int = 0  # radar: a target is written every this many scans


def make_sources(rng: np.random.Generator) -> list[Source]:
    """Shore receivers, the satellite and the radars, with their labels as markings."""
    out: list[Source] = []
    for site in COASTAL_RECEIVERS:
        out.append(
            Source(
                f"{site.nation}-ais-{site.place}",
                "ais-terrestrial",
                site.nation,
                site.lat,
                site.lon,
                round(float(rng.uniform(40.0, 60.0)) * 1.852, 1),
                f"RESTRICTED//REL TO {_QUAD}//white-shipping",
            )
        )
    out.append(
        Source(
            SATELLITE,
            "ais-satellite",
            "USA",
            None,
            None,
            FOOTPRINT_RADIUS_M / 1000.0,
            f"UNCLASSIFIED//REL TO {_QUAD}//white-shipping",
        )
    )
    for site in RADARS:
        scan = round(float(rng.uniform(10.0, 12.0)), 2)
        out.append(
            Source(
                f"{site.nation}-radar-{site.place}",
                "radar",
                site.nation,
                site.lat,
                site.lon,
                round(float(rng.uniform(37.0, 44.0)), 1),
                # A partner's radar reaches the scenario's node (IND) because that partner
                # shares it with IND, and with nobody else.
                f"CONFIDENTIAL//REL TO {','.join(sorted({site.nation, 'IND'}))}//sensor:radar",
                scan_s=scan,
                write_every=int(np.clip(round(rng.uniform(30.0, 60.0) / scan), 3, 5)),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Pass:
    """One satellite pass: its ground track from (lat0, lon0) to (lat1, lon1)."""

    start_s: float
    end_s: float
    lat0: float
    lon0: float
    lat1: float
    lon1: float
    delivered_s: float

    def subpoint(self, t_s: F64) -> tuple[F64, F64]:
        f = np.clip((t_s - self.start_s) / (self.end_s - self.start_s), 0.0, 1.0)
        return self.lat0 + f * (self.lat1 - self.lat0), self.lon0 + f * (self.lon1 - self.lon0)


def make_passes(rng: np.random.Generator, duration_s: float, satellites: int = 3) -> list[Pass]:
    """Passes of ``satellites`` satellites, each every 90-120 minutes, somewhere over the
    region, in start order."""
    w, s, e, n = REGION
    passes: list[Pass] = []
    for _ in range(satellites):
        t = float(rng.uniform(0.0, 100.0 * 60.0))
        while t < duration_s:
            length_s = float(rng.uniform(10.0, 15.0)) * 60.0
            lat_c = float(rng.uniform(s + 5.0, n - 5.0))
            lon_c = float(rng.uniform(w + 5.0, e - 5.0))
            heading = float(rng.uniform(-25.0, 25.0)) + (180.0 if rng.random() < 0.5 else 0.0)
            half = GROUND_SPEED_MPS * length_s / 2.0
            lat0, lon0 = destination(lat_c, lon_c, (heading + 180.0) % 360.0, half)
            lat1, lon1 = destination(lat_c, lon_c, heading % 360.0, half)
            end = t + length_s
            passes.append(
                Pass(
                    t,
                    end,
                    float(lat0),
                    float(lon0),
                    float(lat1),
                    float(lon1),
                    end + float(rng.uniform(20.0, 90.0)) * 60.0,
                )
            )
            t += float(rng.uniform(90.0, 120.0)) * 60.0
    passes.sort(key=lambda p: p.start_s)
    return passes


def _near(lat: F64, lon: F64, clat: float, clon: float, radius_m: float) -> tuple[I64, F64]:
    """Indexes of the points within ``radius_m`` of a centre, and their distances."""
    dlat = radius_m / 111_000.0
    dlon = dlat / max(np.cos(np.radians(min(abs(clat) + dlat, 89.0))), 0.05)
    box = np.flatnonzero((np.abs(lat - clat) <= dlat) & (np.abs(lon - clon) <= dlon))
    d = np.asarray(haversine_m(lat[box], lon[box], clat, clon), np.float64)
    ok = d <= radius_m
    return box[ok], d[ok]


def shore_probability(distance_m: F64, range_m: float) -> F64:
    """Chance a shore receiver hears one report at this distance."""
    return np.clip(0.95 * (1.0 - (distance_m / range_m) ** 2), 0.0, 1.0)


def satellite_probability(distance_m: F64) -> F64:
    """Chance a satellite hears one report (0.5 under it, 0.3 at the footprint edge)."""
    return 0.5 - 0.2 * np.clip(distance_m / FOOTPRINT_RADIUS_M, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class Receptions:
    """Reports heard and forwarded: source index, vessel, time (s), pass index (-1: shore)."""

    source: I64
    vessel: I64
    t_s: I64
    pass_index: I64


def _coverage(
    sources: list[Source],
    passes: list[Pass],
    lat: F64,
    lon: F64,
    t_s: F64,
) -> list[tuple[int, int, I64, F64]]:
    """(source, pass, point indexes, probability) of every sensor that may hear points."""
    out: list[tuple[int, int, I64, F64]] = []
    for i, src in enumerate(sources):
        if src.kind != "ais-terrestrial" or src.lat is None or src.lon is None:
            continue
        idx, d = _near(lat, lon, src.lat, src.lon, src.range_km * 1000.0)
        out.append((i, -1, idx, shore_probability(d, src.range_km * 1000.0)))
    sat = next((i for i, s in enumerate(sources) if s.kind == "ais-satellite"), None)
    if sat is not None:
        order = np.argsort(t_s, kind="stable")
        ts = t_s[order]
        for k, p in enumerate(passes):
            lo, hi = np.searchsorted(ts, [p.start_s, p.end_s])
            if hi <= lo:
                continue
            cand = order[lo:hi]
            slat, slon = p.subpoint(t_s[cand])
            d = np.asarray(haversine_m(lat[cand], lon[cand], slat, slon), np.float64)
            ok = d <= FOOTPRINT_RADIUS_M
            out.append((sat, k, cand[ok], satellite_probability(d[ok])))
    return out


def receive(
    sources: list[Source],
    passes: list[Pass],
    sched: Schedule,
    traj: Trajectories,
    duration_s: float,
    forward_interval_s: float,
    rng: np.random.Generator,
) -> Receptions:
    """Which position reports each AIS source forwards (see the module docstring)."""
    n_v = traj.n_vessels
    width = forward_interval_s if forward_interval_s > 0 else 60.0
    n_b = int(np.ceil(duration_s / width))
    bucket_t = np.arange(n_b, dtype=np.float64) * width
    v_grid = np.repeat(np.arange(n_v, dtype=np.int64), n_b)
    t_grid = np.tile(bucket_t, n_v)
    where = traj.positions_at(v_grid, t_grid)
    key = sched.vessel_of() * (1 << 32) + sched.t_s
    edge_t = np.ceil(np.arange(n_b + 1) * width).astype(np.int64)
    edges = np.searchsorted(
        key, (np.arange(n_v, dtype=np.int64)[:, None] * (1 << 32) + edge_t[None, :]).ravel()
    ).reshape(n_v, n_b + 1)
    start = edges[:, :-1].ravel()
    count = (edges[:, 1:] - edges[:, :-1]).ravel()
    # Buckets whose middle falls in a pass count for it (the pass sees them).
    mid_t = t_grid + width / 2.0
    parts_src, parts_v, parts_t, parts_pass = [], [], [], []
    for src, pass_k, idx, prob in _coverage(sources, passes, where.lat, where.lon, mid_t):
        k = count[idx]
        has = k > 0
        idx, prob, k = idx[has], prob[has], k[has]
        if forward_interval_s > 0:
            first = rng.geometric(np.maximum(prob, 1e-6)) - 1
            heard = first < k
            rows = start[idx[heard]] + first[heard]
        else:
            rows_all = np.repeat(start[idx], k) + (
                np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
            )
            heard = rng.random(len(rows_all)) < np.repeat(prob, k)
            rows = rows_all[heard]
        t = sched.t_s[rows]
        if pass_k >= 0:
            p = passes[pass_k]
            inside = (t >= p.start_s) & (t < p.end_s)
            rows, t = rows[inside], t[inside]
        parts_src.append(np.full(len(rows), src, np.int64))
        parts_v.append(key[rows] >> 32)
        parts_t.append(t)
        parts_pass.append(np.full(len(rows), pass_k, np.int64))
    return _join(parts_src, parts_v, parts_t, parts_pass)


def receive_static(
    sources: list[Source],
    passes: list[Pass],
    sched: Schedule,
    traj: Trajectories,
    rng: np.random.Generator,
) -> Receptions:
    """Which static-data transmissions each AIS source hears (all forwarded)."""
    vessel = sched.vessel_of()
    t = sched.t_s.astype(np.float64)
    where = traj.positions_at(vessel, t)
    parts_src, parts_v, parts_t, parts_pass = [], [], [], []
    for src, pass_k, idx, prob in _coverage(sources, passes, where.lat, where.lon, t):
        heard = idx[rng.random(len(idx)) < prob]
        parts_src.append(np.full(len(heard), src, np.int64))
        parts_v.append(vessel[heard])
        parts_t.append(sched.t_s[heard])
        parts_pass.append(np.full(len(heard), pass_k, np.int64))
    return _join(parts_src, parts_v, parts_t, parts_pass)


def _join(*parts: list[I64]) -> Receptions:
    cols = [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]
    return Receptions(*cols)


@dataclass(frozen=True, slots=True)
class RadarContacts:
    """Radar plots written: source index, time (s, ms precision), position, true vessel
    (-1: false contact), range, bearing and 1-sigma error."""

    source: I64
    t_s: F64
    lat: F64
    lon: F64
    vessel: I64
    range_m: F64
    bearing_deg: F64
    sigma_m: F64


def radar_contacts(
    sources: list[Source],
    traj: Trajectories,
    minute_lat: F64,
    minute_lon: F64,
    duration_s: float,
    land: LandMask,
    rng: np.random.Generator,
) -> RadarContacts:
    """Every radar's plots over the scenario (``minute_*``: (vessel, minute) positions)."""
    cols: dict[str, list[npt.NDArray[np.generic]]] = {
        k: [] for k in ("source", "t", "lat", "lon", "vessel", "range", "bearing", "sigma")
    }
    n_min = minute_lat.shape[1]
    for i, src in enumerate(sources):
        if src.kind != "radar" or src.lat is None or src.lon is None:
            continue
        range_m = src.range_km * 1000.0
        idx, _ = _near(minute_lat.ravel(), minute_lon.ravel(), src.lat, src.lon, range_m + 15_000.0)
        vessels = np.unique(idx // n_min)
        write_s = src.scan_s * src.write_every
        n_w = int(np.ceil(duration_s / write_s)) + 1
        phase = rng.integers(0, src.write_every, len(vessels)) * src.scan_s
        v = np.repeat(vessels, n_w)
        t = np.repeat(phase, n_w) + np.tile(np.arange(n_w) * write_s, len(vessels))
        inside = t < duration_s
        v, t = v[inside], t[inside]
        true = traj.positions_at(v, t)
        r = np.asarray(haversine_m(src.lat, src.lon, true.lat, true.lon), np.float64)
        seen = (r <= range_m) & (rng.random(len(r)) < 0.97 - 0.3 * (r / range_m) ** 2)
        v, t, r = v[seen], t[seen], r[seen]
        sigma = 50.0 + 100.0 * r / range_m
        east = rng.normal(0.0, 1.0, len(r)) * sigma
        north = rng.normal(0.0, 1.0, len(r)) * sigma
        # Ships one antenna turn cannot resolve write one plot, at their echo's centre.
        turn = np.round(t / src.scan_s).astype(np.int64)
        echoes = _echoes(src, vessels, np.unique(turn), traj)
        keep, merged, centre_lat, centre_lon = merge_unresolved(echoes, turn, v)
        lat, lon = destination(
            np.where(merged, centre_lat, true.lat[seen]),
            np.where(merged, centre_lon, true.lon[seen]),
            np.degrees(np.arctan2(east, north)) % 360.0,
            np.hypot(east, north),
        )
        v, t = v[keep], t[keep]
        lat, lon = np.asarray(lat)[keep], np.asarray(lon)[keep]
        # False contacts: uniform over the covered sea.
        n_false = int(rng.poisson(FALSE_CONTACTS_PER_H * duration_s / 3600.0))
        ft = rng.uniform(0.0, duration_s, 3 * n_false + 3)
        fr = range_m * np.sqrt(rng.random(len(ft)))
        fb = rng.uniform(0.0, 360.0, len(ft))
        flat, flon = destination(src.lat, src.lon, fb, fr)
        wet = ~np.asarray(land.on_land(np.asarray(flon), np.asarray(flat)), np.bool_)
        pick = np.flatnonzero(wet)[:n_false]
        all_t = np.round(np.concatenate([t, ft[pick]]), 3)
        all_lat = np.concatenate([np.asarray(lat), np.asarray(flat)[pick]])
        all_lon = np.concatenate([np.asarray(lon), np.asarray(flon)[pick]])
        all_v = np.concatenate([v, np.full(len(pick), -1, np.int64)])
        rng_m = np.asarray(haversine_m(src.lat, src.lon, all_lat, all_lon), np.float64)
        brg = np.asarray(bearing_deg(src.lat, src.lon, all_lat, all_lon), np.float64)
        sig = 50.0 + 100.0 * np.clip(rng_m / range_m, 0.0, 1.0)
        order = np.lexsort((all_v, all_t))
        cols["source"].append(np.full(len(order), i, np.int64))
        cols["t"].append(all_t[order])
        # Plots are written with 6 decimals: the truth holds exactly the written values.
        cols["lat"].append(np.round(all_lat[order], 6))
        cols["lon"].append(np.round(all_lon[order], 6))
        cols["vessel"].append(all_v[order])
        cols["range"].append(rng_m[order])
        cols["bearing"].append(brg[order])
        cols["sigma"].append(sig[order])
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    return RadarContacts(
        joined["source"].astype(np.int64),
        joined["t"].astype(np.float64),
        joined["lat"].astype(np.float64),
        joined["lon"].astype(np.float64),
        joined["vessel"].astype(np.int64),
        joined["range"].astype(np.float64),
        joined["bearing"].astype(np.float64),
        joined["sigma"].astype(np.float64),
    )


def _echoes(src: Source, vessels: I64, turns: I64, traj: Trajectories) -> Echoes:
    """The ships inside the radar's coverage (with a margin a plot's range cannot cross)
    at each of ``turns``."""
    assert src.lat is not None
    assert src.lon is not None
    v = np.repeat(vessels, len(turns))
    turn = np.tile(turns, len(vessels))
    where = traj.positions_at(v, turn.astype(np.float64) * src.scan_s)
    r = np.asarray(haversine_m(src.lat, src.lon, where.lat, where.lon), np.float64)
    inside = r <= src.range_km * 1000.0 + _ECHO_MARGIN_M
    brg = np.asarray(bearing_deg(src.lat, src.lon, where.lat[inside], where.lon[inside]))
    return Echoes(
        turn[inside],
        v[inside],
        r[inside],
        brg.astype(np.float64),
        np.asarray(where.lat[inside], np.float64),
        np.asarray(where.lon[inside], np.float64),
    )


def covered(
    sources: list[Source], passes: list[Pass], lat: F64, lon: F64, t_s: F64
) -> npt.NDArray[np.bool_]:
    """Whether some AIS sensor would likely hear a ship at each (lat, lon, t): within 70 %
    of a shore receiver's range, or inside a satellite footprint."""
    out = np.zeros(len(lat), np.bool_)
    for src in sources:
        if src.kind == "ais-terrestrial" and src.lat is not None and src.lon is not None:
            idx, _ = _near(lat, lon, src.lat, src.lon, 0.7 * src.range_km * 1000.0)
            out[idx] = True
    for p in passes:
        inside = (t_s >= p.start_s) & (t_s < p.end_s)
        if inside.any():
            slat, slon = p.subpoint(t_s[inside])
            d = np.asarray(haversine_m(lat[inside], lon[inside], slat, slon))
            out[np.flatnonzero(inside)[d <= FOOTPRINT_RADIUS_M]] = True
    return out
