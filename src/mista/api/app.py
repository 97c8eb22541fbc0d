"""The node's one HTTP app: health, the partner exchange, the query API and the web map.

``create_api_app`` builds it from an ``ApiContext``. The same app is served on the partner
listener (mutual TLS: the exchange routes know the partner by its certificate) and on the
API listener (plain HTTP on loopback by default: users are known by their Bearer token).
The exchange routes refuse anything without a partner's certificate, so serving them on the
API listener opens nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from mista import __version__
from mista.api.caching import CacheControlMiddleware
from mista.api.context import ApiContext
from mista.api.errors import install_error_handlers
from mista.api.events import start_live
from mista.api.exchange import ExchangeEndpoint, exchange_router
from mista.api.features import features_router
from mista.api.live import live_router
from mista.api.routes_admin import admin_router
from mista.api.routes_data import data_router
from mista.web import web_router

__all__ = ["API_PREFIX", "create_api_app"]

API_PREFIX = "/api/v1"


def _health_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()

    @router.get("/health", tags=["node"], summary="Whether the node is up (no token needed).")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "nation": ctx.nation})

    return router


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
        running = start_live(ctx) if start_background else []
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
    # Level 3: a 520 KB vessel list compresses to 69 KB in 7 ms; level 9 (the default)
    # saves 12 KB more and costs 45 ms, which matters more than bytes on a LAN.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=3)
    app.add_middleware(CacheControlMiddleware, prefix=API_PREFIX)
    if exchange is not None:
        app.include_router(exchange_router(exchange))
    else:
        app.include_router(_health_router(ctx))
    for router in (data_router(), features_router(), admin_router(), live_router()):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(web_router())
    return app
