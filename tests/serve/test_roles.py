"""``mista serve --role``: a node as three processes (ingest, fuse, api) on one real
PostgreSQL + PostGIS store and one real NATS JetStream bus, all on loopback, each stopped
by its pid; and the roles that must refuse to start, refusing with a reason."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mista.config import init_node_dir, load_node_config
from mista.labels import Level
from mista.model import Role, User
from mista.node import add_user, ingest_paths, issue_token, open_store
from tests.bus.nats_server import NatsServer, start_nats
from tests.bus.pg import new_database, pg_or_skip
from tests.serve.nodes import (
    Cluster,
    agreement_toml,
    free_port,
    nmea_position,
    reports,
    write_spool,
)
from tests.store.pg_server import PgServer

#: 22,023 reports of 2,234 vessels over 1.9 h: long enough for fusion to write tracks
#: (it holds back the last 10 minutes, its reorder window).
LOG = "ais/raw/amsa_risky_ais.nmea"
_WAIT_S = 90.0
#: Track points stored, track points stored when it was killed, tracks, alerts.
Picture = tuple[int, int | None, list[dict[str, object]], list[dict[str, object]]]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PgServer, NatsServer]]:
    postgres = pg_or_skip(tmp_path_factory.mktemp("postgres"))
    try:
        nats = start_nats(tmp_path_factory.mktemp("nats"))
        try:
            yield postgres, nats
        finally:
            nats.stop()
    finally:
        postgres.stop()


def node_dir(
    root: Path,
    store: str,
    bus: str | None,
    *,
    fuse_batch: int = 20_000,
    checkpoint_s: float = 60,
    parts: str | None = None,
) -> Path:
    """A node config directory naming ``store`` and ``bus``, with one spool source (and
    fusion ``parts``, a TOML list of lists, when given)."""
    directory = root / "ind"
    init_node_dir(directory, "IND", port=free_port(), api_port=free_port())
    toml = (directory / "node.toml").read_text()
    toml = toml.replace('store = "store.duckdb"', f'store = "{store}"')
    if bus is not None:
        toml = toml.replace('audit = "audit.jsonl"', f'audit = "audit.jsonl"\nbus = "{bus}"')
    toml = toml.replace(
        "[intervals]\n",
        f"[intervals]\nspool_poll_s = 0.1\nfuse_s = 0.5\nfuse_batch = {fuse_batch}\n"
        f"checkpoint_s = {checkpoint_s}\n",
    )
    if parts is not None:
        toml += f"\n[detect]\nparts = {parts}\n"
    (directory / "node.toml").write_text(toml)
    (directory / "sources" / "coast.toml").write_text('name = "coast"\nurl = "spool:../spool"\n')
    (directory / "spool").mkdir()
    return directory


def start(directory: Path, role: str | None, log: Path, *more: str) -> subprocess.Popen[bytes]:
    """``mista serve DIRECTORY --role ROLE`` (every role in one process when ``role`` is
    None), its output into ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISTA_")}
    roles = [] if role is None else ["--role", role]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mista", "serve", str(directory), *roles, *more],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            return process.wait(timeout=10)
    return process.returncode


def test_three_roles_make_the_picture_one_process_makes(
    servers: tuple[PgServer, NatsServer], tmp_path: Path, shared_data: Path
) -> None:
    postgres, nats = servers
    url = new_database(postgres, "roles")
    directory = node_dir(tmp_path, url, nats.url)
    admin = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))
    add_user(url, admin)
    token = issue_token(url, admin.name)
    # The same log into a DuckDB store in this process: the answer to compare with.
    expected_path = tmp_path / "expected.duckdb"
    ingest_paths([shared_data / LOG], store=expected_path, nation="IND")
    with open_store(expected_path, read_only=True) as expected_store:
        expected_vessels = {
            row["mmsi"]
            for row in expected_store.vessels(viewer=admin).to_pylist()
            if row["label"] is not None
        }
        expected_reports = expected_store.counts()["reports"]
    assert expected_vessels

    logs = {role: tmp_path / f"{role}.log" for role in ("ingest", "fuse", "api")}
    processes = {role: start(directory, role, log) for role, log in logs.items()}
    try:
        api_port = load_node_config(directory).api.port
        base = f"http://127.0.0.1:{api_port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}
        shutil.copy(shared_data / LOG, directory / "spool" / "feed.tmp")
        os.replace(directory / "spool" / "feed.tmp", directory / "spool" / "feed.nmea")

        def answer(path: str) -> dict[str, object] | None:
            try:
                response = httpx.get(base + path, headers=headers, timeout=10)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 200 else None

        deadline = time.monotonic() + _WAIT_S
        vessels: set[int] = set()
        tracks = 0
        while time.monotonic() < deadline:
            for role, process in processes.items():
                assert process.poll() is None, f"{role} exited:\n{logs[role].read_text()}"
            listed = answer("/vessels")
            fused = answer("/tracks")
            if listed is not None and fused is not None:
                vessels = {vessel["mmsi"] for vessel in listed["vessels"]}  # type: ignore[attr-defined]
                tracks = int(fused["count"])  # type: ignore[call-overload]
                if vessels == expected_vessels and tracks > 0:
                    break
            time.sleep(0.5)
        assert vessels == expected_vessels, "\n".join(p.read_text() for p in logs.values())
        assert tracks > 0
    finally:
        codes = {role: stop(process) for role, process in processes.items()}
    assert codes == {"ingest": 0, "fuse": 0, "api": 0}, {r: p.read_text() for r, p in logs.items()}
    with open_store(url, read_only=True) as stored:
        assert stored.counts()["reports"] == expected_reports
        assert stored.fusion_cursor() > 0


@pytest.mark.parametrize(
    ("role", "store", "says"),
    [
        ("fuse", "store.duckdb", "has one writing process"),
        ("share", "store.duckdb", "has one writing process"),
    ],
)
def test_a_role_that_cannot_run_says_why(tmp_path: Path, role: str, store: str, says: str) -> None:
    directory = node_dir(tmp_path, store, None)
    done = subprocess.run(
        [sys.executable, "-m", "mista", "serve", str(directory), "--role", role],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def fused_picture(
    url: str, viewer: User
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Every track and alert (withdrawn ones too) of the store at ``url``."""
    with open_store(url, read_only=True) as store:
        tracks = store.tracks(viewer=viewer).to_pylist()
        alerts = store.alerts(viewer=viewer, include_withdrawn=True).to_pylist()
    return tracks, alerts


def fuse_until_caught_up(
    directory: Path, url: str, log: Path, *, kill_when_fusing: bool = False
) -> int | None:
    """Run the fuse role until it logs that it has caught up; with ``kill_when_fusing``,
    SIGKILL it as soon as it has stored track points, saved a checkpoint and written a
    step after it (so the restarted process fuses some reports again), and start it
    again. Returns the number of track points stored when it was killed."""
    killed_at: int | None = None
    process = start(directory, "fuse", log)
    try:
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            if kill_when_fusing:
                with open_store(url, read_only=True) as store:
                    saved = store.fusion_state()
                    past_it = saved is not None and store.fusion_read() > saved[0]
                    past_it = past_it and store.counts()["track_points"] > 0
                if past_it:
                    os.kill(process.pid, signal.SIGKILL)
                    assert process.wait(timeout=30) == -signal.SIGKILL
                    with open_store(url, read_only=True) as store:
                        killed_at = store.counts()["track_points"]
                    kill_when_fusing = False
                    log = log.with_suffix(".restarted.log")
                    process = start(directory, "fuse", log)
                    continue
            elif "fuse: caught up" in log.read_text():
                if killed_at is not None:  # it went on from the checkpoint, not afresh
                    assert "resumes from its checkpoint" in log.read_text(), log.read_text()
                return killed_at
            time.sleep(0.1)
        raise AssertionError(f"fusion never caught up:\n{log.read_text()}")
    finally:
        assert stop(process) in (0, -signal.SIGKILL)


@pytest.fixture(scope="module")
def killed_and_clean(
    servers: tuple[PgServer, NatsServer],
    tmp_path_factory: pytest.TempPathFactory,
    shared_data: Path,
) -> dict[str, Picture]:
    """The same log fused by the fuse role twice: once cleanly, once SIGKILLed mid-run and
    started again. Per run: track points stored, track points stored at the kill, tracks
    and alerts."""
    postgres, _ = servers
    tmp_path = tmp_path_factory.mktemp("fuse-kill")
    admin = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))
    pictures = {}
    for name, kill in (("clean", False), ("killed", True)):
        url = new_database(postgres, f"fuse_{name}")
        ingest_paths([shared_data / LOG], store=url, nation="IND")
        # Steps of 250 reports (89 of them), each its own transaction, and a checkpoint
        # every 0.3 s: the kill comes after a checkpoint, with later steps still to do.
        directory = node_dir(tmp_path / name, url, None, fuse_batch=250, checkpoint_s=0.3)
        killed_at = fuse_until_caught_up(
            directory, url, tmp_path / f"{name}.log", kill_when_fusing=kill
        )
        with open_store(url, read_only=True) as store:
            points = store.counts()["track_points"]
        pictures[name] = (points, killed_at, *fused_picture(url, admin))
    return pictures


def test_a_fuse_process_killed_mid_run_leaves_the_tracks_a_clean_run_makes(
    killed_and_clean: dict[
        str, tuple[int, int | None, list[dict[str, object]], list[dict[str, object]]]
    ],
) -> None:
    clean_points, _, clean_tracks, _ = killed_and_clean["clean"]
    points, killed_at, tracks, _ = killed_and_clean["killed"]
    assert clean_tracks
    assert killed_at is not None
    assert 0 < killed_at < clean_points  # the restarted process had work left
    assert points == clean_points
    assert tracks == clean_tracks


def test_a_fuse_process_killed_mid_run_leaves_the_alerts_a_clean_run_makes(
    killed_and_clean: dict[
        str, tuple[int, int | None, list[dict[str, object]], list[dict[str, object]]]
    ],
) -> None:
    assert killed_and_clean["killed"][3] == killed_and_clean["clean"][3]


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while text not in (log.read_text() if log.exists() else ""):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.05)


def log_to_fuse(
    postgres: PgServer, name: str, root: Path, shared_data: Path, parts: str | None = None
) -> tuple[str, Path]:
    """A new database ``name`` holding the log's reports, and a node on it that fuses in
    small steps with a checkpoint every 0.3 s (with fusion ``parts`` when given)."""
    url = new_database(postgres, name)
    ingest_paths([shared_data / LOG], store=url, nation="IND")
    return url, node_dir(root, url, None, fuse_batch=250, checkpoint_s=0.3, parts=parts)


def test_a_standby_fuse_process_takes_over_from_one_killed_mid_run(
    servers: tuple[PgServer, NatsServer],
    tmp_path: Path,
    shared_data: Path,
    killed_and_clean: dict[str, Picture],
) -> None:
    url, directory = log_to_fuse(servers[0], "fuse_standby", tmp_path, shared_data)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    processes = [start(directory, "fuse", log) for log in logs]  # both at once
    try:
        deadline = time.monotonic() + _WAIT_S
        while not any("standing by" in log.read_text() for log in logs if log.exists()):
            assert all(process.poll() is None for process in processes)
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.05)
        standby = next(i for i, log in enumerate(logs) if "standing by" in log.read_text())
        active = 1 - standby
        while True:  # mid-run: a checkpoint saved and a step written after it
            assert "caught up" not in logs[active].read_text(), "fusion ended before the kill"
            with open_store(url, read_only=True) as store:
                saved = store.fusion_state()
                if saved is not None and store.fusion_read() > saved[0]:
                    break
            time.sleep(0.05)
        os.kill(processes[active].pid, signal.SIGKILL)
        assert processes[active].wait(timeout=30) == -signal.SIGKILL
        wait_for_line(logs[standby], "fuse: caught up", processes[standby])
        taken_over = logs[standby].read_text()
        assert "took over fusion" in taken_over
        assert "resumes from its checkpoint" in taken_over
    finally:
        for process in processes:
            assert stop(process) in (0, -signal.SIGKILL)
    admin = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))
    tracks, alerts = fused_picture(url, admin)
    _, _, clean_tracks, clean_alerts = killed_and_clean["clean"]
    assert tracks == clean_tracks
    assert alerts == clean_alerts


_ADMIN = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))
#: Fusion in two parts (mista.detect.parts): part 0 also writes the tracks; part 1 finds
#: the port visits, the alerts this log gives before its end.
_PARTS = (
    '[["ais-gap", "close-approach", "dark-vessel", "encounter", "identity-change", '
    '"loitering", "shared-mmsi", "spoofing", "zone-entry"], ["port-visit"]]'
)


def test_two_fusion_parts_side_by_side_one_killed_leave_the_picture_one_process_makes(
    servers: tuple[PgServer, NatsServer],
    tmp_path: Path,
    shared_data: Path,
    killed_and_clean: dict[str, Picture],
) -> None:
    url, directory = log_to_fuse(servers[0], "fuse_parts", tmp_path, shared_data, _PARTS)
    logs = [tmp_path / "part0.log", tmp_path / "part1.log"]
    processes = [start(directory, "fuse", log, "--part", str(n)) for n, log in enumerate(logs)]
    try:
        wait_for_line(logs[1], "part 1 of 2", processes[1])
        while True:  # part 1 mid-run: a checkpoint saved and a step written after it
            assert "caught up" not in logs[1].read_text(), "part 1 ended before the kill"
            with open_store(url, read_only=True) as store:
                saved = store.fusion_state(1)
                if saved is not None and store.fusion_read(1) > saved[0]:
                    break
            time.sleep(0.05)
        os.kill(processes[1].pid, signal.SIGKILL)
        assert processes[1].wait(timeout=30) == -signal.SIGKILL
        logs.append(tmp_path / "part1.restarted.log")
        processes.append(start(directory, "fuse", logs[2], "--part", "1"))
        wait_for_line(logs[0], "fuse: caught up", processes[0])
        wait_for_line(logs[2], "fuse: caught up", processes[2])
        assert "resumes from its checkpoint" in logs[2].read_text()
        assert "standing by" not in logs[0].read_text() + logs[1].read_text()
    finally:
        for process in processes:
            assert stop(process) in (0, -signal.SIGKILL)
    admin = User("ind.watch", "IND", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST}))
    tracks, alerts = fused_picture(url, admin)
    _, _, clean_tracks, clean_alerts = killed_and_clean["clean"]
    assert tracks  # part 0's
    assert tracks == clean_tracks
    assert {alert["kind"] for alert in alerts} == {"port-visit"}  # the killed part's
    assert alerts == clean_alerts


def test_a_whole_node_with_fusion_parts_steps_every_part(tmp_path: Path, shared_data: Path) -> None:
    # mista serve without --role, on DuckDB: one process steps each part in turn, and the
    # store's cursors are those the fuse roles would use.
    directory = node_dir(tmp_path, "store.duckdb", None, parts=_PARTS)
    toml = (directory / "node.toml").read_text()
    toml = toml.replace("[intervals]\n", "[intervals]\nstatus_s = 0.3\n")
    (directory / "node.toml").write_text(toml)
    shutil.copy(shared_data / LOG, directory / "spool" / "log.nmea")
    log = tmp_path / "node.log"
    process = start(directory, None, log)
    try:
        deadline = time.monotonic() + _WAIT_S
        while True:  # until the status line says both parts read every stored report
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            if "coast 22,023 stored; fused: 22,023 reports" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        assert stop(process) == 0, log.read_text()
    with open_store(directory / "store.duckdb", read_only=True) as store:
        assert store.fusion_cursor(1) == store.fusion_cursor(0) > 0
        assert store.counts()["tracks"] > 0
        alerts = store.alerts(viewer=_ADMIN, include_withdrawn=True).to_pylist()
    assert "port-visit" in {alert["kind"] for alert in alerts}  # part 1's detector ran


def test_a_fuse_part_the_node_does_not_have_is_refused(tmp_path: Path) -> None:
    directory = node_dir(tmp_path, "postgresql://127.0.0.1:1/none", None, parts=_PARTS)
    result = subprocess.run(
        [sys.executable, "-m", "mista", "serve", str(directory), "--role", "fuse", "--part", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "fusion part 2 is not configured (the node has parts 0-1" in result.stderr


def test_of_two_api_processes_on_one_store_one_sends_the_webhooks(
    servers: tuple[PgServer, NatsServer], tmp_path: Path
) -> None:
    postgres, _ = servers
    url = new_database(postgres, "api_senders")
    directories = [node_dir(tmp_path / name, url, None) for name in ("a", "b")]
    logs = [tmp_path / f"api-{name}.log" for name in ("a", "b")]
    processes = [start(d, "api", log) for d, log in zip(directories, logs, strict=True)]
    try:
        for process, log in zip(processes, logs, strict=True):
            wait_for_line(log, "api role of IND", process)
        said = [log.read_text() for log in logs]
        senders = [text for text in said if "sends the watch lists' webhooks" in text]
        assert len(senders) == 1, said
        assert sum("another api process sends the webhooks" in text for text in said) == 1
    finally:
        for process in processes:
            assert stop(process) == 0


def test_a_node_on_postgresql_shares_by_role_with_a_partner_on_duckdb(
    servers: tuple[PgServer, NatsServer], cluster: Cluster
) -> None:
    # IND: roles ingest and share on PostgreSQL and the bus; USA: one process on DuckDB.
    postgres, nats = servers
    url = new_database(postgres, "share")
    ind, usa = cluster.node("IND"), cluster.node("USA")
    cluster.pin(ind, usa)
    everywhere = [-180.0, -90.0, 180.0, 90.0]
    agreement = agreement_toml("ind-usa", sender="IND", receiver="USA", bbox=everywhere)
    cluster.agree(agreement, "ind-usa", ind, usa)
    spool = cluster.spool_source(ind, "white", "RESTRICTED//REL TO IND,USA//white-shipping")
    toml = (ind.path / "node.toml").read_text()
    toml = toml.replace('store = "store.duckdb"', f'store = "{url}"\nbus = "{nats.url}"')
    (ind.path / "node.toml").write_text(toml)
    cluster.start(usa)
    logs = {role: ind.path / f"{role}.log" for role in ("ingest", "share")}
    processes = {role: start(ind.path, role, log) for role, log in logs.items()}
    try:
        now = datetime.now(UTC)
        lines = [
            nmea_position(366000000 + i, 10.0 + i / 10, 70.0, now - timedelta(minutes=5))
            for i in range(5)
        ]
        write_spool(spool, "feed.nmea", lines)
        deadline = time.monotonic() + _WAIT_S
        while usa.received_from("IND") < 5 and time.monotonic() < deadline:
            for role, process in processes.items():
                assert process.poll() is None, f"{role} exited:\n{logs[role].read_text()}"
            time.sleep(0.2)
        assert usa.received_from("IND") == 5, "\n".join(p.read_text() for p in logs.values())
    finally:
        codes = {role: stop(process) for role, process in processes.items()}
    assert codes == {"ingest": 0, "share": 0}, {r: p.read_text() for r, p in logs.items()}
    cluster.stop(usa)
    held = {row["mmsi"] for row in reports(usa)}
    assert held == {366000000 + i for i in range(5)}
    # The release is audited on the sending side, in the share role's audit log.
    assert any(entry.get("kind") == "release" for entry in ind.audit_entries())
