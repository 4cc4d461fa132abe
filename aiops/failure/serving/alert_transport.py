"""Delivering failure alerts: each new alert to NATS (one message per alert) and, batched, to an
Alertmanager-compatible webhook. The clients are injected; a failed delivery is counted, never raised,
so one unreachable sink neither stops the other nor the monitor."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Sequence

import json

from aiops.failure.serving.alerts import alertmanager_payload

__all__ = ["AlertTransport"]


class AlertTransport:
    """Sends alerts to NATS through a connection made by `connect_nats` (re-made after it closes) and to a
    webhook through `post_webhook(url, json_body)`; either may be None (not configured)."""

    def __init__(self, subject: str, connect_nats: Callable[[], Awaitable[Any]] | None = None,
                 webhook_url: str | None = None,
                 post_webhook: Callable[[str, Any], Awaitable[None]] | None = None) -> None:
        self.subject = subject
        self._connect_nats = connect_nats
        self.webhook_url = webhook_url
        self._post_webhook = post_webhook
        self._nc: Any | None = None
        self.errors = 0
        self.last_error: str | None = None

    def _failed(self, sink: str, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{sink}: {exc}"

    async def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Deliver new alerts to every configured sink."""
        if not alerts:
            return
        if self._connect_nats is not None:
            try:
                if self._nc is None or self._nc.is_closed:
                    self._nc = await self._connect_nats()
                for a in alerts:
                    await self._nc.publish(self.subject, json.dumps(a).encode())
            except Exception as exc:
                self._failed("nats", exc)
        if self.webhook_url and self._post_webhook is not None:
            try:
                await self._post_webhook(self.webhook_url, alertmanager_payload(alerts))
            except Exception as exc:
                self._failed("webhook", exc)
