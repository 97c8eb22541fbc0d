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

With ``--with-fusion`` (alias ``--fusion-partitions``), five more runs measure the same
end to end into PostgreSQL with fusion, in its two layouts. Each has a fresh database and
``nats-server`` (stream ``PARTS``, 8 partitions) and a node config
(``mista.config.init_node_dir``) naming the store, the bus and ``[intervals] fuse_s = 0.5``
(default ``fuse_batch``); the ingest processes only publish.

- Fusion by partition (one and two ingest processes): ``[detect] partitions =
  [[0,1,2,3],[4,5,6,7]]``; ``mista serve DIR --role fuse --part 0`` is the one store
  writer, taking every partition in the stream's order (it writes, fuses every report for
  the detectors that span vessels, then acknowledges), and ``--part 1`` and ``--part 2``
  fuse their partitions' vessels from the store in whole steps behind it. There is no
  ``mista bus write``.
- Whole fusion, the default layout (one ingest process and one writer; two and one; two
  and two writers ``--partitions 0-3`` / ``4-7``, as the rows without fusion): no
  ``[detect] partitions``; ``mista bus write`` processes write, and one ``mista serve DIR
  --role fuse`` (part 0) fuses every report from the store with every detector and writes
  every track.

The clock starts when the processes are started and stops when (1) every publisher has
finished, (2) group ``store`` has nothing unacknowledged (``JetStreamBus.pending``: every
report committed), and (3) every part has read every report it fuses: once the stream is
drained the reports table no longer changes, so each part's target is fixed, the highest
seq of the reports its feed holds (every report for part 0; for part K, the reports whose
MMSI hashes into its partitions, the store's own ``partition_sql``), and the run ends when
``store.fusion_read(part)`` equals it for every part (0, 1 and 2 by partition; 0 whole).
``fusion_read``, not ``fusion_cursor``: the cursor is the durable one, below the oldest
report the fuser still holds in its reorder buffer, and a finished file leaves its last
seconds there until newer reports come, as a live node would (the lag is printed). Each
process's CPU seconds are its own user + system time (``os.wait4`` when it is reaped;
PostgreSQL's: the postmaster, its reaped and its live children, before and after). At the
end the store must hold as many reports as direct ingest stored, and tracks; a mismatch is
printed with ``!!``. The alerts table is counted by kind (and how many are withdrawn).

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
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


# -- fusion by partition ------------------------------------------------------------------

#: Bus partitions of parts 1 and 2 (of the default 8).
FUSION_PARTITIONS = ((0, 1, 2, 3), (4, 5, 6, 7))
_STOP_GRACE_S = 30.0
_FUSION_TIMEOUT_S = 1800.0


def _reaped(process: subprocess.Popen[bytes], timeout_s: float | None) -> float | None:
    """Wait up to ``timeout_s`` (None: for ever) for ``process`` to end, reap it with
    ``os.wait4`` and return its CPU seconds (user + system); None if it still runs. Never
    ``poll()`` first: that reaps it without its resource usage."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        flags = 0 if deadline is None else os.WNOHANG
        pid, status, usage = os.wait4(process.pid, flags)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return float(usage.ru_utime + usage.ru_stime)
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def stop_measured(process: subprocess.Popen[bytes]) -> float:
    """Stop ``process`` (started here) by its pid: SIGTERM, SIGKILL after 30 s; its CPU s."""
    if process.returncode is not None:
        return 0.0  # reaped already
    cpu = _reaped(process, 0)
    if cpu is None:
        os.kill(process.pid, signal.SIGTERM)
        cpu = _reaped(process, _STOP_GRACE_S)
    if cpu is None:
        os.kill(process.pid, signal.SIGKILL)
        cpu = _reaped(process, None)
    assert cpu is not None
    return cpu


def _ticks(pid: int | str, children: bool = False) -> int:
    """utime + stime (+ cutime + cstime) of a process, in clock ticks; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return sum(int(fields[i]) for i in ((11, 12, 13, 14) if children else (11, 12)))


def postgres_cpu(server: Any) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, the backends it has
    reaped, and its live children (backends, checkpointer, WAL writer, autovacuum)."""
    postmaster = server.process.pid
    ticks = _ticks(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                ticks += int(stat[11]) + int(stat[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def fusion_node(folder: Path, store: str, bus: str, by_partition: bool) -> Path:
    """A node config directory as ``tests/serve/test_roles.py``'s ``node_dir`` makes it:
    ``store``, ``bus``, ``fuse_s = 0.5`` (default ``fuse_batch``); with ``by_partition``,
    ``[detect] partitions`` (fusion by partition), else none (whole fusion: one part 0)."""
    from mista.config import init_node_dir, load_node_config

    directory = folder / "ind"
    init_node_dir(directory, "IND", port=b.free_port(), api_port=b.free_port())
    toml = (directory / "node.toml").read_text()
    toml = toml.replace('store = "store.duckdb"', f'store = "{store}"')
    toml = toml.replace('audit = "audit.jsonl"', f'audit = "audit.jsonl"\nbus = "{bus}"')
    toml = toml.replace("[intervals]\n", "[intervals]\nfuse_s = 0.5\n")
    if by_partition:
        split = ", ".join(f"[{', '.join(map(str, p))}]" for p in FUSION_PARTITIONS)
        toml += f"\n[detect]\npartitions = [{split}]\n"
    (directory / "node.toml").write_text(toml)
    config = load_node_config(directory)
    assert config.bus == bus, config.bus
    assert str(config.store) == store, config.store
    expected = [list(p) for p in FUSION_PARTITIONS] if by_partition else []
    assert [sorted(p.members) for p in config.fusion_partitions] == expected, (
        config.fusion_partitions
    )
    assert len(config.fusion_parts) == (len(FUSION_PARTITIONS) + 1 if by_partition else 1), (
        config.fusion_parts
    )
    return directory


def serve_fuse(directory: Path, part: int | None, log: Path) -> subprocess.Popen[bytes]:
    """``mista serve DIR --role fuse`` (``--part K`` unless ``part`` is None)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISTA_")}
    command = ["mista", "serve", str(directory), "--role", "fuse"]
    if part is not None:
        command += ["--part", str(part)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def fusion_targets(url: str, by_partition: bool) -> dict[int, int]:
    """Per part, the highest seq of the reports its feed holds (0 when none): part 0 reads
    every report; with ``by_partition``, part K the reports of its bus partitions."""
    import psycopg

    from mista.partitions import VesselPartitions, partition_sql

    targets = {}
    with psycopg.connect(url) as con:
        row = con.execute("SELECT coalesce(max(seq), 0) FROM reports").fetchone()
        targets[0] = int(row[0]) if row else 0
        for part, members in enumerate(FUSION_PARTITIONS if by_partition else (), start=1):
            held = partition_sql("mmsi", VesselPartitions(8, frozenset(members)))
            row = con.execute(f"SELECT coalesce(max(seq), 0) FROM reports WHERE {held}").fetchone()
            targets[part] = int(row[0]) if row else 0
    return targets


def alerts_by_kind(url: str) -> dict[str, dict[str, int]]:
    """Kind -> status (open, closed, withdrawn) -> alerts in the store's alerts table."""
    import psycopg

    found: dict[str, dict[str, int]] = {}
    with psycopg.connect(url) as con:
        for kind, status, count in con.execute(
            "SELECT kind, status, count(*) FROM alerts GROUP BY kind, status ORDER BY kind, status"
        ).fetchall():
            found.setdefault(str(kind), {})[str(status)] = int(count)
    return found


def run_fusion(
    server: Any,
    folder: Path,
    name: str,
    files: list[Path],
    writers: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """End to end with fusion (see the module's docstring), a fresh database and
    nats-server, one publisher per file. ``writers`` None: fusion by partition (parts 0, 1
    and 2, no ``mista bus write``); else whole fusion: one ``mista bus write`` per entry
    (its options) and one ``mista serve --role fuse``. Until every part has read every
    report it fuses."""
    from mista.bus.jetstream import JetStreamBus
    from mista.store.postgres import PostgresStore

    by_partition = writers is None
    url = migrated(new_database(server, name))
    run_dir = folder / name
    run_dir.mkdir()
    nats, base = b.start_nats(run_dir)
    bus = f"{base}?stream=PARTS&partitions=8"
    directory = fusion_node(run_dir, url, bus, by_partition)
    logs: dict[str, Path] = {}
    cpu: dict[str, float] = {}
    services: dict[str, subprocess.Popen[bytes]] = {}
    publishers: list[subprocess.Popen[bytes]] = []
    reached: dict[int, float] = {}
    pg_before = postgres_cpu(server)

    def check_alive(what: str) -> None:
        for who, process in services.items():
            if process.returncode is None and (cpu_s := _reaped(process, 0)) is not None:
                cpu[who] = cpu_s
                tail = logs[who].read_text(errors="replace").splitlines()[-12:]
                sys.exit(
                    f"[{name}] {who} ended ({process.returncode}) while waiting for "
                    + what
                    + ":\n"
                    + "\n".join(tail)
                )

    try:
        JetStreamBus.from_url(bus).close()  # the stream, before the race
        started = time.perf_counter()
        if by_partition:
            for part in range(len(FUSION_PARTITIONS) + 1):
                logs[f"part {part}"] = run_dir / f"part{part}.log"
                services[f"part {part}"] = serve_fuse(directory, part, logs[f"part {part}"])
        else:
            for i, options in enumerate(writers or (), start=1):
                logs[f"writer {i}"] = run_dir / f"writer{i}.log"
                services[f"writer {i}"] = b.writer(bus, url, logs[f"writer {i}"], *options)
            logs["fuse"] = run_dir / "fuse.log"
            services["fuse"] = serve_fuse(directory, None, logs["fuse"])
        publishers = [b.publisher(path, bus) for path in files]
        messages, publish_s = 0, 0.0
        for i, process in enumerate(publishers, start=1):
            assert process.stdout is not None
            out = process.stdout.read()
            cpu[f"publisher {i}"] = _reaped(process, None) or 0.0
            if process.returncode:
                sys.exit(f"[{name}] publisher {i} failed with {process.returncode}")
            count, seconds = out.split()
            messages += int(count)
            publish_s = max(publish_s, float(seconds))
        published_at = time.perf_counter() - started
        with JetStreamBus.from_url(bus) as jetstream:
            while True:
                pending = jetstream.pending("store")
                if None not in pending.values() and not any(pending.values()):
                    break
                check_alive("the store group to drain")
                time.sleep(0.05)
            again = jetstream.deliveries("store") - jetstream.stream_messages()
        drained_at = time.perf_counter() - started
        targets = fusion_targets(url, by_partition)
        with PostgresStore(url, read_only=True) as store:
            while len(reached) < len(targets):
                for part, target in targets.items():
                    if part not in reached and store.fusion_read(part) >= target:
                        reached[part] = time.perf_counter() - started
                if time.perf_counter() - started > _FUSION_TIMEOUT_S:
                    sys.exit(
                        f"[{name}] parts {sorted(set(targets) - set(reached))} did not "
                        f"read every report in {_FUSION_TIMEOUT_S:.0f} s"
                    )
                check_alive("fusion")
                time.sleep(0.05)
            wall = time.perf_counter() - started
            lag = {part: targets[part] - store.fusion_cursor(part) for part in targets}
    finally:
        for who, process in services.items():
            cpu.setdefault(who, stop_measured(process))
        for i, process in enumerate(publishers, start=1):
            cpu.setdefault(f"publisher {i}", stop_measured(process))
        cpu["nats-server"] = stop_measured(nats)
        cpu["postgresql"] = postgres_cpu(server) - pg_before
    for who, process in services.items():
        if process.returncode not in (0, -signal.SIGTERM):
            print(f"  !! [{name}] {who} exited with {process.returncode}", flush=True)
    with PostgresStore(url, read_only=True) as store:
        counts = store.counts()
    return {
        "messages": messages,
        "wall_s": wall,
        "publish_s": publish_s,
        "published_at": published_at,
        "drained_at": drained_at,
        "reached": reached,
        "lag": lag,
        "again": again,
        "cpu": cpu,
        "counts": counts,
        "alerts": alerts_by_kind(url),
        "store": url,
    }


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

    fused: list[tuple[str, dict[str, Any]]] = []
    if ARGS.with_fusion:
        for label, files, writers in (
            ("end to end, fusion by partition, 1 ingest process", [timed], None),
            ("end to end, fusion by partition, 2 ingest processes", halves, None),
            ("end to end, whole fusion, 1 ingest process", [timed], ((),)),
            ("end to end, whole fusion, 2 ingest processes", halves, ((),)),
            ("end to end, whole fusion, 2 ingest processes, 2 writers", halves, two_writers),
        ):
            result = run_fusion(server, folder, f"f{len(fused)}", files, writers)
            fused.append((label, result))
            print(
                f"  {label} into postgresql: {result['messages'] / result['wall_s']:,.0f} "
                f"reports/s ({result['wall_s']:.1f} s: published {result['published_at']:.1f}, "
                f"drained {result['drained_at']:.1f}, every part read everything "
                f"{max(result['reached'].values()):.1f}; load average "
                f"{os.getloadavg()[0]:.1f})",
                flush=True,
            )

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
    for label, result in fused:
        counts = result["counts"]
        if counts["reports"] != reports_stored(direct_pg):
            print(
                f"  !! {label}: {counts['reports']:,} reports stored, direct ingest stored "
                f"{reports_stored(direct_pg):,}",
                flush=True,
            )
        if not counts.get("tracks"):
            print(f"  !! {label}: no tracks written ({counts})", flush=True)
        rows.append((label, "postgresql", result["messages"], result["wall_s"]))
    for label, result in fused:
        counts = result["counts"]
        print(
            f"\n{label}: {counts['reports']:,} reports, {counts.get('tracks', 0):,} tracks, "
            f"{counts.get('track_points', 0):,} track points, {counts.get('alerts', 0):,} alerts; "
            f"{result['again']:,} messages delivered twice"
        )
        print(
            "  every report read by part "
            + ", ".join(f"{p} at {s:.1f} s" for p, s in sorted(result["reached"].items()))
            + "; durable cursor behind the last report read (reorder buffer): "
            + ", ".join(f"part {p} {n:,} seqs" for p, n in sorted(result["lag"].items()))
        )
        print(
            "  alerts by kind (withdrawn): "
            + (
                ", ".join(
                    f"{kind} {sum(status.values()):,} ({status.get('withdrawn', 0):,})"
                    for kind, status in result["alerts"].items()
                )
                or "none"
            )
        )
        print(
            "  CPU s: "
            + ", ".join(f"{who} {s:.1f}" for who, s in result["cpu"].items())
            + f"; total {sum(result['cpu'].values()):.1f}",
            flush=True,
        )
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
    parser.add_argument(
        "--with-fusion",
        "--fusion-partitions",
        dest="with_fusion",
        action="store_true",
        help="also end to end with fusion into PostgreSQL, both layouts: by partition "
        "(mista serve --role fuse --part 0/1/2 writing and fusing; 1 and 2 ingest processes) "
        "and whole (mista bus write + one mista serve --role fuse; as the rows without "
        "fusion)",
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
            if args.with_fusion:
                print(
                    "fusion by partition: no mista bus write; part 0 writes every partition "
                    "in the stream's order and fuses every report, parts 1 and 2 fuse their "
                    "vessels from the store; whole fusion: mista bus write as above and "
                    "one mista serve --role fuse (part 0: every report, every detector, every "
                    "track); until, besides, every part has read the highest seq of the "
                    "reports it fuses (reports: messages published)"
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
