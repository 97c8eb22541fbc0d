"""Fusion by partition with real processes: a real PostgreSQL + PostGIS store, a real
nats-server with JetStream, both on loopback and stopped by pid, and ``mista serve --role
fuse --part K`` processes. Fuse part 0 is the one store writer: it takes every bus
partition through the store writers' durable pull consumers in the stream's order, writes,
fuses every report and acknowledges; parts 1 and 2 fuse their partitions' vessels from the
store in whole steps behind it. Part 0 killed with SIGKILL mid-batch gets its partitions
again, in order; part 1 killed resumes from its checkpoint; either way the final store
(reports, tracks, track points, alerts of every part) equals the store of a run without
the fault. The input is a small simulated scenario (AIS and radar, 4 h, 300 vessels), on
which part 0 finds alerts of its own (dark vessels, a close approach, an identity
change) as well as the partition parts theirs."""

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

from mista.bus.jetstream import DEFAULT_LAG_GROUP, JetStreamBus
from mista.detect.parts import PER_VESSEL, SPANNING
from mista.labels import Level
from mista.model import Role, User
from mista.node import ingest_paths, open_store
from mista.partitions import VesselPartitions
from mista.sim import simulate
from tests.bus.nats_server import NatsServer
from tests.bus.pg import new_database
from tests.serve.test_roles import LOG, fused_picture, node_dir, servers, start, stop
from tests.store.pg_server import PgServer

__all__ = ["servers"]  # the module fixture, shared with test_roles

_WAIT_S = 120.0
_PARTITIONS = 4
_SPLIT = ([0, 1], [2, 3])
_ADMIN = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))
Run = tuple[dict[str, int], list[dict[str, object]], list[dict[str, object]], str]


def partitioned_node(root: Path, store: str, bus: str | None) -> Path:
    """A node fusing by partition: part 0 spans vessels, parts 1 and 2 take two bus
    partitions each; steps of 100 reports, a checkpoint every 2 s. A partition part steps
    as often as part 0 writes a step's worth of its vessels (every 0.6 s or so here);
    with checkpoints as frequent as its steps, each step would save one and leave no
    step after a checkpoint to kill it in."""
    directory = node_dir(root, store, bus, fuse_batch=100, checkpoint_s=2.0)
    with (directory / "node.toml").open("a") as toml:
        toml.write(f"\n[detect]\npartitions = {[list(p) for p in _SPLIT]}\n")
    return directory


def wait_for(what: str, check: object, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not check():  # type: ignore[operator]
        for process in processes:
            assert process.poll() is None, f"a process ended while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} after {_WAIT_S} s"
        time.sleep(0.05)


def every_part_read_to_the_end(url: str, bus_url: str) -> bool:
    """Part 0 has committed everything the bus holds, and every part has read the last
    report it fuses (part 0 every report, part K those of its partitions)."""
    with JetStreamBus.from_url(bus_url) as bus:
        if not bus.drained(DEFAULT_LAG_GROUP):
            return False
    with open_store(url, read_only=True) as store:
        shares = [None, *(VesselPartitions(_PARTITIONS, frozenset(p)) for p in _SPLIT)]
        for part, share in enumerate(shares):
            seqs = store.report_feed(0, 10**7, partitions=share).column("seq")
            if len(seqs) == 0 or store.fusion_read(part) != max(seqs.to_pylist()):
                return False
    return True


@pytest.fixture(scope="module")
def scenario_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A small simulated scenario's AIS and radar files, in the order of their times."""
    out = tmp_path_factory.mktemp("scenario") / "small"
    simulate(out, hours=4, vessels=300, seed=11)
    files = [p for kind in ("ais", "radar") for p in (out / kind).glob("*/*")]
    return sorted(files, key=lambda p: (p.name, p.parent.name))


def run_node(
    postgres: PgServer, nats: NatsServer, files: list[Path], root: Path, name: str, *, kill: int
) -> Run:
    """Publish ``files`` on a stream of its own, run fuse parts 0, 1 and 2 until every
    part has read to the end (with ``kill`` >= 0, SIGKILL that part once it has saved a
    checkpoint and fused a step after it, and start it again). Returns the store's counts,
    tracks and alerts, and the log of the part killed, after the kill."""
    url = new_database(postgres, name)
    with open_store(url):  # migrated: the test reads it while the parts start
        pass
    bus = f"{nats.url}?stream={name.upper()}&partitions={_PARTITIONS}"
    ingest_paths(files, bus=bus, nation="IND")
    directory = partitioned_node(root, url, bus)
    logs = {part: root / f"part{part}.log" for part in (0, 1, 2)}
    processes = {part: start(directory, "fuse", logs[part], "--part", str(part)) for part in logs}
    after_kill = ""
    try:
        if kill >= 0:

            def mid_run() -> bool:
                with open_store(url, read_only=True) as store:
                    saved = store.fusion_state(kill)
                    return saved is not None and store.fusion_read(kill) > saved[0]

            def drained() -> bool:
                with JetStreamBus.from_url(bus) as jetstream:
                    return jetstream.drained(DEFAULT_LAG_GROUP)

            # Mid-run: a step fused after a checkpoint, and part 0 still writing (so the
            # part killed has more to fuse after it starts again).
            wait_for(
                f"a step of part {kill} after a checkpoint, or the bus drained",
                lambda: drained() or mid_run(),
                list(processes.values()),
            )
            assert not drained(), f"part 0 wrote everything before part {kill} was mid-run"
            os.kill(processes[kill].pid, signal.SIGKILL)
            assert processes[kill].wait(timeout=30) == -signal.SIGKILL
            logs[kill] = root / f"part{kill}.restarted.log"
            processes[kill] = start(directory, "fuse", logs[kill], "--part", str(kill))
            wait_for(
                f"part {kill} started again",
                lambda: logs[kill].exists() and "fuse role of IND" in logs[kill].read_text(),
                list(processes.values()),
            )
        wait_for(
            "every part read to the end",
            lambda: every_part_read_to_the_end(url, bus),
            list(processes.values()),
        )
        if kill >= 0:
            after_kill = logs[kill].read_text()
    finally:
        codes = {part: stop(process) for part, process in processes.items()}
    assert set(codes.values()) == {0}, {part: log.read_text() for part, log in logs.items()}
    with open_store(url, read_only=True) as store:
        counts = store.counts()
    tracks, alerts = fused_picture(url, _ADMIN)
    return counts, tracks, by_report_id(url, alerts), after_kill


def by_report_id(url: str, alerts: list[dict[str, object]]) -> list[dict[str, object]]:
    """The alerts with the report seqs in their evidence as report ids, and the track
    points as (report id, track, flags): what must be the same is the content, not the
    numbers a store gives its rows."""
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
def runs(
    servers: tuple[PgServer, NatsServer],
    tmp_path_factory: pytest.TempPathFactory,
    scenario_files: list[Path],
) -> dict[str, Run]:
    postgres, nats = servers
    faults = {"clean": -1, "part0_killed": 0, "part1_killed": 1}
    return {
        name: run_node(
            postgres, nats, scenario_files, tmp_path_factory.mktemp(name), f"pf_{name}", kill=kill
        )
        for name, kill in faults.items()
    }


def test_part_0_killed_gets_its_partitions_again_in_order(runs: dict[str, Run]) -> None:
    restarted = runs["part0_killed"][3]
    assert "delivering again in order" in restarted
    assert "resumes from its checkpoint" in restarted


def test_part_1_killed_resumes_from_its_checkpoint(runs: dict[str, Run]) -> None:
    assert "resumes from its checkpoint" in runs["part1_killed"][3]


@pytest.mark.parametrize("fault", ["part0_killed", "part1_killed"])
def test_a_part_killed_mid_batch_leaves_the_store_of_a_clean_run(
    runs: dict[str, Run], fault: str
) -> None:
    clean_counts, clean_tracks, clean_alerts, _ = runs["clean"]
    counts, tracks, alerts, _ = runs[fault]
    assert clean_counts["reports"] > 5_000
    assert clean_counts["track_points"] > 0
    assert clean_tracks
    kinds = {str(alert["kind"]) for alert in clean_alerts[1:]}
    assert kinds & set(SPANNING)  # part 0's alerts are compared too
    assert kinds & set(PER_VESSEL)
    assert counts == clean_counts
    assert tracks == clean_tracks
    assert alerts == clean_alerts


@pytest.mark.parametrize("part", [0, 1])
def test_a_fuse_part_refuses_a_bus_of_other_partitions(
    servers: tuple[PgServer, NatsServer], tmp_path: Path, part: int
) -> None:
    postgres, nats = servers
    url = new_database(postgres, f"partfuse_mismatch{part}")
    bus = f"{nats.url}?stream=MISMATCH{part}&partitions=8"  # the split names 4
    directory = partitioned_node(tmp_path, url, bus)
    command = ["mista", "serve", str(directory), "--role", "fuse", "--part", str(part)]
    done = subprocess.run(
        [sys.executable, "-m", *command],
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


def test_an_ingest_role_publishes_fuse_part_0_writes_and_every_part_fuses(
    servers: tuple[PgServer, NatsServer], tmp_path: Path, shared_data: Path
) -> None:
    # The whole node by role: ingest (a spool source) publishes only; part 0 writes every
    # partition and fuses what spans vessels; parts 1 and 2 fuse their partitions' vessels.
    postgres, nats = servers
    url = new_database(postgres, "partfuse_roles")
    with open_store(url):
        pass
    bus = f"{nats.url}?stream=ROLES&partitions=4"
    directory = partitioned_node(tmp_path, url, bus)
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
            return every_part_read_to_the_end(url, bus)

        wait_for("every report written and fused", all_fused, list(processes.values()))
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
