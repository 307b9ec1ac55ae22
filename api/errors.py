"""Errors as JSON ``{"detail": ...}`` naming the field; 422 also lists ``errors: [{field, message}]``.

A busy database (SQLite's "database is locked" after the busy timeout, PostgreSQL's lock timeout) or one that cannot
be reached is 503 with Retry-After: the client tries again, nothing half-done stays behind (each request is one
transaction). A lifecycle step the evaluation's state does not allow is 409.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from qa.identifiers import IdentifierError
from qa.store.lifecycle import LifecycleError

log = logging.getLogger("qa.api")
RETRY_AFTER_S = 5
_LOCKED = ("database is locked", "database table is locked", "lock timeout", "could not obtain lock")
_UNREACHABLE = ("connection refused", "could not connect", "server closed the connection", "connection timeout")


def database_trouble(exc: DBAPIError) -> str | None:
    """'busy' or 'unavailable' for errors a retry can cure; None for the rest (a bug: 500)."""
    text = str(exc.orig if exc.orig is not None else exc).lower()
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == "55P03" or any(m in text for m in _LOCKED):
        return "busy"
    if exc.connection_invalidated or any(m in text for m in _UNREACHABLE):
        return "unavailable"
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]} for e in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse({"detail": text, "errors": problems}, status_code=422)

    @app.exception_handler(LifecycleError)
    async def lifecycle_error(request: Request, exc: LifecycleError):
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(IdentifierError)
    async def identifier_error(request: Request, exc: IdentifierError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError):
        trouble = database_trouble(exc)
        if trouble is None:
            log.error("database error on %s %s (%s)", request.method, request.url.path, type(exc.orig).__name__)
            return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
        log.warning("database %s on %s %s: answered 503", trouble, request.method, request.url.path)
        return JSONResponse(
            {"detail": f"the database is {trouble}; try again in a few seconds"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.error("internal error on %s %s (%s)", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
