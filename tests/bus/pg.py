"""A real PostgreSQL + PostGIS for the bus tests (``tests/store/pg_server.py`` starts and
stops it), and what the store fault tests add: stopping it by pid and starting it again on
the same data directory and port, as a restart in the field does."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from tests.store.pg_server import PgServer, require_pg, start_pg

__all__ = ["new_database", "pg_or_skip", "restart_pg", "stop_pg"]

_WAIT_S = 30.0


def pg_or_skip(workdir: Path) -> PgServer:
    """A started server, or a skip saying why (a failure when ``CI=true``)."""
    require_pg()
    return start_pg(workdir)


def new_database(server: PgServer, name: str) -> str:
    """A fresh database ``name`` with PostGIS on ``server``; its URL."""
    with psycopg.connect(server.admin_url(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE mista")
    return f"postgresql://mista@127.0.0.1:{server.port}/{name}"


def stop_pg(server: PgServer) -> None:
    """Fast shutdown by pid (SIGINT: open sessions are cut, their transactions rolled
    back), keeping the data directory (``PgServer.stop`` also removes one it made)."""
    process = server.process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def restart_pg(server: PgServer) -> None:
    """Start the server again with the same command line (data directory, port, settings)
    and as the same user as before (the data directory's owner when running as root);
    waits until it accepts connections."""
    owner = os.stat(server.data_dir)
    as_owner: dict[str, object] = (
        {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
        if os.geteuid() == 0
        else {}
    )
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            server.process.args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=server.data_dir.parent,
            **as_owner,  # type: ignore[call-overload]
        )
    deadline = time.monotonic() + _WAIT_S
    while True:
        try:
            psycopg.connect(server.url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "postgres did not start again:\n"
                    + server.log_path.read_text(errors="replace")[-2000:]
                ) from None
            time.sleep(0.1)
