"""The partner exchange endpoint: ``POST /v1/exchange/batches`` and ``GET /health``.

The TLS layer already refused any client whose certificate is not pinned. Here the
certificate is mapped to a partner by its fingerprint (a certificate that is not exactly a
partner's maps to no peer, which the exchange refuses and audits), and the body goes to
the exchange's ``receive`` with that partner as the peer; the exchange opens the batch,
checks that its sender is the peer, and stores it durably before this answers 200.

Answers are JSON ``{"status", "reason", "detail", "stored", "duplicate", "batch_hash"}``
with the exchange's HTTP status: 200 when the batch is stored or was stored before
(``status`` ``accepted`` or ``duplicate``), else ``status`` ``refused`` and the reason code
(400 malformed or stale, 401 bad signature, 403 wrong sender, unknown peer or no
agreement, 409 replay, 413 too large). The exchange audits every refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from mista.api.tls import client_cert_pem
from mista.errors import MistaError

__all__ = [
    "MAX_BODY_BYTES",
    "ExchangeEndpoint",
    "Receipt",
    "Receiver",
    "create_app",
    "exchange_router",
]

#: Largest request body read (a sealed batch is at most 16 MiB, with room for framing).
MAX_BODY_BYTES = 17 * 1024 * 1024
_log = logging.getLogger("mista.api")


class Receipt(Protocol):
    """What the endpoint reads of ``mista.share.exchange.Receipt``."""

    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def stored(self) -> int: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def batch_hash(self) -> str | None: ...
    @property
    def detail(self) -> str: ...


class Receiver(Protocol):
    """What the endpoint needs of ``mista.share.exchange.Exchange``."""

    def receive(self, data: bytes, *, peer_nation: str | None, now: datetime) -> Receipt: ...


@dataclass
class ExchangeEndpoint:
    """What the exchange routes work with.

    ``peers`` maps a certificate fingerprint to the partner nation it belongs to;
    ``own_fingerprint`` is this node's certificate, accepted for ``/health`` only.
    ``fingerprint`` turns a certificate (PEM bytes) into the same fingerprint form, and
    ``on_refused(peer, reason)`` audits a request refused before the exchange saw it.
    """

    nation: str
    receiver: Receiver
    peers: Mapping[str, str]
    fingerprint: Callable[[bytes], str]
    own_fingerprint: str | None = None
    on_refused: Callable[[str, str], None] = lambda peer, reason: None
    status: Callable[[], Mapping[str, Any]] = field(default=lambda: {})
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Records stored and batches refused per partner since start (shown by /health).
    received: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


def _answer(code: int, status: str, reason: str = "", **extra: Any) -> JSONResponse:
    body = {"status": status, "reason": reason, "stored": 0, "duplicate": False}
    body.update(extra)
    return JSONResponse(body, status_code=code)


def exchange_router(endpoint: ExchangeEndpoint) -> APIRouter:
    router = APIRouter()

    def peer_of(request: Request) -> str | None:
        pem = client_cert_pem(request.scope)
        if pem is None:
            return None
        fingerprint = endpoint.fingerprint(pem.encode())
        if fingerprint == endpoint.own_fingerprint:
            # This node's own certificate: the exchange refuses (and audits) a batch from
            # itself, as from any nation that is not a partner.
            return endpoint.nation
        return endpoint.peers.get(fingerprint)

    @router.get("/health")
    def health(request: Request) -> JSONResponse:
        pem = client_cert_pem(request.scope)
        fingerprint = endpoint.fingerprint(pem.encode()) if pem is not None else None
        if fingerprint is not None and fingerprint == endpoint.own_fingerprint:
            # The node's own operator: every link, source and count.
            return JSONResponse(
                {
                    "status": "ok",
                    "nation": endpoint.nation,
                    "received": endpoint.received,
                    "refused": endpoint.refused,
                    **endpoint.status(),
                }
            )
        # A partner, or a caller on the plain-HTTP API listener (no certificate), learns
        # that the node is up, nothing about its partners or sources.
        return JSONResponse({"status": "ok", "nation": endpoint.nation})

    @router.post("/v1/exchange/batches")
    async def batches(request: Request) -> JSONResponse:
        peer = peer_of(request)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                name = peer or "unknown"
                endpoint.refused[name] = endpoint.refused.get(name, 0) + 1
                endpoint.on_refused(name, "too-large")
                return _answer(413, "refused", "too-large", detail=f"over {MAX_BODY_BYTES} bytes")
        return await _receive(endpoint, bytes(body), peer)

    return router


async def _receive(endpoint: ExchangeEndpoint, data: bytes, peer: str | None) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    def call() -> Any:
        return endpoint.receiver.receive(data, peer_nation=peer, now=endpoint.clock())

    name = peer or "unknown"
    try:
        receipt = await run_in_threadpool(call)
    except MistaError as exc:
        # The exchange answers refusals with a receipt; an error here is the node's fault.
        _log.error("batch from %s could not be handled: %s", name, exc)
        return _answer(500, "error", "internal", detail=str(exc))
    code = int(receipt.status)
    stored = int(receipt.stored)
    if 200 <= code < 300:
        endpoint.received[name] = endpoint.received.get(name, 0) + stored
        status = "duplicate" if receipt.duplicate else "accepted"
    else:
        _log.warning("batch from %s refused: %s (%s)", name, receipt.reason, receipt.detail)
        endpoint.refused[name] = endpoint.refused.get(name, 0) + 1
        status = "refused"
    return _answer(
        code,
        status,
        str(receipt.reason),
        detail=str(receipt.detail),
        stored=stored,
        duplicate=bool(receipt.duplicate),
        batch_hash=receipt.batch_hash,
    )


def create_app(exchange: ExchangeEndpoint, *, routers: tuple[APIRouter, ...] = ()) -> FastAPI:
    """The node's app: health and exchange routes, plus any further ``routers``."""
    app = FastAPI(title="mista node", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(exchange_router(exchange))
    for router in routers:
        app.include_router(router)
    return app
