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

and with ``--partitions`` (as ``[detect] partitions``, e.g. ``[[0,1,2,3],[4,5,6,7]]``),
fusion by partition (``mista.detect.parts``): part 0 over every report (the detectors that
span vessels, dark tracks and radar contacts) and one process per partition part (its
vessels' reports, per-vessel detectors, their AIS tracks), every fuser linking MMSI
changes within a partition only,

- every part at once, and
- each part alone, one after the other,

each from a fresh copy of the store, and prints wall seconds until every process has
fused every report and closed what was open, and each process's CPU seconds.
It then checks that the runs of each layout left the same tracks, track points and
alerts: the detector parts' the whole pipeline's, fusion by partition's its own (it is
not the whole's: a watermark per partition, a track continued across an MMSI change
within a partition only). The
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
from typing import TYPE_CHECKING, Any, NamedTuple

import _harness as h

if TYPE_CHECKING:
    from mista.detect.pipeline import TrackWrites
    from mista.partitions import VesselPartitions

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


class Part(NamedTuple):
    """One fuse process's pipeline: its part number, detectors (None: every one), and
    with fusion by partition its vessels (None: every report), what it writes and the
    fusers' partition count (``FuseConfig(mmsi_partitions=...)``)."""

    part: int
    kinds: tuple[str, ...] | None = None
    partitions: VesselPartitions | None = None
    writes: TrackWrites | None = None
    mmsi_partitions: int = 0


def detector_parts(parts: list[list[str]]) -> list[Part]:
    """The processes of ``[detect] parts``: every one over every report."""
    return [Part(number, tuple(kinds)) for number, kinds in enumerate(parts)]


def partition_parts(partitions: tuple[VesselPartitions, ...]) -> list[Part]:
    """The processes of fusion by partition, as ``mista.serve.runtime.part_pipeline`` and
    ``mista.evaluate.replay.fusion_pipelines`` build them: part 0 spans vessels, then
    one part per entry of ``[detect] partitions``."""
    from mista.detect.parts import partition_part

    plans = [partition_part(part, partitions) for part in range(len(partitions) + 1)]
    return [Part(part, *plan) for part, plan in enumerate(plans)]


def fuse_part(url: str, scenario: str, spec: Part, out: Any) -> None:
    """One fuse process: fusion part ``spec`` over its reports, then finish."""
    from mista.detect.pipeline import Pipeline
    from mista.evaluate.replay import _zones
    from mista.evaluate.scenario import load_scenario
    from mista.fuse import FuseConfig
    from mista.store.postgres import PostgresStore

    loaded = load_scenario(Path(scenario))
    started = time.process_time()
    with PostgresStore(url) as store:
        pipeline = Pipeline(
            store,
            node=loaded.node,
            fuse_config=FuseConfig(mmsi_partitions=spec.mmsi_partitions)
            if spec.mmsi_partitions
            else None,
            zones=_zones(loaded),
            checkpoint_s=None,
            part=spec.part,
            kinds=spec.kinds,
            partitions=spec.partitions,
            writes=spec.writes,
        )
        total = pipeline.run()
        total.add(pipeline.finish())
    out.put((spec.part, time.process_time() - started, total.reports, total.alerts))


def run(url: str, scenario: Path, plan: list[Part]) -> tuple[float, list[Any]]:
    """Wall seconds for every part of ``plan`` (started together) to finish, and each
    part's (part, CPU s, reports, alert changes)."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [
        context.Process(target=fuse_part, args=(url, str(scenario), spec, out)) for spec in plan
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
    parser.add_argument(
        "--partitions",
        help="also fuse by partition: the partition parts, as [detect] partitions (JSON, "
        "e.g. [[0,1,2,3],[4,5,6,7]]); part 0 spans vessels",
    )
    parser.add_argument("--runs", type=int, default=2, help="runs of each (2)")
    args = parser.parse_args(argv)
    from mista.detect.parts import parse_partitions, parse_parts

    parts = [list(part) for part in parse_parts(json.loads(args.parts))]
    by_partition = (
        partition_parts(parse_partitions(json.loads(args.partitions), "--partitions"))
        if args.partitions
        else None
    )
    print("\n".join(h.machine_lines(None)), flush=True)
    sys.path.insert(0, str(REPO))
    from tests.store.pg_server import start_pg

    folder = Path(tempfile.mkdtemp(prefix="mista-bench-parts-"))
    server = start_pg(folder / "pg", durable=True)
    rows: list[list[str]] = []
    try:
        source = unfused_copy(args.scenario, args.store, folder)
        # Each layout's pictures, one per run: the whole pipeline's (one process or
        # detector parts) and fusion by partition's.
        pictures: dict[str, list[dict[str, Any]]] = {}
        whole, partitioned = "whole pipeline", "fusion by partition"
        for number in range(args.runs):
            plans: list[tuple[str, str, list[Part], bool]] = [
                ("1 process, every detector", whole, [Part(0)], False),
                (
                    f"{len(parts)} processes at once, one part each",
                    whole,
                    detector_parts(parts),
                    False,
                ),
                (
                    f"{len(parts)} parts one at a time (each alone)",
                    whole,
                    detector_parts(parts),
                    True,
                ),
            ]
            if by_partition is not None:
                plans += [
                    ("fusion by partition, every part at once", partitioned, by_partition, False),
                    ("fusion by partition, each part alone", partitioned, by_partition, True),
                ]
            for label, layout, plan, alone in plans:
                url = postgres_copy(server, f"run{number}_{len(rows)}", source)
                if alone:  # what each part takes with cores to itself: the slowest counts
                    walls, results = [], []
                    for spec in plan:
                        part_wall, (result,) = run(url, args.scenario, [spec])
                        walls.append(part_wall)
                        results.append(result)
                    wall = max(walls)
                    shown = " / ".join(f"{value:.1f}" for value in walls)
                else:
                    wall, results = run(url, args.scenario, plan)
                    shown = f"{wall:.1f}"
                pictures.setdefault(layout, []).append(picture(url))
                reports = results[0][2]  # part 0 (or every part) reads every report
                read = (
                    " / ".join(h.thousands(result[2]) for result in results)
                    if layout == partitioned
                    else h.thousands(reports)
                )
                cpu = " / ".join(f"{result[1]:.1f}" for result in results)
                rows.append(
                    [
                        label,
                        read,
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
        same = {
            layout: all(other == runs[0] for other in runs[1:]) for layout, runs in pictures.items()
        }
        print(
            "\nwall s of parts one at a time: each part's own; reports/s from the slowest's"
            " and part 0's reports."
        )
        if by_partition is not None:
            print(
                "reports of fusion by partition: each process's (part 0, then partition "
                "parts "
                + ", ".join(
                    f"{spec.part}: {sorted(spec.partitions.members)}"
                    for spec in by_partition
                    if spec.partitions is not None
                )
                + f" of {by_partition[0].mmsi_partitions})."
            )
        for layout in pictures:
            print(
                f"tracks, track points and alerts of every run of the {layout}: "
                f"{'the same' if same[layout] else 'DIFFERENT'}"
            )
        layouts = list(pictures)
        print()
        print(
            h.markdown_table(
                ["table", *layouts],
                [
                    [table] + [f"{pictures[layout][0][table][0][0]:,}" for layout in layouts]
                    for table in pictures[whole][0]
                ],
                right=set(range(1, len(layouts) + 1)),
            )
        )
        if by_partition is not None:
            print(
                "(fusion by partition is not expected to equal the whole pipeline: a "
                "watermark per partition, a track continued across an MMSI change within a "
                "partition only)"
            )
        if not all(same.values()):
            raise SystemExit(1)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
