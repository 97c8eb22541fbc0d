"""What ``mista serve`` and ``mista api`` share: logging to stderr, listening sockets, and a
uvicorn server that leaves signal handling to its caller and stops without tracebacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mista.errors import ConfigError

__all__ = [
    "KEEP_ALIVE_S",
    "STOPPING_BODY",
    "QuietStop",
    "SignalFreeServer",
    "bind_listener",
    "server_config",
    "setup_logging",
    "stopped_by_signals",
]

#: How long an idle kept-alive connection stays open. uvicorn's 5 s default closes
#: connections that a busy client is about to reuse (it then reads a reset: seen with 50
#: clients in bench/api.py); a reverse proxy keeps its own upstream connections for 60 s.
KEEP_ALIVE_S = 75
#: The answer to a request still running when the server stops (the API's error shape).
STOPPING_BODY = json.dumps(
    {
        "error": {
            "status": 503,
            "code": "unavailable",
            "message": "the node is stopping: send the request again once it is back",
        }
    }
).encode()


def setup_logging() -> None:
    """Status lines of every mista logger to stderr, with their time."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger("mista")
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def bind_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one), or a ConfigError
    saying what to change. With ``reuse_port``, other processes of this user may listen on
    the same port (SO_REUSEPORT) and the kernel spreads new connections among them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, so asyncio sets TCP_NODELAY on each accepted connection (it does
    # only for sockets that say TCP): without it, a small answer's body waits for the
    # client's delayed ACK of its headers, 40 ms per request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another process using "
            "the port? choose another: listen in node.toml, or --listen)"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class SignalFreeServer(uvicorn.Server):
    """uvicorn's server, leaving signals to the caller (which stops every server at once)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class QuietStop:
    """Ends a request the server cancels while stopping without a traceback.

    A stopping uvicorn waits ``timeout_graceful_shutdown`` for running requests, then
    cancels them (a partner's exchange POST still sending its body, a live stream); the
    cancellation reaching uvicorn is logged with a full traceback. Here it ends the request
    instead: one that has not answered yet gets 503 ``unavailable`` (a partner sends the
    batch again once the node is back; its receipt, if it was stored, says "duplicate"),
    one that is answering (a live stream) has its answer ended, and uvicorn's one line
    "Cancel N running task(s)" is all the log says.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def send_tracked(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except asyncio.CancelledError:
            # uvicorn cancels request tasks only when stopping: the task ends here.
            with contextlib.suppress(Exception):  # the connection may be gone already
                if not started:
                    await _answer_stopping(send)
                elif not finished:  # a live stream: end it where it is
                    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _answer_stopping(send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(STOPPING_BODY)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": STOPPING_BODY})


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for one of mista's apps: mista's own logging, no access log, a
    short graceful shutdown, requests still running after it ended quietly (``QuietStop``)
    and long-lived idle connections (``options`` add or override)."""
    settings: dict[str, Any] = {
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 1,
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
    return uvicorn.Config(QuietStop(app), **{**settings, **options})


@contextlib.contextmanager
def stopped_by_signals(stop: threading.Event, servers: list[uvicorn.Server]) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM set ``stop`` and tell every server in
    ``servers`` (which may grow meanwhile) to exit; the previous handlers come back after."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        for server in servers:
            server.should_exit = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
