"""Pure-ASGI middleware: request ids, the access log, the latency histogram and the request-body bounds
(size, JSON depth).

Written against ASGI directly rather than Starlette's BaseHTTPMiddleware, which wraps
every response in extra tasks and halves throughput on the hot GET paths.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Callable

from aiops.api.metrics import ApiMetrics
from aiops.logs import clean_request_id, request_scope
from aiops.telemetry.bounds import MAX_JSON_DEPTH, json_too_deep

__all__ = ["route_template", "RequestIds", "TimingAndLimits", "BodyTooLarge", "read_body", "replay"]

access_log = logging.getLogger("aiops.access")


def route_template(scope: dict) -> str:
    """'/api/ai/predictions/failures/{target_id}': low-cardinality label for a request.

    FastAPI >= 0.16x keeps included routers' prefixes on the include context instead of
    copying them into each route, so the prefix is added back here.
    """
    path = getattr(scope.get("route"), "path", None)
    if path is None:
        return "unmatched"
    ctx = getattr((scope.get("fastapi") or {}).get("included_router"), "include_context", None)
    prefix = getattr(ctx, "prefix", "") or ""
    return path if path.startswith(prefix) else prefix + path


class BodyTooLarge(Exception):
    """The body grew past the limit while it was being received (raised inside the middleware only)."""


async def read_body(receive: Any, limit: int) -> tuple[bytes, list[dict]]:
    """The whole body, counted as it arrives (chunked too), and any non-body messages seen meanwhile.

    Raises BodyTooLarge as soon as the count passes `limit`: the rest is never read into memory.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]  # a disconnect: hand it on to the app
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


def replay(body: bytes, pending: list[dict], receive: Any) -> Callable[[], Any]:
    """A `receive` that gives the app the buffered body once, then the real channel (disconnects)."""
    queue = [{"type": "http.request", "body": body, "more_body": False}, *pending]

    async def receive_again() -> dict:
        return queue.pop(0) if queue else await receive()

    return receive_again


class RequestIds:
    """Every request runs under an id (the client's X-Request-ID when it is a plain token, else a new one), so
    the access line, the handlers' logs and the actors they call (`aiops.logs.request_kwargs`) share it.
    `echo` adds it to the response; off behind Ray Serve, whose proxy already echoes the id it chose."""

    def __init__(self, app: Any, echo: bool = True) -> None:
        self.app = app
        self.echo = echo

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = clean_request_id(raw.decode("latin-1") if raw is not None else None)

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        with request_scope(rid):
            await self.app(scope, receive, send_with_id if self.echo else send)


class TimingAndLimits:
    """Latency histogram per route (and one access-log line per request), and the body bounds: bytes counted
    as received (413) and JSON nesting (400), both answered before any route or decoder sees the body."""

    def __init__(self, app: Any, metrics: ApiMetrics, max_body_bytes: int, too_large: Callable[[int], Any],
                 max_json_depth: int = MAX_JSON_DEPTH, too_deep: Callable[[int], Any] | None = None,
                 access: bool = False) -> None:
        self.app = app
        self.access = access
        self.metrics = metrics
        self.max_body = max_body_bytes
        self.too_large = too_large
        self.max_depth = max_json_depth
        self.too_deep = too_deep
        self._children: dict[tuple[str, str, int], Any] = {}  # labelled histogram children, looked up once

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        refusal = await self._bounded(scope, receive)
        if isinstance(refusal, tuple):
            reason, answer = refusal
            self.metrics.count_rejections(Counter({reason: 1}))
            await answer(scope, receive, send_status)
        else:
            await self.app(scope, refusal, send_status)
        key = (route_template(scope), scope["method"], status[0])
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metrics.latency.labels(key[0], key[1], str(key[2]))
        elapsed = time.perf_counter() - start
        child.observe(elapsed)
        if self.access and access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %d", scope["method"], key[0], key[2],
                            extra={"route": key[0], "method": scope["method"], "status": key[2],
                                   "duration_ms": round(elapsed * 1000, 2)})

    async def _bounded(self, scope: dict, receive: Any) -> Any:
        """A receive for the app, or (rejection reason, error response) when the body breaks a bound."""
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return receive
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return "payload_too_large", self.too_large(int(length))
        try:
            body, pending = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            return "payload_too_large", self.too_large(int(exc.args[0]))
        if self.too_deep is not None and json_too_deep(body, self.max_depth):
            return "json_too_deep", self.too_deep(self.max_depth)
        return replay(body, pending, receive)
