"""A real ``nats-server -js`` for tests: a free 127.0.0.1 port, a temporary store
directory, stopped by its pid.

``start_nats`` starts one and waits until it accepts clients; ``NatsServer.stop`` sends
SIGTERM (JetStream flushes its store), then SIGKILL after a timeout; ``restart`` stops it
and starts it again on the same port and store directory (what a restart in the field
does). When the binary is missing, tests fail with a clear message if ``CI=true`` and
skip saying why otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["NatsServer", "nats_binary", "start_nats", "stop_server"]

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0


def nats_binary() -> str:
    """The nats-server executable, or a skip (a failure in CI) saying how to install it."""
    found = os.environ.get("MISTA_NATS_SERVER") or shutil.which("nats-server")
    if found is None and Path("/usr/sbin/nats-server").is_file():
        found = "/usr/sbin/nats-server"
    if found is None:
        why = (
            "nats-server not found: install the Debian package nats-server "
            "(or set MISTA_NATS_SERVER to its path)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False


@dataclass
class NatsServer:
    """A running server: its URL, store directory and process."""

    binary: str
    port: int
    store_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [
            self.binary,
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.store_dir),
            "-l",
            str(self.log_path),
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _accepts(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.process.returncode}: "
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nats-server did not accept clients on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within the timeout."""
        stop_server(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()


def stop_server(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (JetStream flushes its store), then SIGKILL if it has not exited within the
    timeout; nothing if it is not running."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_nats(workdir: Path) -> NatsServer:
    """Start a fresh JetStream server storing into ``workdir``; the caller stops it."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = NatsServer(
        binary=nats_binary(),
        port=_free_port(),
        store_dir=workdir / "jetstream",
        log_path=workdir / "nats-server.log",
    )
    server.start()
    return server
