"""``mista api``: the users' API and web map over one store, with no sources or partners.

For a store filled by ``mista ingest`` and ``mista fuse`` (a small node, a demonstration, a
benchmark). ``--read-only`` opens the store for reading, so several API processes can
share one file while nothing writes it; watch lists then cannot be changed.

``workers`` > 1 starts that many processes on one port (SO_REUSEPORT: the kernel spreads
connections among them), for more analysts than one process's interpreter can answer: this
process and ``workers - 1`` children it starts, and stops by pid when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.geo import Zones
from mista.node import open_node_store
from mista.serve._server import (
    SignalFreeServer,
    bind_listener,
    server_config,
    setup_logging,
    stopped_by_signals,
)

__all__ = ["serve_api"]

_log = logging.getLogger("mista.serve")


def serve_api(
    store_path: str | Path,
    *,
    host: str,
    port: int,
    nation: str,
    zones: Path | None = None,
    read_only: bool = False,
    workers: int = 1,
    reuse_port: bool = False,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the API over ``store_path`` on ``host:port`` until SIGINT or SIGTERM, in
    ``workers`` processes (``reuse_port``: a worker started by another). Webhooks are sent
    by the first process, over a store it may write."""
    setup_logging()
    zone_layer = (
        Zones.from_geojson(
            zones,
            originator=nation,
        )
        if zones is not None
        else None
    )
    with (
        bind_listener(host, port, reuse_port=reuse_port or workers > 1) as sock,
        open_node_store(store_path, read_only=read_only) as store,
        _workers(
            workers - 1,
            store_path,
            sock.getsockname()[:2],
            nation=nation,
            zones=zones,
            read_only=read_only,
        ),
    ):
        # Webhooks go out from one process, which records each delivery: not from the
        # workers it started, nor over a store it cannot write.
        ctx = ApiContext(
            nation=nation,
            store=store,
            zones=zone_layer,
            webhooks=not (read_only or reuse_port),
        )
        server = SignalFreeServer(server_config(create_api_app(ctx)))
        with stopped_by_signals(threading.Event(), [server]):
            bound_host, bound_port = sock.getsockname()[:2]
            url = f"http://{bound_host}:{bound_port}/"
            _log.info(
                "API of %s over %s on %s%s",
                nation,
                store_path,
                url,
                f" ({workers} processes)" if workers > 1 else "",
            )
            if ready is not None:
                ready(url)
            asyncio.run(server.serve(sockets=[sock]))
    _log.info("API stopped")


@contextlib.contextmanager
def _workers(
    count: int,
    store_path: str | Path,
    address: tuple[str, int],
    *,
    nation: str,
    zones: Path | None,
    read_only: bool,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` more API processes on ``address`` (bound with SO_REUSEPORT); stopped by
    pid (SIGTERM, then SIGKILL after 10 s) when the block ends."""
    host, port = address
    command = [
        sys.executable,
        "-m",
        "mista",
        "api",
        "--store",
        str(store_path),
        "--listen",
        f"{host}:{port}",
        "--nation",
        nation,
        "--reuse-port",
    ]
    if zones is not None:
        command += ["--zones", str(zones)]
    if read_only:
        command.append("--read-only")
    children = [subprocess.Popen(command, stdin=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
