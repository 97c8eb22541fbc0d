"""The report feed read whole, page by page, as the fuse role reads it: DuckDB beside
PostgreSQL + PostGIS, and PostgreSQL with its BRIN indexes summarised or not.

A simulated scenario's reports (``--scenario DIR``, ingested first, or taken from a store
an earlier ``mista eval DIR --store S`` filled, ``--store S``) are copied into a fresh
PostgreSQL store (``mista store copy``: rows in index order, then VACUUM), and the whole
feed is read ``--rounds`` times in pages of 20,000 from:

- the DuckDB file;
- the PostgreSQL copy as the copy leaves it (every BRIN range summarised);
- the same copy with every BRIN range of ``reports`` and ``receptions`` unsummarised
  (``brin_desummarize_range``): what a live node's feed met between autovacuum's runs
  before migration 9 made the indexes summarise themselves as their ranges fill.

It prints wall and client CPU seconds per round and checks that every read gave the same
table. The temporary PostgreSQL 15 server (``tests/store/pg_server.py``) runs with fsync on.

Run ``.venv/bin/python bench/feed_read.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h
from fuse_parts import postgres_copy, unfused_copy

REPO = Path(__file__).resolve().parents[1]
PAGE = 20_000


def read_feed(store: Any) -> Any:
    """Every report of the feed, page by page."""
    import pyarrow as pa

    after, pages = 0, []
    while True:
        page = store.report_feed(after, PAGE)
        if page.num_rows == 0:
            break
        pages.append(page)
        after = page.column("seq")[-1].as_py()
    return pa.concat_tables(pages)


def desummarise(url: str) -> int:
    """Unsummarise every range of every BRIN index; how many ranges were."""
    import psycopg

    ranges = 0
    with psycopg.connect(url, autocommit=True) as con:
        indexes = con.execute(
            "SELECT c.oid::regclass::text, t.oid::regclass::text FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'brin' AND c.relkind = 'i'"
        ).fetchall()
        for index, table in indexes:
            row = con.execute(f"SELECT pg_relation_size('{table}') / 8192").fetchone()
            pages = int(row[0]) if row else 0
            per_range = 128  # the default pages_per_range
            for block in range(0, pages, per_range):
                con.execute("SELECT brin_desummarize_range(%s::regclass, %s)", (index, block))
                ranges += 1
    return ranges


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(
        __doc__, ".venv/bin/python bench/feed_read.py --scenario std --store std.duckdb"
    )
    parser.add_argument("--scenario", type=Path, required=True, help="a mista simulate dir")
    parser.add_argument("--store", type=Path, help="an ingested store of --scenario")
    parser.add_argument("--rounds", type=int, default=3, help="reads of each (3)")
    args = parser.parse_args(argv)
    print("\n".join(h.machine_lines(None)), flush=True)
    sys.path.insert(0, str(REPO))
    from tests.store.pg_server import start_pg

    from mista.store.embedded import DuckDBStore
    from mista.store.postgres import PostgresStore

    folder = Path(tempfile.mkdtemp(prefix="mista-bench-feed-"))
    server = start_pg(folder / "pg", durable=True)
    rows: list[list[str]] = []
    tables: list[Any] = []

    def measure(label: str, store: Any) -> None:
        for _ in range(args.rounds):
            cpu, started = h.cpu_seconds(), time.perf_counter()
            tables.append(read_feed(store))
            wall, cpu = time.perf_counter() - started, h.cpu_seconds() - cpu
            reports = tables[-1].num_rows
            rows.append(
                [
                    label,
                    h.thousands(reports),
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    h.thousands(reports / wall),
                ]
            )
            print(f"  {label}: {wall:.2f} s, CPU {cpu:.2f} s", flush=True)

    try:
        source = unfused_copy(args.scenario, args.store, folder)
        with DuckDBStore(source, read_only=True) as duck:
            measure("DuckDB", duck)
        url = postgres_copy(server, "feed", source)
        with PostgresStore(url) as pg:
            measure("PostgreSQL, BRIN summarised", pg)
            ranges = desummarise(url)
            measure(f"PostgreSQL, BRIN unsummarised ({ranges:,} ranges)", pg)
        print()
        print(
            h.markdown_table(
                ["store", "reports", "wall s", "client CPU s", "reports/s"], rows, {1, 2, 3, 4}
            )
        )
        same = all(table.equals(tables[0]) for table in tables[1:])
        print(f"\nevery read gave the same table: {'yes' if same else 'NO'}")
        if not same:
            raise SystemExit(1)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
