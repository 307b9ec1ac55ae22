"""Two small ASGI middlewares around the whole API.

``Envelope`` (outermost): security headers on every response (``X-Content-Type-Options: nosniff``, ``Cache-Control:
no-store``: every answer may carry personal data, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``), an
access log line per request with the path only (never the query string: search words are transcript words), and a
JSON 500 for anything unhandled (the log names the exception type and where, never its message: SQL errors quote
their parameters).

``BodyLimit``: no request body larger than its limit is read. A declared Content-Length over the limit is refused
before anything is read; a chunked body is counted as it streams and refused (413) the moment it passes the limit.
Uploads (``POST /calls``) get the upload limit and are checked by the route after the key (the route reads its own
stream); every other route gets a small JSON limit, checked here first.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("qa.api.access")
log = logging.getLogger("qa.api")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
UPLOAD_ROUTES = frozenset({("POST", "/calls")})


def _json(status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        + (headers or []),
    }
    return start, {"type": "http.response.body", "body": body}


def content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers") or []:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


class Envelope:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {k.lower() for k, _ in message.get("headers") or []}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*(message.get("headers") or []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: a JSON 500, never a trace
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            log.error(
                "internal error on %s %s (%s at %s:%s)",
                scope["method"],
                scope["path"],
                type(exc).__name__,
                where.filename.rsplit("/", 1)[-1] if where else "?",
                where.lineno if where else "?",
            )
            if status == 0:
                start, body = _json(500, "internal error; the server log has the details")
                await send_with_headers(start)
                await send(body)
        finally:
            client = scope.get("client") or ("-", 0)
            access_log.info(
                '%s "%s %s" %s %.1f ms', client[0], scope["method"], scope["path"], status or 500,
                1000 * (time.perf_counter() - t0),
            )


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, upload_limit: Callable[[], int]) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = (scope["method"], scope["path"]) in UPLOAD_ROUTES
        limit = self.upload_limit() if upload else self.limit
        if not upload:  # an upload's Content-Length is checked by the route, after the key
            declared = content_length(scope)
            if declared is not None and declared > limit:
                start, body = _json(413, f"request body larger than {limit} bytes")
                await send(start)
                await send(body)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, counted, send)


class WriterLimit:
    """At most ``limit`` writing requests (any method but GET/HEAD/OPTIONS; uploads excepted: their database step is
    short and comes after the body) at a time. One more is answered 503 with Retry-After at once rather than queued
    for the thread pool, so writers waiting for a locked database never take every thread from readers (``GET /me``
    and the other reads keep answering). Set the limit below the thread pool's size (40 by default)."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, limit: int, retry_after_s: int) -> None:
        self.app, self.limit, self.retry_after_s = app, limit, retry_after_s
        self.busy = 0  # only touched on the event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in self.SAFE or (scope["method"], scope["path"]) in UPLOAD_ROUTES:
            await self.app(scope, receive, send)
            return
        if self.busy >= self.limit:
            log.warning("%d writes in progress: answered 503 to %s %s", self.busy, scope["method"], scope["path"])
            start, body = _json(
                503,
                "the database is busy with other writes: try again shortly",
                [(b"retry-after", str(self.retry_after_s).encode())],
            )
            await send(start)
            await send(body)
            return
        self.busy += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.busy -= 1
