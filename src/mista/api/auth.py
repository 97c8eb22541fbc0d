"""Who is asking: the Bearer token of a request, mapped to a user kept in the store.

Tokens are issued by ``mista users token`` and kept only as their SHA-256, so the store
never holds a usable token. A missing, unknown or expired token answers 401
``unauthenticated``; routes that manage the node also need the ``admin`` role (403
``forbidden`` otherwise). Roles never widen what a user reads: the label rule does.

A token found is remembered for ``mista.api.tokens.TOKEN_CACHE_S`` seconds (a store query
per request would cost more than many answers), so a revoked or expired token, or a user
removed, stops working within that time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from mista.api.context import ApiContext
from mista.api.errors import ApiError, forbidden
from mista.model import Role, User
from mista.node import TOKEN_PREFIX, token_hash

__all__ = ["admin_user", "context", "current_user"]

# auto_error=False: a missing header answers in the one error shape, not FastAPI's own.
_bearer = HTTPBearer(auto_error=False, description="A token from `mista users token NAME`.")

#: Longest header value looked at (a token is 49 characters).
_MAX_TOKEN_CHARS = 256


async def context(request: Request) -> ApiContext:
    """The app's context (a FastAPI dependency; async, so it costs no worker thread)."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user the request's Bearer token belongs to (a FastAPI dependency). A token
    checked in the last seconds is answered from memory on the event loop; only a store
    lookup goes to a worker thread."""
    if credentials is None:
        raise ApiError(
            401, "unauthenticated", "no token: send Authorization: Bearer TOKEN (mista users token)"
        )
    token = credentials.credentials
    if len(token) > _MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
        raise ApiError(401, "unauthenticated", "not a mista token")
    ctx: ApiContext = request.app.state.ctx
    digest = token_hash(token)
    user = ctx.tokens.get(digest)
    if user is None:
        user = await run_in_threadpool(_stored_user, ctx, digest)
        if user is None:
            raise ApiError(401, "unauthenticated", "unknown, revoked or expired token")
        ctx.tokens.put(digest, user)
    request.state.user = user
    return user


def _stored_user(ctx: ApiContext, digest: str) -> User | None:
    with ctx.reading():
        return ctx.store.user_for_token(digest, now=ctx.clock())


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    """The caller, who must have the admin role (a FastAPI dependency)."""
    if Role.ADMIN not in user.roles:
        raise forbidden(f"user {user.name} is not an admin of this node")
    return user
