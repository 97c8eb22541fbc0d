"""``mista demo``: the four nodes started as a user starts them, checked over HTTP on every
node, and stopped with Ctrl-C (SIGINT); plus how it refuses ports in use and a used --dir,
and that every scenario line reaches its own nation's spools once."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mista.errors import ConfigError
from mista.labels import Level, may_see, parse_marking
from mista.serve.demo import (
    NATIONS,
    USERS,
    DemoNode,
    DemoSettings,
    check_ports,
    node_ports,
    plan_deliveries,
    run_demo,
)
from mista.sim import simulate

START_TIMEOUT_S = 75.0
_URL = re.compile(r"^  http://127\.0\.0\.1:(\d+)/#token=(mista_[A-Za-z0-9_-]{43})$")
_TITLE = re.compile(r"^.+ at ([A-Z]{3}) \(([a-z0-9._-]+), [A-Z]+\):$")
_STOPPED = re.compile(r"^  ([A-Z]{3}) stopped \(pid (\d+), exit (-?\d+)\)$", re.MULTILINE)
_UP = re.compile(r"^  ([A-Z]{3}) up after [0-9.]+ s \(pid (\d+)\)", re.MULTILINE)


def free_base_port() -> int:
    """A base port whose eight ports are free on 127.0.0.1 right now."""
    for _ in range(50):
        base = random.randrange(20_000, 60_000, 8)
        try:
            check_ports(base)
        except ConfigError:
            continue
        return base
    raise AssertionError("no 8 free consecutive ports found")


@dataclass
class Demo:
    """A running ``mista demo`` process and its output files."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def logins(self) -> dict[str, tuple[int, str]]:
        """User name -> (API port, token), read from the printed URLs."""
        found: dict[str, tuple[int, str]] = {}
        user = None
        for line in self.out.read_text().splitlines():
            title = _TITLE.match(line)
            url = _URL.match(line)
            if title:
                user = title.group(2)
            elif url and user is not None:
                found[user] = (int(url.group(1)), url.group(2))
        return found


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, int]]:
    base = free_base_port()
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISTA_")}
    # A small hour of traffic, so a quick one: its seed must put ships within IND's shore
    # receivers (of 60 vessels over the whole region, seed 7's hour has none there).
    command = [
        sys.executable, "-m", "mista", "demo", "--base-port", str(base),
        "--dir", str(tmp_path / "nodes"), "--vessels", "60", "--hours", "1", "--seed", "9",
    ]  # fmt: skip
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    running = Demo(process, out, err)
    try:
        yield running, base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # Whatever the test did, no node may outlive it.
        for match in _UP.finditer(running.output()):
            _kill_if_running(int(match.group(2)))


def _kill_if_running(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone too: it no longer runs (only its exit status waits to be read).
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" in status.read_text()


def _get(client: httpx.Client, url: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(url, headers=headers)


def _wait(predicate: Any, timeout_s: float, what: str, demo: Demo) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if demo.process.poll() is not None:
            raise AssertionError(f"demo exited ({demo.process.returncode}):\n{demo.output()}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{demo.output()}")


def _usa_may_see(marking: str) -> bool:
    return may_see(parse_marking(marking, "IND"), "USA", Level.RESTRICTED)


def test_demo_starts_four_nodes_answers_on_each_and_stops_on_ctrl_c(
    demo: tuple[Demo, int],
) -> None:
    running, base = demo
    began = time.monotonic()
    _wait(lambda: "Ctrl-C stops" in running.out.read_text(), START_TIMEOUT_S, "URLs", running)
    up_s = time.monotonic() - began
    logins = running.logins()
    expected = {user.name for user in USERS}
    assert set(logins) == expected, running.output()
    api_port = {nation: node_ports(base, i)[1] for i, nation in enumerate(NATIONS)}
    for user in USERS:
        assert logins[user.name][0] == api_port[user.at]

    with httpx.Client(timeout=30.0, trust_env=False) as client:
        for nation in NATIONS:
            api = f"http://127.0.0.1:{api_port[nation]}"
            assert _get(client, f"{api}/health").status_code == 200
            assert _get(client, f"{api}/openapi.json").json()["info"]["title"] == "mista node"
            token = logins[f"watch.{nation.lower()}"][1]
            assert _get(client, f"{api}/api/v1/vessels", token).status_code == 200
            assert _get(client, f"{api}/api/v1/vessels").status_code == 401
            me = _get(client, f"{api}/api/v1/me", token).json()
            assert (me["nation"], me["clearance"]) == (nation, "SECRET")

        ind = f"http://127.0.0.1:{api_port['IND']}"
        watch, liaison = logins["watch.ind"][1], logins["liaison.usa"][1]

        def vessels(token: str) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = _get(client, f"{ind}/api/v1/vessels", token).json()[
                "vessels"
            ]
            return found

        _wait(lambda: len(vessels(watch)) > 0, 60, "IND to hold vessels", running)
        _wait(lambda: len(vessels(liaison)) > 0, 60, "the liaison to see vessels", running)
        seen_by_liaison = vessels(liaison)
        # A vessel known only by its static data has no position and (so far) no label.
        placed = [row for row in seen_by_liaison if row["lat"] is not None]
        assert placed
        assert all(_usa_may_see(row["label"]) for row in placed), seen_by_liaison
        # The watch officer sees more: IND's own radar is CONFIDENTIAL and IND/AUS only. Its
        # backlog is ingested after the AIS one may already answer, so wait for it to land.
        window = {"since": (datetime.now(UTC) - timedelta(hours=3)).isoformat()}

        def positions(token: str) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = client.get(
                f"{ind}/api/v1/positions",
                params={**window, "limit": 100_000},
                headers={"Authorization": f"Bearer {token}"},
            ).json()["positions"]
            return found

        _wait(
            lambda: any(not _usa_may_see(row["label"]) for row in positions(watch)),
            60,
            "IND's own radar positions",
            running,
        )
        liaison_positions = positions(liaison)
        assert liaison_positions
        assert all(_usa_may_see(row["label"]) for row in liaison_positions)

    pids = {m.group(1): int(m.group(2)) for m in _UP.finditer(running.err.read_text())}
    assert set(pids) == set(NATIONS)
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=40) == 0, running.output()
    stopped = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in _STOPPED.finditer(
        running.err.read_text()
    )}  # fmt: skip
    assert stopped == {nation: (pid, 0) for nation, pid in pids.items()}, running.output()
    assert all(_gone(pid) for pid in pids.values())
    # The nodes stopped together, exchange POSTs maybe in flight: cleanly, no traceback.
    logs = sorted((running.out.parent / "nodes").rglob("serve.log"))
    assert len(logs) == len(NATIONS)
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"{log}:\n{text[-3000:]}"
    print(f"demo up in {up_s:.1f} s")


def test_ports_in_use_are_refused_naming_base_port(tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 3))
        result = subprocess.run(
            [sys.executable, "-m", "mista", "demo", "--base-port", str(base)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"port {base + 3}" in result.stderr
    assert "--base-port" in result.stderr


def test_a_used_directory_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("something")
    settings = DemoSettings(base_port=free_base_port(), directory=tmp_path)
    with pytest.raises(ConfigError, match=r"--dir .* is not an empty directory"):
        run_demo(settings, lambda _: None, lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_each_nation_gets_exactly_its_own_sensor_lines_once(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    simulate(tmp_path / "scenario", vessels=40, hours=1, start=now - timedelta(minutes=30))
    nodes = [DemoNode(nation, tmp_path / nation, 0, 0) for nation in NATIONS]
    history, live = plan_deliveries(tmp_path / "scenario", nodes, now.timestamp())
    deliveries = history + live
    scenario = tmp_path / "scenario"
    manifest = json.loads((scenario / "scenario.json").read_text())
    expected: dict[str, list[str]] = {}
    for entry in manifest["files"]:
        lines = (scenario / entry["path"]).read_text().splitlines()
        expected.setdefault(entry["source"], []).extend(line for line in lines if line)
    spools = {node.nation: node.directory / "spool" for node in nodes}
    delivered: dict[str, list[str]] = {}
    for delivery in deliveries:
        nation = delivery.spool.name.split("-")[0]
        assert delivery.spool.parent == spools[nation], delivery.spool
        delivered.setdefault(delivery.spool.name, []).extend(delivery.lines)
    assert {source: sorted(lines) for source, lines in delivered.items()} == {
        source: sorted(lines) for source, lines in expected.items()
    }
    # History due now, one file per source; then live slices in time order, each starting
    # with a whole message (a multi-sentence AIS message is never split).
    assert all(d.name.startswith("backlog.") for d in history)
    assert all(d.due == now.timestamp() for d in history)
    assert len({d.spool for d in history}) == len(history)
    assert live, "the last half hour plays live"
    assert [d.due for d in live] == sorted(d.due for d in live)
    assert all(d.due > now.timestamp() for d in live)
    for delivery in live:
        assert delivery.lines[0].startswith(("\\s:", "{")), delivery
    # Planning again from the same files gives the same split.
    assert plan_deliveries(scenario, nodes, now.timestamp()) == (history, live)
