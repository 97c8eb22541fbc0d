"""The live routes: the event stream and watch lists.

- ``GET /stream``: Server-Sent Events of new positions (``event: position``) and alert
  revisions (``event: alert``) the caller may see, each ``data:`` one JSON object; a
  ``: keep-alive`` comment when nothing else came for ``hub.keepalive_s`` (15 s). A reader
  that falls too far behind gets ``event: dropped`` and the stream ends (reconnect).
- ``GET/POST /watchlists``, ``GET/PUT/DELETE /watchlists/{id}``: the caller's own watch
  lists (``mista.api.watch``); another user's list answers 404 exactly as a missing one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse

from mista.api.auth import context, current_user
from mista.api.context import ApiContext
from mista.api.errors import ERROR_RESPONSES, not_found
from mista.api.events import EventHub, Subscription, sse_frame
from mista.api.watch import (
    Watchlist,
    WatchlistBody,
    new_watchlist_id,
    watchlists_from_table,
)
from mista.model import User

__all__ = ["live_router"]

Caller = Annotated[User, Depends(current_user)]
Context = Annotated[ApiContext, Depends(context)]

_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `event: position` / `event: alert`, each with "
        "one `data:` line of JSON; `: keep-alive` comments; `event: dropped` when the "
        "reader fell too far behind (the stream then ends).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **ERROR_RESPONSES,
}
_OPENING = b": mista live stream: event position | alert\n\n"
_KEEPALIVE = b": keep-alive\n\n"


async def _frames(
    hub: EventHub, subscription: Subscription, ready: asyncio.Event
) -> AsyncIterator[bytes]:
    """The stream's bytes until the hub stops, the reader is dropped or disconnects."""
    try:
        yield _OPENING
        while True:
            try:
                await asyncio.wait_for(ready.wait(), hub.keepalive_s)
            except TimeoutError:
                yield _KEEPALIVE
                continue
            ready.clear()
            events = subscription.take()
            if events:
                yield b"".join(event.frame for event in events)
            if subscription.dropped:
                yield sse_frame(
                    "dropped",
                    {
                        "reason": "too-slow",
                        "message": f"this reader fell {subscription.max_events} events "
                        "behind and was dropped: reconnect to go on from now",
                    },
                )
                return
            if subscription.closed:
                return
    finally:
        hub.unsubscribe(subscription)


def _own_list(ctx: ApiContext, user: User, watchlist_id: str) -> Watchlist:
    with ctx.lock:
        table = ctx.store.watchlists(owner=user.name, watchlist_id=watchlist_id)
    found = watchlists_from_table(table)
    if not found:
        raise not_found(f"no watch list {watchlist_id}")
    return found[0]


def live_router() -> APIRouter:
    """The stream and watch-list routes (included under ``/api/v1``)."""
    router = APIRouter(tags=["live"])

    @router.get(
        "/stream",
        summary="New positions and alerts the caller may see, as Server-Sent Events.",
        response_class=StreamingResponse,
        responses=_STREAM_RESPONSES,
    )
    async def stream(user: Caller, ctx: Context) -> StreamingResponse:
        hub: EventHub | None = ctx.hub
        if hub is None:
            raise not_found("no live stream at this node (its background work is not running)")
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake() -> None:  # called by the hub's poller thread
            loop.call_soon_threadsafe(ready.set)

        subscription = hub.subscribe(user, wake=wake)
        return StreamingResponse(
            _frames(hub, subscription, ready),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get(
        "/watchlists",
        summary="The caller's watch lists.",
        responses=ERROR_RESPONSES,
    )
    def list_watchlists(user: Caller, ctx: Context) -> dict[str, Any]:
        with ctx.lock:
            table = ctx.store.watchlists(owner=user.name)
        lists = [watchlist.to_json() for watchlist in watchlists_from_table(table)]
        return {"count": len(lists), "watchlists": lists}

    @router.post(
        "/watchlists",
        status_code=201,
        summary="Create a watch list (alerts involving its vessels go to its webhook).",
        responses=ERROR_RESPONSES,
    )
    def create_watchlist(body: WatchlistBody, user: Caller, ctx: Context) -> dict[str, Any]:
        watchlist_id = new_watchlist_id()
        with ctx.lock:
            ctx.store.add_watchlist(
                watchlist_id,
                owner=user.name,
                name=body.name,
                mmsis=body.mmsis,
                webhook=body.webhook,
                now=ctx.clock(),
            )
        return _own_list(ctx, user, watchlist_id).to_json()

    @router.get(
        "/watchlists/{watchlist_id}",
        summary="One of the caller's watch lists.",
        responses=ERROR_RESPONSES,
    )
    def get_watchlist(watchlist_id: str, user: Caller, ctx: Context) -> dict[str, Any]:
        return _own_list(ctx, user, watchlist_id).to_json()

    @router.put(
        "/watchlists/{watchlist_id}",
        summary="Replace one of the caller's watch lists.",
        responses=ERROR_RESPONSES,
    )
    def replace_watchlist(
        watchlist_id: str, body: WatchlistBody, user: Caller, ctx: Context
    ) -> dict[str, Any]:
        with ctx.lock:
            changed = ctx.store.update_watchlist(
                watchlist_id,
                owner=user.name,
                name=body.name,
                mmsis=body.mmsis,
                webhook=body.webhook,
                now=ctx.clock(),
            )
        if not changed:
            raise not_found(f"no watch list {watchlist_id}")
        return _own_list(ctx, user, watchlist_id).to_json()

    @router.delete(
        "/watchlists/{watchlist_id}",
        status_code=204,
        summary="Delete one of the caller's watch lists.",
        responses=ERROR_RESPONSES,
        response_class=Response,
    )
    def delete_watchlist(watchlist_id: str, user: Caller, ctx: Context) -> Response:
        with ctx.lock:
            removed = ctx.store.remove_watchlist(watchlist_id, owner=user.name)
        if not removed:
            raise not_found(f"no watch list {watchlist_id}")
        return Response(status_code=204)

    return router
