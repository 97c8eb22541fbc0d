"""Query latency of mista's DuckDB store holding 10 million positions.

The store is built with the store's own write path: the real MarineCadastre position
tracks in ``positions/`` (New York harbour, Virginia Beach, US coasts; 448,471 rows) are
parsed by ``mista.ingest.positions.position_batches`` and committed batch by batch with
``DuckDBStore.write``, copy after copy, each copy shifted one more week later in time
(positions, vessels and their movements stay real; only the dates move) until ``--rows``
rows are stored. The build's own speed is printed too.

Then three queries run round-robin, ``--runs`` times each (default 100), each run with
different arguments drawn (seeded) from the stored rows, so every answer is non-empty:

- ``positions``: every position in a 0.5 x 0.5 degree box around a stored position, within
  the hour around its time (``store.positions(bbox, since, until, viewer=...)``);
- ``track``: one vessel's positions over one UTC day
  (``store.track(mmsi, since, until, viewer=...)``);
- ``vessels``: the latest state of every vessel (``store.vessels(viewer=...)``).

Times are wall-clock from the call to the Arrow table in hand, on a store opened read-only
as the CLI opens it; p50 and p99 are printed with the rows returned.

Run ``.venv/bin/python bench/queries.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import io
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

import _harness as h
from mista.node import operator_user

COLUMNS = ("mmsi", "timestamp", "lat", "lon", "track_id")
WEEK_S = 7 * 86_400
CHUNK_BYTES = 1 << 22  # what mista's file source hands on per batch
BOX_HALF_DEG = 0.25


def load_positions(data: Path) -> pa.Table:
    """The real position rows of every tracks file, one table."""
    tables = h.read_position_tracks(data, COLUMNS)
    # In time order, as a receiver's archive is written.
    return tables.sort_by([("timestamp", "ascending"), ("mmsi", "ascending")])


def shifted_csv(table: pa.Table, weeks: int) -> bytes:
    """The rows as the CSV file a receiver archive would hold, ``weeks`` weeks later."""
    moved = table.set_column(
        1,
        "timestamp",
        pc.add(table["timestamp"], pa.scalar(weeks * WEEK_S, pa.duration("s"))),
    )
    out = io.BytesIO()
    pcsv.write_csv(moved, out, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return (",".join(COLUMNS) + "\n").encode() + out.getvalue()


def chunked(data: bytes) -> Iterator[bytes]:
    """The bytes in file-source-sized chunks."""
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


def build(store_path: Path, positions: pa.Table, rows: int) -> None:
    """Fill a new store with ``rows`` positions through position_batches and store.write."""
    from mista.ingest.positions import position_batches
    from mista.ingest.rows import SourceContext
    from mista.labels import Label
    from mista.model import SourceKind
    from mista.store.embedded import DuckDBStore

    ctx = SourceContext(
        source="bench-positions",
        originator="USA",
        label=Label.default_for("USA"),
        kind=SourceKind.POSITION_FILE,
    )
    stored = 0
    start = time.perf_counter()
    with DuckDBStore(store_path) as store:
        weeks = 0
        while stored < rows:
            part = positions.slice(0, min(positions.num_rows, rows - stored))
            for batch in position_batches(chunked(shifted_csv(part, weeks)), ctx):
                stored += store.write(batch).reports
            weeks += 1
            print(
                f"  built {stored:,} rows ({weeks} copies), {time.perf_counter() - start:.0f} s",
                flush=True,
            )
        counts = store.counts()
    seconds = time.perf_counter() - start
    size_mb = store_path.stat().st_size / 1e6
    print(
        f"built   : {counts['reports']:,} positions of {counts['vessel_latest']:,} vessels in "
        f"{seconds:.0f} s ({stored / seconds:,.0f} rows/s through position_batches + "
        f"DuckDBStore.write), file {size_mb:,.0f} MB"
    )


def sample_arguments(
    positions: pa.Table, copies: int, runs: int, seed: int
) -> list[tuple[int, datetime, float, float]]:
    """``runs`` stored (mmsi, time, lat, lon) rows, drawn with a fixed seed."""
    rng = random.Random(seed)
    mmsi = positions["mmsi"].to_pylist()
    stamps = positions["timestamp"].to_pylist()
    lats = positions["lat"].to_pylist()
    lons = positions["lon"].to_pylist()
    picks = []
    for _ in range(runs):
        i = rng.randrange(positions.num_rows)
        week = rng.randrange(copies)
        at = stamps[i] + timedelta(seconds=week * WEEK_S)
        picks.append((int(mmsi[i]), at.astimezone(UTC), float(lats[i]), float(lons[i])))
    return picks


def measure(store_path: Path, positions: pa.Table, rows: int, runs: int, seed: int) -> None:
    """Time the three queries round-robin and print p50/p99."""
    from mista.store import BBox
    from mista.store.embedded import DuckDBStore

    # Draw from whole copies only: the last copy may be partial.
    picks = sample_arguments(positions, max(1, rows // positions.num_rows), runs, seed)

    opened = time.perf_counter()
    store = DuckDBStore(store_path, read_only=True)
    open_ms = (time.perf_counter() - opened) * 1000
    # Every query is filtered by the visibility rule, as a user's would be.
    viewer = operator_user("USA")

    def in_box(mmsi: int, at: datetime, lat: float, lon: float) -> pa.Table:
        del mmsi
        box = BBox(
            max(-180.0, lon - BOX_HALF_DEG),
            max(-90.0, lat - BOX_HALF_DEG),
            min(180.0, lon + BOX_HALF_DEG),
            min(90.0, lat + BOX_HALF_DEG),
        )
        return store.positions(
            box, at - timedelta(minutes=30), at + timedelta(minutes=30), viewer=viewer
        )

    def vessel_day(mmsi: int, at: datetime, lat: float, lon: float) -> pa.Table:
        del lat, lon
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return store.track(mmsi, day, day + timedelta(days=1), viewer=viewer)

    def latest(mmsi: int, at: datetime, lat: float, lon: float) -> pa.Table:
        del mmsi, at, lat, lon
        return store.vessels(viewer=viewer)

    queries: dict[str, Callable[[int, datetime, float, float], pa.Table]] = {
        "positions: 0.5 deg box, 1 h": in_box,
        "track: one vessel, one day": vessel_day,
        "vessels: latest per vessel": latest,
    }
    times: dict[str, list[float]] = {name: [] for name in queries}
    returned: dict[str, list[int]] = {name: [] for name in queries}
    with store:
        for query in queries.values():  # warm-up: first touch of the file's pages
            query(*picks[0])
        for args in picks:
            for name, query in queries.items():
                start = time.perf_counter()
                table = query(*args)
                times[name].append((time.perf_counter() - start) * 1000)
                returned[name].append(table.num_rows)
        counts = store.counts()

    print(
        f"store   : {counts['reports']:,} positions, {counts['vessel_latest']:,} vessels; "
        f"opened read-only in {open_ms:.0f} ms"
    )
    print(f"method  : {runs} runs of each query, round-robin, arguments drawn with seed {seed}")
    print()
    rows_out = []
    for name in queries:
        t = times[name]
        r = returned[name]
        rows_out.append(
            [
                name,
                str(len(t)),
                f"{h.percentile(t, 50):.1f}",
                f"{h.percentile(t, 99):.1f}",
                f"{min(t):.1f}",
                f"{max(t):.1f}",
                h.thousands(h.median(r)),
                h.thousands(max(r)),
            ]
        )
    header = [
        "query",
        "runs",
        "p50 ms",
        "p99 ms",
        "min ms",
        "max ms",
        "rows (median)",
        "rows (max)",
    ]
    print(h.markdown_table(header, rows_out, right=set(range(1, 8))))


def remove_store(path: Path) -> None:
    """Delete a store file and its write-ahead log."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, build (or reuse) the store, and time the queries."""
    parser = h.new_parser(
        __doc__,
        ".venv/bin/python bench/queries.py --rows 10000000 --runs 100\n"
        "         .venv/bin/python bench/queries.py --store bench/out/q.duckdb --keep  "
        "# build once, then --reuse",
    )
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="positions in the store (default 10,000,000)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=100,
        help="runs of each query (default 100; at least 50 for a p99)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the query arguments")
    parser.add_argument(
        "--store", type=Path, help="store file to build (default: in a temporary folder, removed)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the --store file afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="query an existing --store built by an earlier --keep run",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="CPU to pin to (default: the last one this process may use)",
    )
    args = parser.parse_args(argv)
    if args.reuse and not (args.store and args.store.exists()):
        parser.error("--reuse needs --store pointing at an existing store")

    cpu = h.pin_to_one_cpu(args.cpu)
    print("\n".join(h.machine_lines(cpu)))
    print(f"stack   : duckdb {h.package_version('duckdb')}, pyarrow {h.package_version('pyarrow')}")
    positions = load_positions(args.data)
    print(
        f"source  : {positions.num_rows:,} real positions from {len(h.POSITION_FILES)} "
        f"MarineCadastre track files, copied with a one-week time shift per copy"
    )
    scratch = None
    if args.store is None:
        scratch = Path(tempfile.mkdtemp(prefix="mista-bench-"))
        store_path = scratch / "bench.duckdb"
    else:
        store_path = args.store
    try:
        if not args.reuse:
            remove_store(store_path)
            build(store_path, positions, args.rows)
        measure(store_path, positions, args.rows, args.runs, args.seed)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        elif not args.keep and not args.reuse:
            remove_store(store_path)


if __name__ == "__main__":
    main()
