"""Fusion by partition with real processes: a real PostgreSQL + PostGIS store, a real
nats-server with JetStream, both on loopback and stopped by pid, and ``mista serve --role
fuse --part K`` processes. The partition parts take their bus partitions through the
store writers' durable pull consumers, write and fuse them; one killed with SIGKILL
mid-batch gets its partition again, in order, and the final store (reports, tracks,
track points, alerts) equals the store of a run without the fault.

What that covers is what the partition parts write. Part 0 finds no alert on this log,
and where it does, what it finds depends on the order in which the parts' commits
interleave, which changes from run to run with or without a fault: a known gap
(``tests/pipeline/test_partitions.py``, the strict xfail; docs/deploy.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from mista.detect.parts import PER_VESSEL
from mista.labels import Level
from mista.model import Role, User
from mista.node import ingest_paths, open_store
from tests.bus.nats_server import NatsServer
from tests.bus.pg import new_database
from tests.serve.test_roles import LOG, fused_picture, node_dir, servers, start, stop
from tests.store.pg_server import PgServer

__all__ = ["servers"]  # the module fixture, shared with test_roles

_WAIT_S = 120.0
_PARTITIONS = 4
_SPLIT = "[[0, 1], [2, 3]]"
_ADMIN = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))


def partitioned_node(root: Path, store: str, bus: str | None) -> Path:
    """A node fusing by partition: part 0 spans vessels, parts 1 and 2 take two bus
    partitions each; steps of 250 reports, a checkpoint every 0.3 s."""
    directory = node_dir(root, store, bus, fuse_batch=250, checkpoint_s=0.3)
    with (directory / "node.toml").open("a") as toml:
        toml.write(f"\n[detect]\npartitions = {_SPLIT}\n")
    return directory


def wait_for(what: str, check: object, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not check():  # type: ignore[operator]
        for process in processes:
            assert process.poll() is None, f"a process ended while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} after {_WAIT_S} s"
        time.sleep(0.05)


def caught_up(log: Path) -> bool:
    return log.exists() and "fuse: caught up" in log.read_text()


def run_node(
    postgres: PgServer, nats: NatsServer, log_file: Path, root: Path, name: str, *, kill: bool
) -> tuple[dict[str, int], list[dict[str, object]], list[dict[str, object]], str]:
    """Publish the log on a stream of its own, run partition parts 1 and 2 until both have
    caught up (with ``kill``, SIGKILL part 1 once it has saved a checkpoint and fused a
    step after it, and start it again), then part 0 alone. Returns the store's counts,
    tracks and alerts, and part 1's log after the kill."""
    url = new_database(postgres, name)
    with open_store(url):  # migrated: the test reads it while the parts start
        pass
    bus = f"{nats.url}?stream={name.upper()}&partitions={_PARTITIONS}"
    published = ingest_paths([log_file], bus=bus, nation="IND")
    assert published.reports > 20_000
    directory = partitioned_node(root, url, bus)
    logs = {part: root / f"part{part}.log" for part in (1, 2)}
    processes = {part: start(directory, "fuse", logs[part], "--part", str(part)) for part in (1, 2)}
    after_kill = ""
    try:
        if kill:

            def mid_run() -> bool:
                with open_store(url, read_only=True) as store:
                    saved = store.fusion_state(1)
                    return saved is not None and store.fusion_read(1) > saved[0]

            wait_for("a checkpoint of part 1", mid_run, list(processes.values()))
            assert not caught_up(logs[1]), "part 1 caught up before the kill"
            os.kill(processes[1].pid, signal.SIGKILL)
            assert processes[1].wait(timeout=30) == -signal.SIGKILL
            logs[1] = root / "part1.restarted.log"
            processes[1] = start(directory, "fuse", logs[1], "--part", "1")
        wait_for(
            "catch-up of parts 1 and 2",
            lambda: all(caught_up(log) for log in logs.values()),
            list(processes.values()),
        )
        after_kill = logs[1].read_text()
    finally:
        for process in processes.values():
            assert stop(process) in (0, -signal.SIGKILL)
    spanning_log = root / "part0.log"
    spanning = start(directory, "fuse", spanning_log, "--part", "0")
    try:
        wait_for("catch-up of part 0", lambda: caught_up(spanning_log), [spanning])
    finally:
        assert stop(spanning) == 0
    with open_store(url, read_only=True) as store:
        counts = store.counts()
    tracks, alerts = fused_picture(url, _ADMIN)
    return counts, tracks, by_report_id(url, alerts), after_kill


def by_report_id(url: str, alerts: list[dict[str, object]]) -> list[dict[str, object]]:
    """The alerts with the report seqs in their evidence as report ids, and the track
    points as (report id, track, flags): seqs number reports in the order they were
    committed, and two parts writing at once interleave their commits differently in
    every run; the content is what must be the same."""
    with psycopg.connect(url) as con:
        ids = {
            seq: f"{hi:016x}{lo:016x}"
            for seq, hi, lo in con.execute("SELECT seq, id_hi, id_lo FROM reports").fetchall()
        }
        points = con.execute(
            "SELECT r.id_hi, r.id_lo, p.track_id, p.flags FROM track_points p "
            "JOIN reports r USING (seq) ORDER BY 1, 2, 3"
        ).fetchall()
    shown: list[dict[str, object]] = [{"points": points}]
    for alert in alerts:
        evidence = json.loads(str(alert["evidence"]))
        if "report_seqs" in evidence:
            evidence["report_seqs"] = sorted(ids[seq] for seq in evidence["report_seqs"])
        shown.append({**alert, "evidence": evidence})
    return shown


@pytest.fixture(scope="module")
def clean_and_killed(
    servers: tuple[PgServer, NatsServer],
    tmp_path_factory: pytest.TempPathFactory,
    shared_data: Path,
) -> dict[str, tuple[dict[str, int], list[dict[str, object]], list[dict[str, object]], str]]:
    postgres, nats = servers
    return {
        name: run_node(
            postgres,
            nats,
            shared_data / LOG,
            tmp_path_factory.mktemp(name),
            f"partfuse_{name}",
            kill=name == "killed",
        )
        for name in ("clean", "killed")
    }


def test_the_killed_part_gets_its_partitions_again_in_order(
    clean_and_killed: dict[str, tuple[dict[str, int], list[object], list[object], str]],
) -> None:
    restarted = clean_and_killed["killed"][3]
    assert "delivering again in order" in restarted
    assert "resumes from its checkpoint" in restarted


def test_a_part_killed_mid_batch_leaves_the_store_of_a_clean_run(
    clean_and_killed: dict[str, tuple[dict[str, int], list[object], list[object], str]],
) -> None:
    clean_counts, clean_tracks, clean_alerts, _ = clean_and_killed["clean"]
    counts, tracks, alerts, _ = clean_and_killed["killed"]
    assert clean_counts["reports"] > 20_000
    assert clean_counts["track_points"] > 0
    assert clean_tracks
    assert clean_alerts
    # The parts' own kinds only: part 0 finds none on this log (see the module's doc).
    assert {str(alert["kind"]) for alert in clean_alerts[1:]} <= set(PER_VESSEL)  # type: ignore[index]
    assert counts == clean_counts
    assert tracks == clean_tracks
    assert alerts == clean_alerts


def test_a_partition_part_refuses_a_bus_of_other_partitions(
    servers: tuple[PgServer, NatsServer], tmp_path: Path
) -> None:
    postgres, nats = servers
    url = new_database(postgres, "partfuse_mismatch")
    bus = f"{nats.url}?stream=MISMATCH&partitions=8"  # the split names 4
    directory = partitioned_node(tmp_path, url, bus)
    done = subprocess.run(
        [sys.executable, "-m", "mista", "serve", str(directory), "--role", "fuse", "--part", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "[detect] partitions names 4 bus partitions, the bus" in done.stderr
    assert "has 8: they must agree" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_whole_node_fusing_by_partition_steps_every_part(
    tmp_path: Path, shared_data: Path
) -> None:
    # mista serve without --role, on DuckDB and without a bus: one process steps part 0
    # and each partition part in turn, each reading its share of the store's reports.
    directory = partitioned_node(tmp_path, "store.duckdb", None)
    toml = (directory / "node.toml").read_text()
    (directory / "node.toml").write_text(
        toml.replace("[intervals]\n", "[intervals]\nstatus_s = 0.3\n")
    )
    shutil.copy(shared_data / LOG, directory / "spool" / "log.nmea")
    log = tmp_path / "node.log"
    process = start(directory, None, log)
    try:
        wait_for(
            "every report fused by part 0",
            lambda: "coast 22,023 stored; fused: 22,023 reports" in log.read_text(),
            [process],
        )
    finally:
        assert stop(process) == 0, log.read_text()
    with open_store(directory / "store.duckdb", read_only=True) as store:
        read = [store.fusion_read(part) for part in range(3)]
        kinds = store.tracks(viewer=_ADMIN).column("kind").to_pylist()
        alerts = store.alerts(viewer=_ADMIN, include_withdrawn=True).to_pylist()
    assert all(read)
    assert read[0] == max(read)  # part 0 read every report, the others their share
    assert set(kinds) == {"ais"}  # the log has no radar
    assert "port-visit" in {alert["kind"] for alert in alerts}  # a partition part's detector


def test_an_ingest_role_publishes_and_the_partition_parts_write_and_fuse(
    servers: tuple[PgServer, NatsServer], tmp_path: Path, shared_data: Path
) -> None:
    # The whole node by role: ingest (a spool source) publishes only; parts 1 and 2 write
    # their partitions and fuse them; part 0 fuses what spans vessels.
    postgres, nats = servers
    url = new_database(postgres, "partfuse_roles")
    with open_store(url):
        pass
    directory = partitioned_node(tmp_path, url, f"{nats.url}?stream=ROLES&partitions=4")
    logs = {name: tmp_path / f"{name}.log" for name in ("ingest", "part0", "part1", "part2")}
    processes = {"ingest": start(directory, "ingest", logs["ingest"])}
    for part in (0, 1, 2):
        processes[f"part{part}"] = start(
            directory, "fuse", logs[f"part{part}"], "--part", str(part)
        )
    try:
        shutil.copy(shared_data / LOG, directory / "spool" / "feed.tmp")
        os.replace(directory / "spool" / "feed.tmp", directory / "spool" / "feed.nmea")

        def all_fused() -> bool:
            with open_store(url, read_only=True) as store:
                if store.counts()["reports"] < 22_023:
                    return False
                last = int(store.report_feed(0, 10**6).column("seq").to_numpy().max())
                return store.fusion_read(0) == last and caught_up(logs["part1"])

        wait_for("every report written and fused", all_fused, list(processes.values()))
        wait_for("part 2 caught up", lambda: caught_up(logs["part2"]), list(processes.values()))
    finally:
        codes = {name: stop(process) for name, process in processes.items()}
    assert set(codes.values()) == {0}, {name: log.read_text() for name, log in logs.items()}
    assert "no store writer here" in logs["ingest"].read_text()
    with open_store(url, read_only=True) as store:
        counts = store.counts()
        kinds = set(store.alerts(viewer=_ADMIN, include_withdrawn=True).column("kind").to_pylist())
    assert counts["reports"] == 22_023
    assert counts["tracks"] > 0
    assert "port-visit" in kinds  # found by a partition part
