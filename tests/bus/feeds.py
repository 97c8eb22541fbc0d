"""Input files for the bus tests, and what a store holds, for comparing two stores.

``write_feed`` writes a real-format AIS log (tag blocks with receiver and time, class A
positions from pyais's encoder, static voyage messages, one transmission heard by two
receivers, garbage lines) and a radar contacts file (no MMSI: partitioned by radar).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import duckdb

from tests.ingest.nmea_lines import position, sentences, tagged

__all__ = ["store_content", "write_feed", "write_radar"]

_T0 = 1_735_689_600  # 2025-01-01T00:00:00Z


def write_feed(path: Path, *, lines: int, vessels: int = 60, seed: int = 7, t0: int = _T0) -> Path:
    """An AIS log of about ``lines`` lines; returns ``path``."""
    rng = random.Random(seed)
    mmsis = [rng.randrange(200_000_000, 775_999_999) for _ in range(vessels)]
    out: list[str] = []
    for i in range(lines):
        mmsi = mmsis[i % vessels]
        epoch = t0 + i
        receiver = f"rx{i % 3}"
        if i % 97 == 5:
            out.append(f"!AIVDM,1,1,,A,garbage{i},0*00")
            continue
        if i % 50 == 0:
            for part in sentences(
                {"type": 5, "mmsi": mmsi, "shipname": f"SHIP {mmsi % 1000}", "callsign": "AB12"}
            ):
                out.append(tagged(part, epoch_s=epoch, receiver=receiver))
            continue
        lat = rng.uniform(-60, 60)
        lon = rng.uniform(-170, 170)
        sentence = position(mmsi, round(lat, 4), round(lon, 4))
        out.append(tagged(sentence, epoch_s=epoch, receiver=receiver))
        if i % 11 == 0:  # the same transmission heard by another receiver
            out.append(tagged(sentence, epoch_s=epoch, receiver="rx-other"))
    path.write_text("\n".join(out) + "\n")
    return path


def write_radar(path: Path, *, contacts: int, radars: int = 3) -> Path:
    """A radar contacts file (JSON lines) from ``radars`` radars."""
    rows = []
    for i in range(contacts):
        seconds = i // radars
        rows.append(
            json.dumps(
                {
                    "time": f"2025-01-01T00:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z",
                    "radar": f"IND-radar-{i % radars}",
                    "plot": i,
                    "lat": 18.9 + (i % 100) / 1000,
                    "lon": 72.8 + (i % 37) / 1000,
                }
            )
        )
    rows.append('{"radar": "broken"')
    path.write_text("\n".join(rows) + "\n")
    return path


_QUERIES = {
    "reports": "SELECT * EXCLUDE (seq) FROM reports",
    "receptions": "SELECT * FROM receptions",
    "vessel_latest": "SELECT * EXCLUDE (seq) FROM vessel_latest",
    "vessels": "SELECT * EXCLUDE (seq) FROM vessels",
    "quarantine": "SELECT * EXCLUDE (quarantined_at) FROM quarantine",
}


def store_content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a batch writes, sorted, without arrival-order columns."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name: sorted(
                (tuple(row.values()) for row in con.sql(sql).to_arrow_table().to_pylist()),
                key=repr,
            )
            for name, sql in _QUERIES.items()
        }
    finally:
        con.close()
