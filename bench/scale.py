"""Scale-out, end to end: a file -> ingest -> NATS JetStream -> store writer -> PostgreSQL +
PostGIS, in reports/s, with one and with two ingest processes; and the foundation's three
queries on a PostGIS store of ``--rows`` positions. The embedded default (DuckDB, one
file) is measured beside it in the same run, and the table gives the ratio.

Everything runs on this machine on loopback, in a temporary directory: a real
``nats-server -js`` per run (``bench/bus.py`` starts and stops it by pid) and one
PostgreSQL 15 + PostGIS server for the whole run (``tests/store/pg_server.py``,
PostgreSQL's durable defaults: fsync on; stopped by pid at the end), a fresh database per
run. Ingest processes call ``mista.node.ingest_paths([file], bus=URL)``; writers are
``mista bus write`` processes. The clock of an end-to-end run starts when the processes are
started and stops when every publisher has finished and the writers' consumers have
nothing left unacknowledged (every report committed).

Input of the end-to-end runs: the benchmark corpus (``ais/bench/real_mixed.nmea`` of the
shared data) written ``--copies`` times, a day apart per copy, so every message is a
distinct report (``bench/ingest.py``'s timed input); two ingest processes each read one
half. The query part builds both stores from the real position tracks (``positions/``)
through the store's own ``write``, as ``bench/store_pg.py`` does, and runs the same
seeded queries on both.

Run ``.venv/bin/python bench/scale.py --help``; docs/bus.md and docs/deploy.md have results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h
import bus as b
import queries as q
import store_pg as sp
from ingest import write_timed_copies

REPO = Path(__file__).resolve().parents[1]


def new_database(server: Any, name: str) -> str:
    """A fresh database with PostGIS on the benchmark's server; its URL."""
    import psycopg

    with psycopg.connect(server.admin_url(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE mista")
    return f"postgresql://mista@127.0.0.1:{server.port}/{name}"


def migrated(url: str) -> str:
    """``url`` with the store's schema applied (so writers do not race to migrate)."""
    from mista.store.postgres import PostgresStore

    PostgresStore(url).close()
    return url


def reports_stored(store: str | Path) -> int:
    from mista.node import open_store

    with open_store(store, read_only=True) as db:
        return int(db.counts()["reports"])


def end_to_end(server: Any, folder: Path, copies: int) -> list[list[str]]:
    """The end-to-end rows: DuckDB and PostgreSQL, one and two ingest processes."""
    timed = folder / "timed.nmea"
    write_timed_copies(h.corpus_path(ARGS.data), copies, timed)
    halves = b.split_halves(timed, folder)
    print(f"input   : {timed.stat().st_size / 1e6:.0f} MB, corpus x {copies}, timed", flush=True)
    two_writers = (("--partitions", "0-3"), ("--partitions", "4-7"))
    runs: list[tuple[str, str, dict[str, float], str | Path]] = []

    def run(label: str, backend: str, files: list[Path], writers: Any = ((),)) -> None:
        name = f"e{len(runs)}"
        store: str | Path = folder / f"{name}.duckdb"
        if backend == "postgresql":
            store = migrated(new_database(server, name))
        before = h.cpu_seconds()
        result = b.run_e2e(files, folder, name, store=store, writers=writers)
        result["cpu_s"] = h.cpu_seconds() - before
        runs.append((label, backend, result, store))
        print(
            f"  {label} into {backend}: {result['messages'] / result['wall_s']:,.0f} reports/s "
            f"({result['wall_s']:.1f} s; load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )

    direct = None if ARGS.no_duckdb else b.run_direct(timed, folder)
    direct_pg = new_database(server, "direct")
    from mista.node import ingest_paths

    began = time.perf_counter()
    pg_summary = ingest_paths([timed], store=direct_pg, nation="IND")
    pg_direct_s = time.perf_counter() - began
    print(
        f"  direct ingest into postgresql: {pg_summary.messages / pg_direct_s:,.0f} reports/s "
        f"({pg_direct_s:.1f} s; load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    alone_pg = b.run_halves(timed, folder, store=migrated(new_database(server, "alone")))
    print(
        f"  store writer only into postgresql: {alone_pg['messages'] / alone_pg['write_s']:,.0f} "
        f"reports/s ({alone_pg['write_s']:.1f} s; load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    for label, files in (
        ("end to end, 1 ingest process", [timed]),
        ("end to end, 2 ingest processes", halves),
    ):
        if not ARGS.no_duckdb:
            run(label, "duckdb", files)
        run(label, "postgresql", files)
    run("end to end, 2 ingest processes, 2 writers", "postgresql", halves, two_writers)

    rows: list[tuple[str, str, float, float]] = []
    if direct is not None:
        rows.append(("direct ingest (no bus)", "duckdb", direct["messages"], direct["wall_s"]))
    rows += [
        ("direct ingest (no bus)", "postgresql", pg_summary.messages, pg_direct_s),
        (
            "store writer only (full stream)",
            "postgresql",
            alone_pg["messages"],
            alone_pg["write_s"],
        ),
    ]
    for label, backend, result, store in runs:
        stored = reports_stored(store)
        if stored != reports_stored(direct_pg):
            print(
                f"  !! {label} into {backend}: {stored:,} reports stored, direct ingest stored "
                f"{reports_stored(direct_pg):,}",
                flush=True,
            )
        rows.append((label, backend, result["messages"], result["wall_s"]))
    speed = {(r[0], r[1]): r[2] / r[3] for r in rows}
    out = []
    for label, backend, count, wall in rows:
        duck = speed.get((label, "duckdb"))
        ratio = f"{(count / wall) / duck:.2f}" if backend == "postgresql" and duck else ""
        out.append(
            [label, backend, h.thousands(count), f"{wall:.1f}", h.thousands(count / wall), ratio]
        )
    return out


def queries(server: Any, folder: Path, rows: int, runs: int, seed: int) -> list[list[str]]:
    """The three queries on both stores built from the same ``rows`` positions."""
    from mista.store.embedded import DuckDBStore
    from mista.store.postgres import PostgresStore

    positions = q.load_positions(ARGS.data)
    url = new_database(server, "queries")
    stores: dict[str, Any] = {
        "duckdb": DuckDBStore(folder / "queries.duckdb"),
        "postgresql": PostgresStore(url),
    }
    try:
        for name, store in stores.items():
            sp.build(store, positions, rows, name)
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute("ANALYZE")
            sizes = con.execute(
                "SELECT pg_database_size(current_database()), "
                "(SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                " WHERE inhparent = 'reports'::regclass)"
            ).fetchone()
        duck_bytes = (folder / "queries.duckdb").stat().st_size
        if sizes is not None:
            print(
                f"size    : PostgreSQL database {sizes[0] / 1e9:.2f} GB ({sizes[0] / rows:.0f} "
                f"bytes per position; the reports partitions with their indexes "
                f"{int(sizes[1] or 0) / rows:.0f}); DuckDB file {duck_bytes / 1e9:.2f} GB "
                f"({duck_bytes / rows:.0f} bytes per position)",
                flush=True,
            )
        measured = sp.measure(stores, positions, rows, runs, seed)
    finally:
        for store in stores.values():
            store.close()
    by_query: dict[str, dict[str, list[str]]] = {}
    for query, store_name, p50, p99, returned in measured:
        by_query.setdefault(query, {})[store_name] = [p50, p99, returned]
    out = []
    for query, found in by_query.items():
        duck, pg = found["duckdb"], found["postgresql"]
        out.append(
            [query, duck[0], pg[0], f"{float(pg[0]) / float(duck[0]):.2f}", duck[1], pg[1], pg[2]]
        )
    return out


ARGS: Any = None


def main(argv: list[str] | None = None) -> None:
    global ARGS
    parser = h.new_parser(__doc__, ".venv/bin/python bench/scale.py --copies 4 --rows 10000000")
    parser.add_argument("--copies", type=int, default=4, help="corpus copies end to end (4)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="positions for queries (10M)")
    parser.add_argument("--runs", type=int, default=50, help="runs of each query (50)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the query arguments")
    parser.add_argument("--no-queries", action="store_true", help="end to end only")
    parser.add_argument("--no-e2e", action="store_true", help="queries only")
    parser.add_argument(
        "--no-duckdb", action="store_true", help="end to end into PostgreSQL only (half the time)"
    )
    ARGS = args = parser.parse_args(argv)
    print("\n".join(h.machine_lines(None)))
    version = subprocess.run([b.NATS_BIN, "--version"], capture_output=True, text=True).stdout
    print(
        f"stack   : {version.strip()}, PostgreSQL 15 + PostGIS, nats-py "
        f"{h.package_version('nats-py')}, psycopg {h.package_version('psycopg')}, duckdb "
        f"{h.package_version('duckdb')}, pyarrow {h.package_version('pyarrow')}",
        flush=True,
    )
    sys.path.insert(0, str(REPO))
    from tests.store.pg_server import start_pg

    folder = Path(tempfile.mkdtemp(prefix="mista-bench-scale-"))
    server = start_pg(folder / "pg", durable=True)
    try:
        if not args.no_e2e:
            table = end_to_end(server, folder, args.copies)
            print()
            print(
                h.markdown_table(
                    ["run", "store", "reports", "wall s", "reports/s", "PG / DuckDB"],
                    table,
                    right={2, 3, 4, 5},
                )
            )
            print(
                "\nend to end: from starting the processes until every report is committed "
                "(publishers done, nothing unacknowledged); 8 partitions; one writer unless "
                "said; PostgreSQL with fsync on"
            )
        if not args.no_queries:
            table = queries(server, folder, args.rows, args.runs, args.seed)
            print(
                f"\nqueries : {args.rows:,} positions in each store, {args.runs} runs each, "
                f"seed {args.seed}, load average {os.getloadavg()[0]:.1f}\n"
            )
            print(
                h.markdown_table(
                    [
                        "query",
                        "DuckDB p50 ms",
                        "PG p50 ms",
                        "PG / DuckDB",
                        "DuckDB p99 ms",
                        "PG p99 ms",
                        "rows (median)",
                    ],
                    table,
                    right={1, 2, 3, 4, 5, 6},
                )
            )
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
