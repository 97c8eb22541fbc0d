"""The node's HTTP app: ``create_app`` builds one FastAPI app from routers.

Today it serves ``GET /health`` and the partner exchange (``POST /v1/exchange/batches``,
``mista.api.exchange``); the query API adds its routers to the same app. Every request
arrives over mutual TLS (``mista.api.tls`` puts the client certificate in the scope).
"""

from __future__ import annotations

from mista.api.exchange import ExchangeEndpoint, Receipt, Receiver, create_app, exchange_router

__all__ = ["ExchangeEndpoint", "Receipt", "Receiver", "create_app", "exchange_router"]
