"""Writing a scenario directory (layout in ``mista.sim``'s docstring).

Everything written is a function of the scenario's numbers only (sorted keys, fixed
float formats, no wall-clock times), so one seed gives byte-identical files.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from mista.ais.encode import (
    STATIC_B_PART_A_FILL_BITS,
    STATIC_VOYAGE_FILL_BITS,
    encode_position_reports,
    encode_static_b_part_a,
    encode_static_b_part_b,
    encode_static_voyage,
    nmea_lines,
)
from mista.sim.places import ZONES
from mista.sim.sensors import Pass, RadarContacts, Source

__all__ = ["FileEntry", "Messages", "iso", "write_ais_files", "write_radar_files"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
#: Terrestrial and radar files each hold this many seconds.
WINDOW_S = 600


def iso(start: datetime, t_s: float) -> str:
    """A scenario time as ISO 8601 UTC with ``Z`` (whole seconds)."""
    moment = start + timedelta(seconds=float(t_s))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(start: datetime, t_s: float) -> str:
    return (start + timedelta(seconds=float(t_s))).strftime("%Y%m%dT%H%M")


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    source: str
    kind: str
    delivered_s: float
    lines: int


@dataclass(frozen=True, slots=True)
class Messages:
    """Encoded messages heard by the AIS sources, one row each (already in payloads)."""

    source: I64
    t_s: I64
    vessel: I64
    pass_index: I64
    payload: list[str]
    fill: I64
    rank: I64  # order within one (time, vessel): position 0, static 1, 24B 2


def encode_positions(
    source: I64, vessel: I64, t_s: I64, pass_index: I64, *, is_b: npt.NDArray[np.bool_],
    cs: npt.NDArray[np.bool_], mmsi: I64, status: I64, sog: F64, cog: F64, lat: F64, lon: F64,
) -> Messages:  # fmt: skip
    msg_type = np.where(is_b, 18, 1)
    moving = sog > 0.5
    heading = np.where(moving, np.round(cog) % 360, np.round(cog) % 360)
    payloads = encode_position_reports(
        msg_type, mmsi, np.where(is_b, 15, status), np.where(moving, 0, -128),
        np.round(sog, 1), lon, lat, cog, heading, t_s % 60, cs=cs.astype(np.int64),
    )  # fmt: skip
    return Messages(source, t_s, vessel, pass_index, payloads, np.zeros(len(t_s), np.int64),
                    np.zeros(len(t_s), np.int64))  # fmt: skip


def encode_statics(
    source: I64, vessel: I64, t_s: I64, pass_index: I64, *, is_b: npt.NDArray[np.bool_],
    mmsi: I64, imo: I64, callsign: list[str], name: list[str], ship_type: I64,
    length: I64, beam: I64, draught: F64, destination: list[str],
    eta: list[tuple[int, int, int, int]],
) -> Messages:  # fmt: skip
    a = np.flatnonzero(~is_b)
    b = np.flatnonzero(is_b)
    bow = (length * 0.8).astype(np.int64)
    stern = length - bow
    port = beam // 2
    star = beam - port
    eta_a = np.array([eta[i] for i in a.tolist()], np.int64).reshape(-1, 4)
    five = encode_static_voyage(
        mmsi[a], imo[a], _pick(callsign, a), _pick(name, a), ship_type[a], bow[a], stern[a],
        port[a], star[a], eta_a[:, 0], eta_a[:, 1], eta_a[:, 2], eta_a[:, 3], draught[a],
        _pick(destination, a),
    )  # fmt: skip
    part_a = encode_static_b_part_a(mmsi[b], _pick(name, b))
    part_b = encode_static_b_part_b(
        mmsi[b], ship_type[b], "SIM", _pick(callsign, b), bow[b], stern[b], port[b], star[b],
        serial=(mmsi[b] % (1 << 20)),
    )  # fmt: skip
    rows = np.concatenate([a, b, b])
    fill = np.concatenate([
        np.full(len(a), STATIC_VOYAGE_FILL_BITS), np.full(len(b), STATIC_B_PART_A_FILL_BITS),
        np.zeros(len(b), np.int64)]).astype(np.int64)  # fmt: skip
    rank = np.concatenate([np.ones(len(a) + len(b), np.int64), np.full(len(b), 2, np.int64)])
    return Messages(source[rows], t_s[rows], vessel[rows], pass_index[rows],
                    five + part_a + part_b, fill, rank)  # fmt: skip


def _pick(items: list[str], idx: I64) -> list[str]:
    return [items[i] for i in idx.tolist()]


def _join(parts: list[Messages]) -> Messages:
    return Messages(
        source=np.concatenate([p.source for p in parts]),
        t_s=np.concatenate([p.t_s for p in parts]),
        vessel=np.concatenate([p.vessel for p in parts]),
        pass_index=np.concatenate([p.pass_index for p in parts]),
        payload=[s for p in parts for s in p.payload],
        fill=np.concatenate([p.fill for p in parts]),
        rank=np.concatenate([p.rank for p in parts]),
    )


def write_ais_files(
    out: Path,
    start: datetime,
    sources: list[Source],
    passes: list[Pass],
    parts: list[Messages],
) -> list[FileEntry]:
    """One file per source per 10 minutes (terrestrial) or per pass (satellite)."""
    msgs = _join(parts)
    epoch = int(start.timestamp())
    sat_names = _pass_files(start, passes)
    # File key: window for shore sources, pass index for the satellite.
    file_key = np.where(msgs.pass_index >= 0, msgs.pass_index, msgs.t_s // WINDOW_S)
    order = np.lexsort((msgs.rank, msgs.vessel, msgs.t_s, file_key, msgs.source))
    src, key = msgs.source[order], file_key[order]
    cut = np.flatnonzero((np.diff(src) != 0) | (np.diff(key) != 0)) + 1
    bounds = np.concatenate([[0], cut, [len(order)]]).astype(np.int64)
    entries: list[FileEntry] = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi <= lo:
            continue
        rows = order[lo:hi]
        s = sources[int(src[lo])]
        if s.kind == "ais-satellite":
            p = int(key[lo])
            stamp, delivered = sat_names[p], passes[p].delivered_s
        else:
            w = int(key[lo])
            stamp, delivered = _stamp(start, w * WINDOW_S), float((w + 1) * WINDOW_S)
        lines = nmea_lines(
            [msgs.payload[r] for r in rows.tolist()], msgs.fill[rows], s.name,
            msgs.t_s[rows] + epoch,
        )  # fmt: skip
        rel = f"ais/{s.name}/{stamp}.nmea"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        entries.append(FileEntry(rel, s.name, s.kind, delivered, len(lines)))
    return entries


def _pass_files(start: datetime, passes: list[Pass]) -> list[str]:
    """A distinct file stamp per pass (its start minute; a later minute if taken)."""
    used: set[str] = set()
    out: list[str] = []
    for p in passes:
        t = p.start_s
        while (stamp := _stamp(start, t)) in used:
            t += 60.0
        used.add(stamp)
        out.append(stamp)
    return out


def write_radar_files(
    out: Path, start: datetime, sources: list[Source], contacts: RadarContacts
) -> list[FileEntry]:
    """Radar plots as JSON lines, one file per radar per 10 minutes."""
    entries: list[FileEntry] = []
    start64 = np.datetime64(start.replace(tzinfo=None), "ms")
    for i, s in enumerate(sources):
        if s.kind != "radar":
            continue
        sel = np.flatnonzero(contacts.source == i)
        if len(sel) == 0:
            continue
        t = contacts.t_s[sel]
        when = np.datetime_as_string(
            start64 + np.round(t * 1000).astype("timedelta64[ms]"), unit="ms"
        )
        window = (t // WINDOW_S).astype(np.int64)
        plot = np.arange(1, len(sel) + 1)
        text = [
            f'{{"time": "{w}Z", "radar": "{s.name}", "plot": {p}, "lat": {la:.6f}, '
            f'"lon": {lo:.6f}, "range_m": {r:.1f}, "bearing_deg": {b:.1f}, "sigma_m": {g:.1f}}}'
            for w, p, la, lo, r, b, g in zip(
                when.tolist(), plot.tolist(), contacts.lat[sel].tolist(),
                contacts.lon[sel].tolist(), contacts.range_m[sel].tolist(),
                contacts.bearing_deg[sel].tolist(), contacts.sigma_m[sel].tolist(), strict=True)
        ]  # fmt: skip
        cut = np.flatnonzero(np.diff(window) != 0) + 1
        bounds = np.concatenate([[0], cut, [len(sel)]]).tolist()
        for lo, hi in itertools.pairwise(bounds):
            w = int(window[lo])
            rel = f"radar/{s.name}/{_stamp(start, w * WINDOW_S)}.jsonl"
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(text[lo:hi]) + "\n", encoding="utf-8")
            entries.append(FileEntry(rel, s.name, "radar", float((w + 1) * WINDOW_S), hi - lo))
    return entries


def write_sources(out: Path, sources: list[Source]) -> None:
    for s in sources:
        path = out / "sources" / f"{s.name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'name = "{s.name}"\nkind = "{s.kind}"\noriginator = "{s.nation}"\n'
            f'label = "{s.marking}"\n',
            encoding="utf-8",
        )


def write_zones(out: Path) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"id": z.id, "name": z.name, "marking": z.marking},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[list(p) for p in z.ring] + [list(z.ring[0])]],
            },
        }
        for z in ZONES
    ]
    write_json(out / "zones.geojson", {"type": "FeatureCollection", "features": features})


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=False) + "\n" for r in rows), encoding="utf-8")


def write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
