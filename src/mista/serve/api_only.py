"""``mista api``: the users' API and web map over one store, with no sources or partners.

For a store filled by ``mista ingest`` and ``mista fuse`` (a small node, a demonstration, a
benchmark). ``--read-only`` opens the store for reading, so several API processes can
share one file while nothing writes it; watch lists then cannot be changed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.geo import Zones
from mista.node import open_node_store
from mista.serve._server import SignalFreeServer, bind_listener, setup_logging

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
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the API over ``store_path`` on ``host:port`` until SIGINT or SIGTERM."""
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
        bind_listener(host, port) as sock,
        open_node_store(store_path, read_only=read_only) as store,
    ):
        ctx = ApiContext(nation=nation, store=store, zones=zone_layer)
        config = uvicorn.Config(
            create_api_app(ctx),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = SignalFreeServer(config)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            server.should_exit = True

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            bound_host, bound_port = sock.getsockname()[:2]
            url = f"http://{bound_host}:{bound_port}/"
            _log.info("API of %s over %s on %s", nation, store_path, url)
            if ready is not None:
                ready(url)
            asyncio.run(server.serve(sockets=[sock]))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    _log.info("API stopped")
