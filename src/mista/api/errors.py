"""The API's one error shape: ``{"error": {"status", "code", "message"}}``.

Every failure answers with it, whatever raised it: a route's ``ApiError``, a request that
fails validation (FastAPI's 422 becomes 400 ``bad-parameter``), a route or method that does
not exist, a ``MistaError`` from below (bad input, a store problem) or anything unexpected
(500 ``internal``, logged, its text not shown). A record the caller may not see answers
``not_found`` exactly as one that does not exist (DESIGN.md rule 1).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mista.errors import InputError, LabelError, MistaError

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "bad_parameter",
    "error_body",
    "forbidden",
    "install_error_handlers",
    "not_found",
]

_log = logging.getLogger("mista.api")

#: Code by HTTP status, for errors raised by the framework itself.
_CODES = {
    400: "bad-parameter",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    500: "internal",
}


class ApiError(Exception):
    """An error answered to the caller in the one shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(message: str) -> ApiError:
    """404: the record does not exist, or the caller may not see it (the same answer)."""
    return ApiError(404, "not-found", message)


def bad_parameter(message: str) -> ApiError:
    """400: a parameter the route cannot use; the message names it and what it takes."""
    return ApiError(400, "bad-parameter", message)


def forbidden(message: str) -> ApiError:
    """403: the route needs a role the caller lacks (never used to hide a record)."""
    return ApiError(403, "forbidden", message)


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


def _answer(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(error_body(status, code, message), status_code=status, headers=headers)


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}

#: For a route's ``responses=``: the error answers it may give, in the one shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }
    for status, description in (
        (400, "A parameter the route cannot use (code bad-parameter)."),
        (401, "No token, or one that is unknown or expired (code unauthenticated)."),
        (404, "No such record, or none the caller may see (code not-found)."),
    )
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query",))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer in the one shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _answer(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Any:
        return _answer(400, "bad-parameter", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        status = exc.status_code
        code = _CODES.get(status, "error")
        message = str(exc.detail) if exc.detail else code
        if status == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        return _answer(status, code, message, dict(exc.headers or {}) or None)

    @app.exception_handler(InputError)
    @app.exception_handler(LabelError)
    async def input_error(request: Request, exc: MistaError) -> Any:
        return _answer(400, "bad-parameter", str(exc))

    @app.exception_handler(MistaError)
    async def mista_error(request: Request, exc: MistaError) -> Any:
        _log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return _answer(500, "internal", "the node could not answer (see its log)")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Any:
        _log.exception("%s %s failed", request.method, request.url.path)
        return _answer(500, "internal", "the node could not answer (see its log)")
