"""The partner exchange endpoint: ``POST /v1/exchange/batches`` and ``GET /health``.

The TLS layer already refused any client whose certificate is not pinned. Here the
certificate is mapped to a partner by its fingerprint (default deny: a certificate that is
not exactly a partner's gets 403 and an audit entry), and the body goes to the exchange's
``receive`` with that partner as the peer; the exchange opens the batch, checks that its
sender is the peer, and stores it durably before this answers 200.

Answers are JSON ``{"status", "reason", "stored", "duplicate", "batch_hash"}``: 200 when
the batch is stored or was stored before, 400 for a malformed batch, 403 for a refused
one (wrong sender, unknown certificate, no agreement), 409 for a replay, 413 when too big.
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

__all__ = ["MAX_BODY_BYTES", "ExchangeEndpoint", "Receiver", "create_app"]

#: Largest request body read (a sealed batch is at most 16 MiB, with room for framing).
MAX_BODY_BYTES = 17 * 1024 * 1024
_log = logging.getLogger("mista.api")


class Receiver(Protocol):
    """What the endpoint needs of ``mista.share.exchange.Exchange``."""

    def receive(self, data: bytes, *, peer_nation: str, now: datetime) -> Any: ...


@dataclass
class ExchangeEndpoint:
    """What the exchange routes work with.

    ``peers`` maps a certificate fingerprint to the partner nation it belongs to;
    ``own_fingerprint`` is this node's certificate, accepted for ``/health`` only.
    ``fingerprint`` turns a certificate (PEM bytes) into the same fingerprint form, and
    ``on_refused(peer, reason)`` records a request refused before the exchange saw it.
    """

    nation: str
    receiver: Receiver
    peers: Mapping[str, str]
    fingerprint: Callable[[bytes], str]
    own_fingerprint: str | None = None
    on_refused: Callable[[str, str], None] = lambda peer, reason: None
    status: Callable[[], Mapping[str, Any]] = field(default=lambda: {})
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def _answer(code: int, status: str, reason: str = "", **extra: Any) -> JSONResponse:
    body = {"status": status, "reason": reason, "stored": 0, "duplicate": False}
    body.update(extra)
    return JSONResponse(body, status_code=code)


_REASON_CODES = {"replay": 409, "malformed": 400, "too-large": 413}


def _code_for(status: str, reason: str) -> int:
    if status in ("accepted", "duplicate", "stored", "ok"):
        return 200
    for key, code in _REASON_CODES.items():
        if key in reason:
            return code
    return 403


def exchange_router(endpoint: ExchangeEndpoint) -> APIRouter:
    router = APIRouter()

    def peer_of(request: Request) -> tuple[str | None, str]:
        pem = client_cert_pem(request.scope)
        if pem is None:
            return None, "no client certificate"
        fingerprint = endpoint.fingerprint(pem.encode())
        nation = endpoint.peers.get(fingerprint)
        if nation is None:
            return None, f"certificate {fingerprint} is not a partner's"
        return nation, ""

    @router.get("/health")
    def health(request: Request) -> JSONResponse:
        pem = client_cert_pem(request.scope)
        fingerprint = endpoint.fingerprint(pem.encode()) if pem is not None else None
        known = fingerprint is not None and (
            fingerprint in endpoint.peers or fingerprint == endpoint.own_fingerprint
        )
        if not known:
            return _answer(403, "refused", "certificate is not this node's or a partner's")
        return JSONResponse({"status": "ok", "nation": endpoint.nation, **endpoint.status()})

    @router.post("/v1/exchange/batches")
    async def batches(request: Request) -> JSONResponse:
        peer, why = peer_of(request)
        client = request.client.host if request.client else "?"
        if peer is None:
            endpoint.on_refused(f"unknown@{client}", why)
            return _answer(403, "refused", why)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                endpoint.on_refused(peer, "too-large")
                return _answer(413, "refused", f"too-large: over {MAX_BODY_BYTES} bytes")
        return await _receive(endpoint, bytes(body), peer)

    return router


async def _receive(endpoint: ExchangeEndpoint, data: bytes, peer: str) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    def call() -> Any:
        return endpoint.receiver.receive(data, peer_nation=peer, now=endpoint.clock())

    try:
        receipt = await run_in_threadpool(call)
    except MistaError as exc:
        reason = str(getattr(exc, "reason", "") or exc)
        _log.warning("batch from %s refused: %s", peer, exc)
        return _answer(_code_for("refused", reason), "refused", f"{reason}: {exc}")
    status = str(getattr(receipt, "status", "accepted"))
    reason = str(getattr(receipt, "reason", "") or "")
    return _answer(
        _code_for(status, reason),
        status,
        reason,
        stored=int(getattr(receipt, "stored", 0) or 0),
        duplicate=bool(getattr(receipt, "duplicate", False)),
        batch_hash=getattr(receipt, "batch_hash", None),
    )


def create_app(exchange: ExchangeEndpoint, *, routers: tuple[APIRouter, ...] = ()) -> FastAPI:
    """The node's app: health and exchange routes, plus any further ``routers``."""
    app = FastAPI(title="mista node", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(exchange_router(exchange))
    for router in routers:
        app.include_router(router)
    return app
