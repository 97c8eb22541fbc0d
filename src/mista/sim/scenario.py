"""The scenario: fleet, plans, motion, transmissions, sensors, truth, files — in order."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from mista.errors import InputError
from mista.geo import LandMask, Ports, haversine_m
from mista.sim.behaviours import (
    Transmitter,
    align_gaps,
    align_spoofs,
    injection_counts,
    pair_shared_mmsi,
    plan_behaviours,
)
from mista.sim.fleet import Fleet, make_fleet
from mista.sim.kinematics import STATUS_MOORED, Trajectories
from mista.sim.observable import Observability
from mista.sim.reporting import schedule, static_schedule
from mista.sim.routes import Lanes
from mista.sim.sensors import (
    Receptions,
    make_passes,
    make_sources,
    radar_contacts,
    receive,
    receive_static,
)
from mista.sim.traffic import Planner
from mista.sim.transmit import sent_mmsi, sent_names, sent_positions
from mista.sim.truth import behaviour_truth, vessel_records
from mista.sim.writer import (
    FileEntry,
    Messages,
    encode_positions,
    encode_statics,
    iso,
    write_ais_files,
    write_json,
    write_jsonl,
    write_parquet,
    write_radar_files,
    write_sources,
    write_zones,
)

__all__ = ["DEFAULT_START", "FORMAT", "Progress", "ScenarioSummary", "simulate"]

FORMAT = "mista-scenario/1"
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
#: Called with (step name, step number, step count) as the work goes on.
Progress = Callable[[str, int, int], None]
_STEPS = ("plan", "motion", "transmissions", "sensors", "truth", "files")


@dataclass(frozen=True, slots=True)
class ScenarioSummary:
    """What was written: counts the CLI prints and benchmarks record."""

    out_dir: Path
    vessels: int
    hours: float
    files: int
    lines_by_kind: dict[str, int]
    injected: dict[str, int]
    truth: dict[str, int]
    seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)


def _check(hours: float, vessels: int, forward_interval_s: float) -> None:
    if not (math.isfinite(hours) and 0 < hours <= 24 * 14):
        raise InputError(f"hours {hours!r} must be more than 0 and at most 336 (two weeks)")
    if not 1 <= vessels <= 50_000:
        raise InputError(f"vessels {vessels!r} must be between 1 and 50,000")
    if not (math.isfinite(forward_interval_s) and 0 <= forward_interval_s <= 3600):
        raise InputError(
            f"forward_interval_s {forward_interval_s!r} must be between 0 (every report) and 3600"
        )


def simulate(
    out_dir: str | Path,
    *,
    hours: float = 24.0,
    vessels: int = 2000,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    forward_interval_s: float = 60.0,
    progress: Progress | None = None,
) -> ScenarioSummary:
    """Simulate ``vessels`` vessels for ``hours`` and write the scenario to ``out_dir``.

    The same arguments give byte-identical files. ``out_dir`` is created; files of an
    earlier scenario in it are overwritten (remove it first to start clean).
    """
    _check(hours, vessels, forward_interval_s)
    if start.tzinfo is None:
        raise InputError(f"start {start.isoformat()} must be timezone-aware (UTC)")
    start = start.astimezone(UTC)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory")
    began = time.perf_counter()
    steps: dict[str, float] = {}
    mark = [began]

    def step(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(now - mark[0], 3)
        mark[0] = now
        if progress is not None:
            progress(name, _STEPS.index(name) + 1, len(_STEPS))

    duration = hours * 3600.0
    seeds = np.random.SeedSequence(seed).spawn(8)
    rng_fleet, rng_plan, rng_pair, rng_sensor, rng_rx, rng_radar, rng_tx, _ = (
        np.random.default_rng(s) for s in seeds
    )
    land = LandMask.default()
    lanes = Lanes(Ports.default(), land)
    planner = Planner(lanes, land, duration)
    taken: set[int] = set()
    fleet = make_fleet(rng_fleet, vessels, taken)
    counts = injection_counts(vessels, hours)
    plans, tx, injected, roles, clones = plan_behaviours(planner, fleet, rng_plan, counts, taken)
    timelines = [
        plans[v]
        if v in plans
        else planner.background(rng_plan, fleet.kind[v], float(fleet.speed_kn[v]))
        for v in range(vessels)
    ]
    step("plan")

    traj = Trajectories(timelines)
    n_min = math.ceil(duration / 60.0)
    v_grid = np.repeat(np.arange(vessels, dtype=np.int64), n_min)
    t_grid = np.tile(np.arange(n_min, dtype=np.float64) * 60.0, vessels)
    minute = traj.positions_at(v_grid, t_grid)
    m_lat = minute.lat.reshape(vessels, n_min)
    m_lon = minute.lon.reshape(vessels, n_min)
    injected += pair_shared_mmsi(traj, m_lat, m_lon, fleet, tx, clones, roles, rng_pair, duration)
    sources = make_sources(rng_sensor)
    passes = make_passes(rng_sensor, duration)

    seen = Observability(
        sources,
        passes,
        m_lat,
        m_lon,
        np.array([not t.dark for t in tx]),
        Ports.default(),
        duration,
    )
    injected = align_spoofs(tx, injected, seen.covered_fraction, rng_pair, duration)
    injected = align_gaps(tx, injected, seen, rng_pair, duration)
    step("motion")

    phase = rng_tx.uniform(0.0, 360.0, vessels)
    off = [spans.off for spans in tx]
    sched = schedule(traj, fleet.ais_class, fleet.class_b_cs, duration, phase, off)
    statics = static_schedule(vessels, duration, phase, off)
    step("transmissions")

    heard = receive(sources, passes, sched, traj, duration, forward_interval_s, rng_rx)
    heard_static = receive_static(sources, passes, statics, traj, rng_rx)
    contacts = radar_contacts(sources, traj, m_lat, m_lon, duration, land, rng_radar)
    step("sensors")

    minute_mmsi = sent_mmsi(tx, v_grid, t_grid)
    behaviours = behaviour_truth(
        traj, tx, fleet, injected, sources, m_lat, m_lon, minute, minute_mmsi, duration,
        land, Ports.default(), start,
    )  # fmt: skip
    step("truth")

    out.mkdir(parents=True, exist_ok=True)
    messages = _messages(heard, heard_static, traj, tx, fleet, lanes, start)
    entries: list[FileEntry] = write_ais_files(out, start, sources, passes, messages)
    entries += write_radar_files(out, start, sources, contacts)
    write_sources(out, sources)
    write_zones(out)
    write_jsonl(out / "truth" / "behaviours.jsonl", behaviours)
    write_jsonl(out / "truth" / "vessels.jsonl", vessel_records(fleet, tx, duration, start))
    write_parquet(
        out / "truth" / "positions.parquet",
        pa.table({
            "vessel": pa.array(v_grid.astype(np.int32)),
            "t": pa.array(
                (np.datetime64(start.replace(tzinfo=None), "us")
                 + (t_grid * 1e6).astype("timedelta64[us]")), pa.timestamp("us", tz="UTC")),
            "lat": minute.lat, "lon": minute.lon, "sog": minute.sog_kn, "cog": minute.cog_deg,
            "mmsi": minute_mmsi, "ais_on": minute_mmsi >= 0,
        }),
    )  # fmt: skip
    start64 = np.datetime64(start.replace(tzinfo=None), "us")
    write_parquet(
        out / "truth" / "radar.parquet",
        pa.table({
            "source": pa.array([sources[i].name for i in contacts.source.tolist()], pa.string()),
            "t": pa.array(start64 + np.round(contacts.t_s * 1e6).astype("timedelta64[us]"),
                          pa.timestamp("us", tz="UTC")),
            "lat": contacts.lat, "lon": contacts.lon,
            "vessel": pa.array(contacts.vessel.astype(np.int32)),
        }),
    )  # fmt: skip
    entries.sort(key=lambda e: (e.delivered_s, e.path))
    injected_counts = {k: 0 for k in counts}
    for item in injected:
        injected_counts[item.kind] += 1
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "seed": seed,
        "start": iso(start, 0),
        "hours": hours,
        "vessels": vessels,
        "node": "IND",
        "sources": {
            s.name: {
                "kind": s.kind,
                "nation": s.nation,
                "lat": s.lat,
                "lon": s.lon,
                "range_km": s.range_km,
                "marking": s.marking,
                "config": f"sources/{s.name}.toml",
            }
            for s in sources
        },
        "files": [
            {
                "path": e.path,
                "source": e.source,
                "kind": e.kind,
                "delivered_at": iso(start, e.delivered_s),
                "lines": e.lines,
            }
            for e in entries
        ],
        "zones": "zones.geojson",
        "injected": injected_counts,
        "forward_interval_s": forward_interval_s,
    }
    write_json(out / "scenario.json", manifest)
    step("files")
    lines: dict[str, int] = {}
    for e in entries:
        lines[e.kind] = lines.get(e.kind, 0) + e.lines
    truth_counts: dict[str, int] = {}
    for b in behaviours:
        truth_counts[b["kind"]] = truth_counts.get(b["kind"], 0) + 1
    return ScenarioSummary(
        out, vessels, hours, len(entries), lines, injected_counts, truth_counts,
        round(time.perf_counter() - began, 3), steps,
    )  # fmt: skip


def _destinations(
    traj: Trajectories, lanes: Lanes, vessel: npt.NDArray[np.int64], t_s: npt.NDArray[np.float64]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Destination (the port of the next call) and its ETA (s) for each (vessel, time)."""
    n = len(traj.t)
    moored = np.flatnonzero(traj.status == STATUS_MOORED)
    nxt = np.full(n, n, np.int64)
    nxt[moored] = moored
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    k = traj.segment_of(vessel, t_s)
    call = nxt[k]
    ok = call < n
    call = np.where(ok, call, 0)
    ok &= traj.vessel[call] == vessel
    # The port nearest each call's mooring knot (few distinct knots: one matrix).
    knots, which = np.unique(call, return_inverse=True)
    d = np.asarray(
        haversine_m(
            traj.lat[knots][:, None],
            traj.lon[knots][:, None],
            lanes.lat[None, :],
            lanes.lon[None, :],
        )
    )
    near = np.argmin(d, axis=1)[which] if len(knots) else np.zeros(0, np.int64)
    names = [
        lanes.names[i].upper()[:20] if good else ""
        for i, good in zip(near.tolist(), ok.tolist(), strict=True)
    ]
    return names, np.where(ok, traj.t[call], np.nan)


def _messages(
    heard: Receptions,
    heard_static: Receptions,
    traj: Trajectories,
    tx: list[Transmitter],
    fleet: Fleet,
    lanes: Lanes,
    start: datetime,
) -> list[Messages]:
    t = heard.t_s.astype(np.float64)
    v = heard.vessel
    true = traj.positions_at(v, t)
    lat, lon = sent_positions(tx, traj, v, t, true.lat, true.lon)
    is_b = np.asarray(fleet.ais_class)[v] == "B"
    positions = encode_positions(
        heard.source, v, heard.t_s, heard.pass_index, is_b=is_b, cs=fleet.class_b_cs[v],
        mmsi=sent_mmsi(tx, v, t), status=true.status, sog=true.sog_kn, cog=true.cog_deg,
        lat=lat, lon=lon,
    )  # fmt: skip
    sv = heard_static.vessel
    st = heard_static.t_s.astype(np.float64)
    dest, eta_s = _destinations(traj, lanes, sv, st)
    eta: list[tuple[int, int, int, int]] = []
    for e in eta_s.tolist():
        if math.isnan(e):
            eta.append((0, 0, 24, 60))
        else:
            when = start + timedelta(seconds=e)
            eta.append((when.month, when.day, when.hour, when.minute))
    statics = encode_statics(
        heard_static.source, sv, heard_static.t_s, heard_static.pass_index,
        is_b=np.asarray(fleet.ais_class)[sv] == "B", mmsi=sent_mmsi(tx, sv, st),
        imo=fleet.imo[sv], callsign=[fleet.callsign[i] for i in sv.tolist()],
        name=sent_names(tx, sv, st), ship_type=fleet.ship_type[sv], length=fleet.length_m[sv],
        beam=fleet.beam_m[sv], draught=fleet.draught_m[sv], destination=dest, eta=eta,
    )  # fmt: skip
    return [positions, statics]
