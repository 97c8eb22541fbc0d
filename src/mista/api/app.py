"""The node's one HTTP app: health, the partner exchange, the query API and the web map.

``create_api_app`` builds it from an ``ApiContext``. The same app is served on the partner
listener (mutual TLS: the exchange routes know the partner by its certificate) and on the
API listener (plain HTTP on loopback by default: users are known by their Bearer token).
The exchange routes refuse anything without a partner's certificate, so serving them on the
API listener opens nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from mista import __version__
from mista.api.context import ApiContext
from mista.api.errors import install_error_handlers
from mista.api.exchange import ExchangeEndpoint, exchange_router

__all__ = ["API_PREFIX", "create_api_app"]

API_PREFIX = "/api/v1"

#: (module, router factory) of the API's routers, each under API_PREFIX.
_API_ROUTERS = (
    ("mista.api.routes_data", "data_router"),
    ("mista.api.features", "features_router"),
    ("mista.api.routes_admin", "admin_router"),
    ("mista.api.live", "live_router"),
)


def _routers(entries: tuple[tuple[str, str], ...]) -> list[APIRouter]:
    routers = []
    for module_name, factory in entries:
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        make = getattr(module, factory, None)
        if make is not None:
            routers.append(make())
    return routers


def _health_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()

    @router.get("/health", tags=["node"], summary="Whether the node is up (no token needed).")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "nation": ctx.nation})

    return router


def _start_background(ctx: ApiContext) -> list[Any]:
    """Start the live parts (event hub, webhooks, CoT) the context has; return them."""
    started: list[Any] = []
    if importlib.util.find_spec("mista.api.events") is not None:
        events = importlib.import_module("mista.api.events")
        start = getattr(events, "start_live", None)
        if start is not None:
            started.extend(start(ctx))
    return started


def create_api_app(
    ctx: ApiContext,
    *,
    exchange: ExchangeEndpoint | None = None,
    start_background: bool = True,
) -> FastAPI:
    """The node's app over ``ctx``: /health, /openapi.json, the exchange (when given), the
    API under /api/v1 and the web map at /. With ``start_background``, the live parts
    (stream, webhooks, CoT) run while the app runs (its lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = _start_background(ctx) if start_background else []
        try:
            yield
        finally:
            for part in reversed(running):
                part.stop()

    app = FastAPI(
        title="mista node",
        version=__version__,
        summary=f"The {ctx.nation} node's picture, filtered for each user by label.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    if exchange is not None:
        app.include_router(exchange_router(exchange))
    else:
        app.include_router(_health_router(ctx))
    for router in _routers(_API_ROUTERS):
        app.include_router(router, prefix=API_PREFIX)
    for router in _routers((("mista.web", "web_router"),)):
        app.include_router(router)
    return app
