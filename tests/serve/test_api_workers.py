"""``mista api --workers N``: N processes on one port (SO_REUSEPORT), all stopped by pid
with the first; and the combination that cannot work refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mista.labels import Level
from mista.model import Role, User
from mista.node import add_user, ingest_paths, issue_token
from tests.serve.nodes import free_port

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "mista" / "data" / "sample.nmea"


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not yet reaped by its parent is a zombie, not alive.
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"


def test_workers_share_the_port_and_stop_with_the_first(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    ingest_paths([SAMPLE], store=store, nation="IND")
    add_user(store, User("watch", "IND", Level.SECRET, frozenset({Role.ANALYST})))
    token = issue_token(store, "watch")
    port = free_port()
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mista",
                "api",
                "--store",
                str(store),
                "--read-only",
                "--workers",
                "3",
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            workers = children(process.pid)
            listening = sum(
                f":{port:04X} " in line and " 0A " in line
                for line in Path("/proc/net/tcp").read_text().splitlines()
            )
            if len(workers) == 2 and listening == 3:
                break
            time.sleep(0.2)
        assert len(workers) == 2
        assert listening == 3  # three sockets listen on the one port
        headers = {"Authorization": f"Bearer {token}"}
        counts = {
            httpx.get(f"http://127.0.0.1:{port}/api/v1/vessels", headers=headers).json()["count"]
            for _ in range(12)  # new connections each: the kernel spreads them
        }
        assert len(counts) == 1
        assert counts.pop() > 0
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0
    assert not [pid for pid in workers if alive(pid)]


def test_workers_need_a_store_several_processes_may_open(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mista",
            "api",
            "--store",
            str(tmp_path / "store.duckdb"),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--read-only" in done.stderr
