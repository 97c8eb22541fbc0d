"""Fusion parts side by side: one fuse process against two, on PostgreSQL + PostGIS.

A node's detectors can be shared out between fuse processes (``[detect] parts``,
``mista.detect.parts``): each fuses every report and runs its own detectors. This replays
a simulated scenario's reports (``--scenario DIR``, ingested first, or taken from a store
an earlier ``mista eval DIR --store S`` filled, ``--store S``) from a PostgreSQL store
(``mista store copy`` of them, fused output cleared) through:

- one process running every detector (the default node), and
- one process per part of ``--parts`` (two by default), started together, and
- the same parts one after the other, each alone on the machine (what each takes with
  cores to itself, as on a node whose database and fuse processes have their own),

each from a fresh copy of the store, and prints wall seconds until every process has
fused every report and closed what was open, and each process's CPU seconds.
It then checks that both runs left the same tracks, track points and alerts. The
temporary PostgreSQL 15 server (``tests/store/pg_server.py``) runs with fsync on.

Run ``.venv/bin/python bench/fuse_parts.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h

REPO = Path(__file__).resolve().parents[1]
#: The split docs/deploy.md suggests: the two costliest detectors beside the tracks.
DEFAULT_PARTS = (
    '[["ais-gap", "close-approach"], ["dark-vessel", "encounter", "identity-change", '
    '"loitering", "port-visit", "shared-mmsi", "spoofing", "zone-entry"]]'
)


def unfused_copy(scenario: Path, store: Path | None, folder: Path) -> Path:
    """A DuckDB store of the scenario's reports with nothing fused."""
    import duckdb

    from mista.evaluate.replay import clear_fusion, replay
    from mista.evaluate.scenario import load_scenario
    from mista.store.embedded import DuckDBStore

    path = folder / "unfused.duckdb"
    if store is not None:
        shutil.copy(store, path)
        DuckDBStore(path).close()  # migrated to this code's schema
    else:
        with DuckDBStore(path) as fresh:
            replay(load_scenario(scenario), fresh, fuse=False)
    with duckdb.connect(str(path)) as con:
        clear_fusion(con)
    return path


def postgres_copy(server: Any, name: str, source: Path) -> str:
    import psycopg

    from mista.store.postgres_admin import copy_to_postgres

    with psycopg.connect(server.admin_url(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE mista")
    url = f"postgresql://mista@127.0.0.1:{server.port}/{name}"
    copy_to_postgres(source, url)
    return url


def fuse_part(url: str, scenario: str, part: int, kinds: list[str] | None, out: Any) -> None:
    """One fuse process: fusion part ``part`` over every report, then finish."""
    from mista.detect.pipeline import Pipeline
    from mista.evaluate.replay import _zones
    from mista.evaluate.scenario import load_scenario
    from mista.store.postgres import PostgresStore

    loaded = load_scenario(Path(scenario))
    started = time.process_time()
    with PostgresStore(url) as store:
        pipeline = Pipeline(
            store,
            node=loaded.node,
            zones=_zones(loaded),
            checkpoint_s=None,
            part=part,
            kinds=kinds,
        )
        total = pipeline.run()
        total.add(pipeline.finish())
    out.put((part, time.process_time() - started, total.reports, total.alerts))


def run(
    url: str, scenario: Path, parts: list[list[str]] | None, first: int = 0
) -> tuple[float, list[Any]]:
    """Wall seconds for every part to finish, and each part's (part, CPU s, reports,
    alert changes); ``parts`` are numbered from ``first``."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    plan = [(0, None)] if parts is None else list(enumerate(parts, first))
    processes = [
        context.Process(target=fuse_part, args=(url, str(scenario), part, kinds, out))
        for part, kinds in plan
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [out.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a fuse process failed (exit {process.exitcode})")
    return time.perf_counter() - started, sorted(results)


def picture(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as con:
        return {
            "tracks": con.execute(
                "SELECT count(*), md5(string_agg(id || ':' || points, ',' ORDER BY id)) FROM tracks"
            ).fetchall(),
            "track_points": con.execute(
                "SELECT count(*), sum(seq), sum(flags) FROM track_points"
            ).fetchall(),
            "alerts": con.execute(
                "SELECT count(*), md5(string_agg(id || ':' || revision || ':' || status || ':' "
                "|| evidence, ',' ORDER BY id)) FROM alerts"
            ).fetchall(),
        }


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(
        __doc__, ".venv/bin/python bench/fuse_parts.py --scenario std --store std.duckdb"
    )
    parser.add_argument("--scenario", type=Path, required=True, help="a mista simulate dir")
    parser.add_argument("--store", type=Path, help="an ingested store of --scenario")
    parser.add_argument(
        "--parts", default=DEFAULT_PARTS, help="the parts, as [detect] parts (JSON)"
    )
    parser.add_argument("--runs", type=int, default=2, help="runs of each (2)")
    args = parser.parse_args(argv)
    from mista.detect.parts import parse_parts

    parts = [list(part) for part in parse_parts(json.loads(args.parts))]
    print("\n".join(h.machine_lines(None)), flush=True)
    sys.path.insert(0, str(REPO))
    from tests.store.pg_server import start_pg

    folder = Path(tempfile.mkdtemp(prefix="mista-bench-parts-"))
    server = start_pg(folder / "pg", durable=True)
    rows: list[list[str]] = []
    try:
        source = unfused_copy(args.scenario, args.store, folder)
        pictures: dict[str, dict[str, Any]] = {}
        for number in range(args.runs):
            plans: list[tuple[str, list[list[str]] | None, bool]] = [
                ("1 process, every detector", None, False),
                (f"{len(parts)} processes at once, one part each", parts, False),
                (f"{len(parts)} parts one at a time (each alone)", parts, True),
            ]
            for label, plan, alone in plans:
                url = postgres_copy(server, f"run{number}_{len(rows)}", source)
                if alone:  # what each part takes with cores to itself: the slowest counts
                    walls, results = [], []
                    for part, kinds in enumerate(parts):
                        part_wall, (result,) = run(url, args.scenario, [kinds], first=part)
                        walls.append(part_wall)
                        results.append(result)
                    wall = max(walls)
                    shown = " / ".join(f"{value:.1f}" for value in walls)
                else:
                    wall, results = run(url, args.scenario, plan)
                    shown = f"{wall:.1f}"
                pictures.setdefault(label, picture(url))
                reports = results[0][2]
                cpu = " / ".join(f"{result[1]:.1f}" for result in results)
                rows.append(
                    [
                        label,
                        h.thousands(reports),
                        shown,
                        h.thousands(reports / wall),
                        cpu,
                        f"{os.getloadavg()[0]:.1f}",
                    ]
                )
                print(f"  {label}: {shown} s, CPU s {cpu}", flush=True)
        print()
        print(
            h.markdown_table(
                ["run", "reports", "wall s", "reports/s", "CPU s per process", "load"],
                rows,
                right={1, 2, 3, 5},
            )
        )
        one, *others = pictures.values()
        same = all(other == one for other in others)
        print(
            "\nwall s of parts one at a time: each part's own; reports/s from the slowest."
            f"\ntracks, track points and alerts of every run: {'the same' if same else 'DIFFERENT'}"
        )
        for table, value in one.items():
            print(f"  {table}: {value[0][0]:,}")
        if not same:
            raise SystemExit(1)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
