"""Fuser throughput: ``python -m tests.fuse.speed [vessels] [hours]`` on a synthetic
stream (vessels reporting every 60 s on straight lines), or ``python -m tests.fuse.speed
real`` on the shared real US position tracks (time order). Rows are pushed in slices of
10,000 with the shipped land mask. Prints reports per second of ``push`` + ``flush``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from bench._harness import read_position_tracks

from mista.fuse import Fuser
from mista.geo import LandMask
from tests.fuse.builders import FEED_SCHEMA, T0


def synthetic(vessels: int, hours: float, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    steps = int(hours * 60)
    t = T0 + np.arange(steps)[None, :] * 60.0 + rng.uniform(0, 60, (vessels, 1))
    lat0 = rng.uniform(0, 20, (vessels, 1))
    lon0 = rng.uniform(60, 100, (vessels, 1))
    speed = rng.uniform(0, 20, (vessels, 1))
    course = rng.uniform(0, 360, (vessels, 1))
    d = speed * 1852 / 3600 * (t - t[:, :1])
    lat = lat0 + d * np.cos(np.radians(course)) / 111195
    lon = lon0 + d * np.sin(np.radians(course)) / (111195 * np.cos(np.radians(lat0)))
    mmsi = np.repeat(419_000_000 + np.arange(vessels), steps)
    order = np.argsort(t.ravel() + rng.uniform(0, 5, t.size), kind="stable")
    n = t.size
    cols = {
        "seq": pa.array(np.arange(1, n + 1)),
        "label_no": pa.array(np.ones(n, np.int32)),
        "source_kind": pa.array(["ais-terrestrial"] * n),
        "observed_at": pa.array((t.ravel()[order] * 1e6).astype(np.int64)).cast(
            pa.timestamp("us", tz="UTC")
        ),
        "msg_type": pa.array(np.ones(n, np.int16)),
        "mmsi": pa.array(mmsi[order].astype(np.int32)),
        "lat": pa.array(lat.ravel()[order]),
        "lon": pa.array(lon.ravel()[order]),
        "speed_kn": pa.array(np.repeat(speed.ravel(), steps)[order]),
        "course_deg": pa.array(np.repeat(course.ravel(), steps)[order]),
    }
    columns = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in FEED_SCHEMA]
    return pa.Table.from_arrays(columns, schema=FEED_SCHEMA)


def real() -> pa.Table:
    """The shared real position tracks (``../shared/data/positions``) as FEED rows."""
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    tracks = read_position_tracks(data, ["mmsi", "timestamp", "lat", "lon"])
    tracks = tracks.sort_by("timestamp")
    n = tracks.num_rows
    cols = {
        "seq": pa.array(np.arange(1, n + 1)),
        "label_no": pa.array(np.ones(n, np.int32)),
        "source_kind": pa.array(["ais-terrestrial"] * n),
        "observed_at": tracks.column("timestamp").cast(pa.timestamp("us", tz="UTC")),
        "mmsi": tracks.column("mmsi").cast(pa.int32()),
        "lat": tracks.column("lat"),
        "lon": tracks.column("lon"),
    }
    columns = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in FEED_SCHEMA]
    return pa.Table.from_arrays(columns, schema=FEED_SCHEMA)


def main() -> None:
    if sys.argv[1:2] == ["real"]:
        table = real()
    else:
        vessels = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
        hours = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
        table = synthetic(vessels, hours)
    fuser = Fuser(land=LandMask.default())
    fuser.push(table.slice(0, 0))
    start = time.process_time()
    points = 0
    for offset in range(0, table.num_rows, 10_000):
        points += len(fuser.push(table.slice(offset, 10_000)).points)
    points += len(fuser.flush().points)
    cpu = time.process_time() - start
    rate = table.num_rows / cpu
    print(f"{table.num_rows} reports, {points} points, {cpu:.2f} s CPU: {rate:,.0f} reports/s")


if __name__ == "__main__":
    main()
