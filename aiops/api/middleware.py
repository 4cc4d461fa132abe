"""Pure-ASGI middleware: request latency histogram and the request-size limit.

Written against ASGI directly rather than Starlette's BaseHTTPMiddleware, which wraps
every response in extra tasks and halves throughput on the hot GET paths.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable

from aiops.api.metrics import ApiMetrics

__all__ = ["route_template", "TimingAndLimits"]


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


class TimingAndLimits:
    def __init__(self, app: Any, metrics: ApiMetrics, max_body_bytes: int, too_large: Callable[[int], Any]) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes
        self.too_large = too_large
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

        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_body:
            self.metrics.count_rejections(Counter(payload_too_large=1))
            await self.too_large(int(length))(scope, receive, send_status)
        else:
            await self.app(scope, receive, send_status)
        key = (route_template(scope), scope["method"], status[0])
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metrics.latency.labels(key[0], key[1], str(key[2]))
        child.observe(time.perf_counter() - start)
