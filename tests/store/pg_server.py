"""A real PostgreSQL 15 with PostGIS for tests: ``initdb`` into a temporary directory,
``postgres`` on a free 127.0.0.1 port, stopped by its pid.

PostgreSQL refuses to run as root. Run as root (as CI does), the server runs as an
unprivileged system user instead (``postgres``, which the Debian package creates, else
``nobody``): ``subprocess`` switches user and group in the child before it executes, so no
sudo/runuser is needed. That user cannot enter root's private pytest directories, so the
data directory then lives in a fresh directory of the system temp folder owned by that user,
removed at stop. Run as anyone else, it lives in the directory the caller gives.

The server is tuned for tests, not for durability (``fsync=off``); ``durable=True`` keeps
PostgreSQL's defaults (benchmarks). Unix sockets are off: clients connect over TCP.

``start_standby`` makes a streaming replica of a running server (``pg_basebackup -R``,
then ``postgres`` on a port of its own in hot standby): read-only, replaying what the
primary writes.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BIN_DIR",
    "PgServer",
    "missing_binaries",
    "require_pg",
    "start_pg",
    "start_standby",
]

BIN_DIR = Path(os.environ.get("MISTA_PG_BIN", "/usr/lib/postgresql/15/bin"))
#: The system users tried, in order, when running as root.
_SERVICE_USERS = ("postgres", "nobody")
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 15.0


def missing_binaries() -> str | None:
    """Why the server cannot start here (binaries or PostGIS absent), or None."""
    for name in ("initdb", "postgres"):
        if not (BIN_DIR / name).is_file():
            return (
                f"{BIN_DIR / name} not found: install the Debian packages postgresql-15 and "
                "postgresql-15-postgis-3 (or set MISTA_PG_BIN to PostgreSQL 15's bin directory)"
            )
    share = subprocess.run(
        [str(BIN_DIR / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if share and not (Path(share) / "extension" / "postgis.control").is_file():
        return "PostGIS is not installed: install the Debian package postgresql-15-postgis-3"
    return None


def require_pg() -> None:
    """Skip saying why PostgreSQL cannot start here (a failure when ``CI=true``)."""
    import pytest

    why = missing_binaries()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL cannot start: {why}")
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running server: its URL (database ``mista``, PostGIS created) and how to stop it."""

    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    owned_dir: Path | None = field(default=None)

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://mista@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open sessions, checkpoint, exit), then SIGKILL
        if it has not exited within the timeout. Removes a directory it made."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owned_dir is not None:
            shutil.rmtree(self.owned_dir, ignore_errors=True)


def _as_user() -> tuple[str, int] | None:
    """(user, group) to run the server as when this process is root; else None."""
    if os.geteuid() != 0:
        return None
    for name in _SERVICE_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_gid
    raise RuntimeError(
        "running as root and no unprivileged user to run PostgreSQL as "
        f"(tried {', '.join(_SERVICE_USERS)}): create one, e.g. useradd postgres"
    )


def start_pg(workdir: Path, *, durable: bool = False) -> PgServer:
    """Start a fresh server (database ``mista``, extension PostGIS) and wait until it
    accepts connections. The caller stops it (``PgServer.stop``)."""
    return _in_server_dir(
        workdir, "mista-pg-", lambda base, owned, as_user: _start(base, owned, as_user, durable)
    )


def start_standby(primary: PgServer, workdir: Path) -> PgServer:
    """A hot standby streaming from ``primary``, accepting read-only connections; the
    caller stops it."""
    return _in_server_dir(
        workdir,
        "mista-pg-standby-",
        lambda base, owned, as_user: _start_standby(primary, base, owned, as_user),
    )


def _in_server_dir(
    workdir: Path,
    prefix: str,
    start: Callable[[Path, Path | None, tuple[str, int] | None], PgServer],
) -> PgServer:
    """``start(base, owned, as_user)`` in ``workdir``, or as root in a fresh directory the
    service user owns (removed if the start fails; by ``PgServer.stop`` otherwise)."""
    as_user = _as_user()
    if as_user is None:
        return start(workdir, None, None)
    owned = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        entry = pwd.getpwnam(as_user[0])
        os.chown(owned, entry.pw_uid, entry.pw_gid)
        return start(owned, owned, as_user)
    except BaseException:
        shutil.rmtree(owned, ignore_errors=True)
        raise


def _user_args(as_user: tuple[str, int] | None) -> dict[str, object]:
    return {} if as_user is None else {"user": as_user[0], "group": as_user[1], "extra_groups": []}


def _start_standby(
    primary: PgServer, base: Path, owned: Path | None, as_user: tuple[str, int] | None
) -> PgServer:
    import psycopg

    data_dir, log_path = base / "data", base / "postgres.log"
    backup = subprocess.run(
        [
            str(BIN_DIR / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "mista"),
            *("-D", str(data_dir), "-R", "-X", "stream", "--checkpoint=fast"),
        ],
        capture_output=True,
        check=False,
        cwd=base,
        **_user_args(as_user),  # type: ignore[call-overload]
    )
    if backup.returncode:
        raise RuntimeError(f"pg_basebackup failed: {backup.stderr.decode(errors='replace')}")
    port = _free_port()
    process = _postgres(data_dir, log_path, base, as_user, port, {"hot_standby": "on"})
    server = _server(port, data_dir, process, log_path, owned)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(server.url, autocommit=True) as con:
                row = con.execute("SELECT pg_is_in_recovery()").fetchone()
            if row and row[0]:
                return server
        except psycopg.OperationalError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            text = log_path.read_text(errors="replace")[-2000:]
            server.stop()
            raise RuntimeError(f"the standby did not start:\n{text}")
        time.sleep(0.1)


def _server(
    port: int,
    data_dir: Path,
    process: subprocess.Popen[bytes],
    log_path: Path,
    owned: Path | None,
) -> PgServer:
    return PgServer(
        url=f"postgresql://mista@127.0.0.1:{port}/mista",
        port=port,
        data_dir=data_dir,
        process=process,
        log_path=log_path,
        owned_dir=owned,
    )


def _postgres(
    data_dir: Path,
    log_path: Path,
    base: Path,
    as_user: tuple[str, int] | None,
    port: int,
    extra: dict[str, str],
) -> subprocess.Popen[bytes]:
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "",
        "max_connections": "40",
        "timezone": "UTC",
        **extra,
    }
    args = [str(BIN_DIR / "postgres"), "-D", str(data_dir)]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it until stopped
    try:
        process: subprocess.Popen[bytes] = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=base,
            **_user_args(as_user),  # type: ignore[call-overload]
        )
    finally:
        log.close()
    return process


def _start(
    base: Path, owned: Path | None, as_user: tuple[str, int] | None, durable: bool
) -> PgServer:
    import psycopg

    data_dir, log_path = base / "data", base / "postgres.log"
    user_args = _user_args(as_user)
    initdb = subprocess.run(
        [
            str(BIN_DIR / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "mista",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ],
        capture_output=True,
        check=False,
        cwd=base,
        **user_args,  # type: ignore[call-overload]
    )
    if initdb.returncode:
        raise RuntimeError(f"initdb failed: {initdb.stderr.decode(errors='replace')}")
    port = _free_port()
    extra = (
        {} if durable else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    )
    process = _postgres(data_dir, log_path, base, as_user, port, extra)
    server = _server(port, data_dir, process, log_path, owned)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(server.admin_url(), autocommit=True) as con:
                con.execute("CREATE DATABASE mista")
            break
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                text = log_path.read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"postgres did not start:\n{text}") from None
            time.sleep(0.1)
    with psycopg.connect(server.url, autocommit=True) as con:
        con.execute("CREATE EXTENSION postgis")
    return server
