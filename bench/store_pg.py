"""The foundation's store benchmark on PostgreSQL + PostGIS, beside the embedded DuckDB store.

Both stores are built the same way as ``bench/queries.py`` builds one: the real
MarineCadastre position tracks (``positions/``), parsed by
``mista.ingest.positions.position_batches`` and committed batch by batch with the store's
own ``write`` (PostgreSQL: COPY into staging tables, then the idempotent insert), copy after
copy shifted one week later, until ``--rows`` rows are stored. The time spent inside
``write`` alone is printed too (rows/s of the store, without the parser).

Then the same three queries (``positions`` in a 0.5 degree box and one hour, ``track`` of one
vessel over one day, ``vessels``) run round-robin ``--runs`` times on each store, with the
same seeded arguments, as the node's operator (every query goes through the visibility
filter). p50 and p99 per query and backend are printed as one table.

PostgreSQL: ``--url`` names an existing, EMPTY database (it is migrated); without it a
temporary server is started from the Debian packages (``tests/store/pg_server.py``,
PostgreSQL's durable defaults: fsync on) and stopped at the end.

Run ``.venv/bin/python bench/store_pg.py --help``; docs/postgres.md has the results.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa

import _harness as h
import queries as q
from mista.node import operator_user

REPO = Path(__file__).resolve().parents[1]


def build(store: Any, positions: pa.Table, rows: int, name: str) -> None:
    """Fill ``store`` with ``rows`` positions through position_batches and store.write."""
    from mista.ingest.positions import position_batches
    from mista.ingest.rows import SourceContext
    from mista.labels import Label
    from mista.model import SourceKind

    ctx = SourceContext(
        source="bench-positions",
        originator="USA",
        label=Label.default_for("USA"),
        kind=SourceKind.POSITION_FILE,
    )
    stored = weeks = 0
    in_write = 0.0
    start = time.perf_counter()
    while stored < rows:
        part = positions.slice(0, min(positions.num_rows, rows - stored))
        for batch in position_batches(q.chunked(q.shifted_csv(part, weeks)), ctx):
            began = time.perf_counter()
            stored += store.write(batch).reports
            in_write += time.perf_counter() - began
        weeks += 1
    seconds = time.perf_counter() - start
    print(
        f"built {name:<10}: {stored:,} positions in {seconds:.0f} s "
        f"({stored / seconds:,.0f} rows/s with the parser; {stored / in_write:,.0f} rows/s "
        f"inside store.write)",
        flush=True,
    )


def measure(
    stores: dict[str, Any], positions: pa.Table, rows: int, runs: int, seed: int
) -> list[list[str]]:
    """p50/p99 of the three queries on every store, same arguments."""
    from mista.store import BBox

    picks = q.sample_arguments(positions, max(1, rows // positions.num_rows), runs, seed)
    viewer = operator_user("USA")
    table = []
    for name, store in stores.items():

        def in_box(mmsi: int, at: datetime, lat: float, lon: float, s: Any = store) -> pa.Table:
            del mmsi
            half = q.BOX_HALF_DEG
            box = BBox(
                max(-180.0, lon - half),
                max(-90.0, lat - half),
                min(180.0, lon + half),
                min(90.0, lat + half),
            )
            window = timedelta(minutes=30)
            return s.positions(box, at - window, at + window, viewer=viewer)

        def vessel_day(mmsi: int, at: datetime, lat: float, lon: float, s: Any = store) -> pa.Table:
            del lat, lon
            day = at.replace(hour=0, minute=0, second=0, microsecond=0)
            return s.track(mmsi, day, day + timedelta(days=1), viewer=viewer)

        def latest(mmsi: int, at: datetime, lat: float, lon: float, s: Any = store) -> pa.Table:
            del mmsi, at, lat, lon
            return s.vessels(viewer=viewer)

        calls: dict[str, Callable[[int, datetime, float, float], pa.Table]] = {
            "positions: 0.5 deg box, 1 h": in_box,
            "track: one vessel, one day": vessel_day,
            "vessels: latest per vessel": latest,
        }
        times: dict[str, list[float]] = {query: [] for query in calls}
        returned: dict[str, list[int]] = {query: [] for query in calls}
        for call in calls.values():
            call(*picks[0])  # warm-up
        for args in picks:
            for query, call in calls.items():
                began = time.perf_counter()
                answer = call(*args)
                times[query].append((time.perf_counter() - began) * 1000)
                returned[query].append(answer.num_rows)
        for query in calls:
            t = times[query]
            table.append(
                [
                    query,
                    name,
                    f"{h.percentile(t, 50):.1f}",
                    f"{h.percentile(t, 99):.1f}",
                    h.thousands(h.median(returned[query])),
                ]
            )
    return sorted(table, key=lambda row: row[0])


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(__doc__, ".venv/bin/python bench/store_pg.py --rows 2000000 --runs 100")
    parser.add_argument("--rows", type=int, default=2_000_000, help="positions (default 2M)")
    parser.add_argument("--runs", type=int, default=100, help="runs of each query (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the query arguments")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a temporary server)")
    parser.add_argument("--no-duckdb", action="store_true", help="PostgreSQL only")
    args = parser.parse_args(argv)

    from mista.store.embedded import DuckDBStore
    from mista.store.postgres import PostgresStore

    print("\n".join(h.machine_lines(None)))
    print(
        f"stack   : duckdb {h.package_version('duckdb')}, psycopg "
        f"{h.package_version('psycopg')}, pyarrow {h.package_version('pyarrow')}"
    )
    positions = q.load_positions(args.data)
    scratch = Path(tempfile.mkdtemp(prefix="mista-bench-pg-"))
    server = None
    stores: dict[str, Any] = {}
    try:
        url = args.url
        if url is None:
            sys.path.insert(0, str(REPO))
            from tests.store.pg_server import start_pg

            server = start_pg(scratch, durable=True)
            url = server.url
            print("postgres: a temporary PostgreSQL 15 + PostGIS server (fsync on)")
        if not args.no_duckdb:
            stores["duckdb"] = DuckDBStore(scratch / "bench.duckdb")
        stores["postgresql"] = PostgresStore(url)
        for name, store in stores.items():
            build(store, positions, args.rows, name)
        # Fresh statistics for the planner (autovacuum would gather them in time).
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("ANALYZE")
        rows = measure(stores, positions, args.rows, args.runs, args.seed)
        print(f"\nmethod  : {args.runs} runs of each query, round-robin, seed {args.seed}\n")
        print(
            h.markdown_table(
                ["query", "store", "p50 ms", "p99 ms", "rows (median)"], rows, right={2, 3, 4}
            )
        )
    finally:
        for store in stores.values():
            store.close()
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
