"""What caches may keep of the API's answers.

Every answer under /api/v1 is filtered for its caller: a cache shared between users (a
reverse proxy, a corporate cache) must never hand one user's answer to another. So every
API answer says ``Cache-Control: no-store`` unless its route says otherwise; the vessel
list, which a map asks for again and again, says ``private, no-cache`` with an ETag, so
the caller's own browser may ask "has it changed?" and get a 304 with no body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NO_STORE", "REVALIDATE", "CacheControlMiddleware", "etag_matches"]

NO_STORE = "no-store"
REVALIDATE = "private, no-cache"


class CacheControlMiddleware:
    """Adds ``Cache-Control: no-store`` to every answer under ``prefix`` that has none."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", NO_STORE.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_marked)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))
