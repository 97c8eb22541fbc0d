"""Client certificates for the app: uvicorn's h11 protocol, extended with the ASGI TLS
extension.

uvicorn does not put the peer certificate in the ASGI scope. ``ClientCertH11Protocol``
reads it once per connection (the DER form, from the transport's SSL object) and adds it
to every request's scope as ``scope["extensions"]["tls"]["client_cert_chain"]`` (a list of
PEM strings, as the ASGI TLS extension defines it), so the app can map the certificate to
a partner. Pass it as ``uvicorn.Config(http=ClientCertH11Protocol, ...)``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ClientCertH11Protocol", "client_cert_pem"]


def _peer_cert_pem(transport: asyncio.BaseTransport) -> str | None:
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return ssl.DER_cert_to_PEM_cert(der) if der else None


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, adding the TLS client certificate to each request scope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client_cert_pem: str | None = None
        # Every request of this connection goes through self.app; wrap it once.
        inner = self.app

        async def with_client_cert(scope: Any, receive: Any, send: Any) -> None:
            chain = [self._client_cert_pem] if self._client_cert_pem else []
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = {"client_cert_chain": chain, "client_cert_name": None}
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = with_client_cert

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._client_cert_pem = _peer_cert_pem(transport)


def client_cert_pem(scope: Mapping[str, Any]) -> str | None:
    """The client's certificate (PEM) from an ASGI scope, or None when it has none."""
    tls = scope.get("extensions", {}).get("tls", {})
    chain = tls.get("client_cert_chain") or []
    return str(chain[0]) if chain else None
