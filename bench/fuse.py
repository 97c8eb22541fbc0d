"""Fusion plus detection as a stream: reports/s on one core, and memory against history.

Two inputs, each replayed in time order in chunks of ``--chunk`` reports (as the pipeline
reads the store):

- ``real``: the MarineCadastre position tracks in ``positions/`` (New York harbour,
  Virginia Beach, US coasts; 448,471 rows), copied ``--copies`` times, each copy one week
  later (vessels and movements stay real, only dates move). Memory is sampled after each
  copy: bounded by active vessels means it stops growing once the first copy's vessels
  retire, however many weeks follow.
- ``scenario``: a directory written by ``mista simulate`` (``--scenario DIR``), ingested
  into a temporary store first (or copied from ``--store S``, one an earlier
  ``mista eval DIR --store S`` filled, to skip the ingest); its feed (AIS, satellite and
  radar) is then replayed. ``--copies 0`` skips the real data.

For each, three figures: ``Fuser.push`` alone, ``Fuser.push`` + ``Detection.update``
(the in-memory work), and the whole ``Pipeline`` (feed read from the store, fusion,
detection, and the one-transaction write of points, tracks and alerts) for the scenario.
CPU seconds are the measure (see ``_harness.cpu_seconds``).

Run ``.venv/bin/python bench/fuse.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import gc
import resource
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import _harness as h
from mista.detect import Detection
from mista.fuse import Fuser

if TYPE_CHECKING:
    from mista.store.embedded import DuckDBStore

COLUMNS = ("mmsi", "timestamp", "lat", "lon")
WEEK_US = 7 * 86_400 * 1_000_000

_FEED_NULLS = {
    "msg_type": pa.int16(),
    "speed_kn": pa.float64(),
    "course_deg": pa.float64(),
    "heading_deg": pa.float64(),
    "nav_status": pa.int16(),
    "imo": pa.int32(),
    "name": pa.string(),
    "callsign": pa.string(),
    "ship_type": pa.int16(),
    "destination": pa.string(),
    "draught_m": pa.float64(),
    "to_bow_m": pa.int16(),
    "to_stern_m": pa.int16(),
    "to_port_m": pa.int16(),
    "to_starboard_m": pa.int16(),
    "receiver": pa.string(),
}


def real_feed(data: Path, copies: int) -> Iterator[pa.Table]:
    """The real position rows as FEED tables, one per weekly copy, in time order."""
    rows = h.read_position_tracks(data, COLUMNS).sort_by(
        [("timestamp", "ascending"), ("mmsi", "ascending")]
    )
    n = rows.num_rows
    utc_us = pa.timestamp("us", tz="UTC")
    micros = pc.cast(pc.cast(rows.column("timestamp"), utc_us), pa.int64())
    # Each copy starts a week after the previous one ends (the files span June to December).
    low, high = pc.min_max(micros).values()
    shift_us = ((high.as_py() - low.as_py()) // WEEK_US + 2) * WEEK_US
    for copy in range(copies):
        times = pc.add(micros, copy * shift_us)
        columns: dict[str, pa.Array | pa.ChunkedArray] = {
            "seq": pa.array(np.arange(copy * n + 1, (copy + 1) * n + 1, dtype=np.int64)),
            "id": pa.array([f"{copy:08x}{i:024x}" for i in range(n)], pa.string()),
            "label_no": pa.array(np.ones(n, np.int32)),
            "originator": pa.array(["USA"] * n, pa.string()),
            "source_kind": pa.array(["position-file"] * n, pa.string()),
            "observed_at": pc.cast(times, pa.timestamp("us", tz="UTC")),
            "mmsi": pc.cast(rows.column("mmsi"), pa.int32()),
            "lat": rows.column("lat"),
            "lon": rows.column("lon"),
        }
        table = pa.table(columns)
        for name, kind in _FEED_NULLS.items():
            table = table.append_column(name, pa.nulls(n, kind))
        yield table


def chunks(table: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, size):
        yield table.slice(start, size)


def rss_mb() -> float:
    """This process's current resident set size in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_real(data: Path, copies: int, chunk: int) -> list[list[str]]:
    rows: list[list[str]] = []
    for with_detection in (False, True):
        fuser = Fuser()
        detection = Detection() if with_detection else None
        total = 0
        cpu = 0.0
        samples = []
        gc.collect()
        for copy, feed in enumerate(real_feed(data, copies), 1):
            start = h.cpu_seconds()
            for part in chunks(feed, chunk):
                fused = fuser.push(part)
                if detection is not None:
                    detection.update(fused, fuser)
                total += part.num_rows
            cpu += h.cpu_seconds() - start
            samples.append(f"{rss_mb():,.0f}")
            print(f"  copy {copy}: {total:,} reports, {len(fuser.tracks()):,} active tracks")
        start = h.cpu_seconds()
        fused = fuser.flush()
        if detection is not None:
            detection.update(fused, fuser)
            detection.finish(fused.watermark, fuser)
        cpu += h.cpu_seconds() - start
        what = "fuse + detect" if with_detection else "fuse"
        rows.append(
            [
                f"real positions x{copies}",
                what,
                h.thousands(total),
                h.thousands(total / cpu),
                " / ".join(samples),
            ]
        )
    return rows


def run_scenario(directory: Path, chunk: int, store: Path | None = None) -> list[list[str]]:
    from mista.detect.pipeline import Pipeline
    from mista.evaluate.replay import replay
    from mista.evaluate.scenario import load_scenario
    from mista.store.embedded import DuckDBStore

    scenario = load_scenario(directory)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="mista-bench-fuse-") as scratch:
        path = Path(scratch) / "store.duckdb"
        if store is not None:
            shutil.copyfile(store, path)
        with DuckDBStore(path) as db:
            if store is None:
                # Ingest only: a pipeline that is never run leaves the cursor at 0.
                summary = replay(scenario, db, fuse=False)
                print(f"  ingested {summary.reports:,} reports in {summary.ingest_s:.1f} s")
            else:
                _clear_fusion(db)
            feed = []
            cursor = 0
            while True:
                part = db.report_feed(cursor, chunk)
                if part.num_rows == 0:
                    break
                feed.append(part)
                cursor = int(pc.max(part.column("seq")).as_py())
        total = sum(part.num_rows for part in feed)
        for with_detection in (False, True):
            fuser = Fuser()
            detection = Detection() if with_detection else None
            before = rss_mb()
            start = h.cpu_seconds()
            for part in feed:
                fused = fuser.push(part)
                if detection is not None:
                    detection.update(fused, fuser)
            fused = fuser.flush()
            if detection is not None:
                detection.update(fused, fuser)
                detection.finish(fused.watermark, fuser)
            cpu = h.cpu_seconds() - start
            grown = rss_mb() - before
            what = "fuse + detect" if with_detection else "fuse"
            rows.append(
                [
                    f"scenario {directory.name}",
                    what,
                    h.thousands(total),
                    h.thousands(total / cpu),
                    f"+{grown:,.0f} (RSS growth)",
                ]
            )
        with DuckDBStore(path) as db:
            pipeline = Pipeline(db, node=scenario.node, batch_reports=chunk)
            start = h.cpu_seconds()
            result = pipeline.run()
            pipeline.finish()
            cpu = h.cpu_seconds() - start
        rows.append(
            [
                f"scenario {directory.name}",
                "pipeline (store → fuse → detect → store)",
                h.thousands(result.reports),
                h.thousands(result.reports / cpu),
                f"{rss_mb():,.0f}",
            ]
        )
    return rows


def _clear_fusion(db: DuckDBStore) -> None:
    """Forget what an earlier fusion wrote (as ``mista eval --fusion-only`` does)."""
    con = db.connection
    con.begin()
    # fusion_state too: a checkpoint this code wrote would resume at the feed's end.
    for table in ("track_points", "tracks", "alert_changes", "alerts", "fusion_state"):
        con.execute(f"DELETE FROM {table}")
    con.execute("UPDATE fusion_cursor SET seq = 0, read_seq = 0")
    con.commit()


def main() -> None:
    parser = h.new_parser(__doc__, "bench/fuse.py --copies 4 --scenario scenario")
    parser.add_argument("--copies", type=int, default=4, help="weekly copies of the real data")
    parser.add_argument("--chunk", type=int, default=20_000, help="reports per push")
    parser.add_argument("--scenario", type=Path, help="a mista simulate directory")
    parser.add_argument("--store", type=Path, help="an ingested store of --scenario (no ingest)")
    parser.add_argument("--cpu", type=int, help="CPU to pin to (default: the last one)")
    args = parser.parse_args()
    pinned = h.pin_to_one_cpu(args.cpu)
    for line in h.machine_lines(pinned):
        print(line)
    rows = run_real(args.data, args.copies, args.chunk) if args.copies > 0 else []
    if args.scenario is not None:
        rows += run_scenario(args.scenario, args.chunk, args.store)
    print()
    print(
        h.markdown_table(
            ["input", "work", "reports", "reports/s (CPU)", "memory MB"],
            rows,
            right={2, 3},
        )
    )


if __name__ == "__main__":
    main()
