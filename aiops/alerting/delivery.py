"""Delivering alerts off the caller's loop: `submit` only records what is to be sent (never waits, never
raises); a background task sends it, retrying with bounded exponential back-off while the receiver is
down. Both queues are bounded; what they drop is counted."""
from __future__ import annotations

import logging
import asyncio
import random
import time
from collections import OrderedDict, deque
from datetime import datetime
from typing import Any, Awaitable, Callable, Iterable, Sequence

import orjson

__all__ = ["Backoff", "AlertmanagerSink", "StreamSink"]

log = logging.getLogger(__name__)

PostAlerts = Callable[[list[dict[str, Any]]], Awaitable[None]]
Publish = Callable[[str, bytes, str], Awaitable[None]]  # subject, data, message id (dedup); raises until acked


class Backoff:
    """Exponential back-off with full jitter, capped; `reset` after a success."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s, self.max_s, self.failures = initial_s, max_s, 0

    def next_delay(self) -> float:
        self.failures += 1
        return random.uniform(0.5, 1.0) * min(self.max_s, self.initial_s * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


class _Sink:
    """The shared loop: wait for work, `_deliver`, back off on failure; counters for stats."""

    name = "sink"

    def __init__(self, backoff: Backoff, max_pending: int) -> None:
        self.backoff, self.max_pending = backoff, max_pending
        self.sent = self.errors = self.dropped = self.attempts = 0
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stop = False

    def pending(self) -> int:
        raise NotImplementedError

    async def _deliver(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        """Deliver until `stop`; never raises (a failure is counted and retried after the back-off)."""
        while not self._stop:
            if not self.pending():
                self._wake.clear()
                await self._wake.wait()
                continue
            self.attempts += 1
            try:
                await self._deliver()
                self.backoff.reset()
            except Exception as exc:  # noqa: BLE001 - any receiver failure: count, back off, retry
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("alert delivery failed, retrying after back-off: %s", self.last_error, exc_info=True)
                await self._sleep(self.backoff.next_delay())

    async def _sleep(self, s: float) -> None:
        try:
            await asyncio.wait_for(self._stopped.wait(), s)
        except asyncio.TimeoutError:
            pass

    def stop(self) -> None:
        self._stop = True
        self._stopped.set()
        self._wake.set()

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "pending": self.pending(), "errors": self.errors, "dropped": self.dropped,
                "last_error": self.last_error}


def _fingerprint(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(alert["labels"].items()))


def _ends(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00")).timestamp()


class AlertmanagerSink(_Sink):
    """Alertmanager v2: the latest form of each alert (by label set) waits to be POSTed; a newer form
    replaces an unsent older one, so a retry never sends stale state and the queue holds each alert once.
    An alert whose endsAt passed more than `stale_s` ago is dropped: Alertmanager resolved it already."""

    name = "alertmanager"

    def __init__(self, post: PostAlerts, backoff: Backoff, max_pending: int = 10_000, stale_s: float = 300.0,
                 batch: int = 500) -> None:
        super().__init__(backoff, max_pending)
        self._post, self.stale_s, self.batch = post, stale_s, batch
        self._pending: OrderedDict[tuple[tuple[str, str], ...], dict[str, Any]] = OrderedDict()

    def pending(self) -> int:
        return len(self._pending)

    def submit(self, alerts: Iterable[dict[str, Any]]) -> None:
        """Queue alerts for the next POST (returns at once)."""
        for a in alerts:
            fp = _fingerprint(a)
            self._pending.pop(fp, None)
            self._pending[fp] = a
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
            self.dropped += 1
        if self._pending:
            self._wake.set()

    async def _deliver(self) -> None:
        cutoff = time.time() - self.stale_s
        for fp in [fp for fp, a in self._pending.items() if _ends(a) < cutoff]:
            del self._pending[fp]
            self.dropped += 1
        while self._pending:
            chunk = list(self._pending.items())[: self.batch]
            await self._post([a for _, a in chunk])
            for fp, a in chunk:
                if self._pending.get(fp) is a:  # not replaced by a newer form meanwhile
                    del self._pending[fp]
            self.sent += len(chunk)


class StreamSink(_Sink):
    """A durable stream (JetStream): each event is published in order until the server acks it; while
    the server is down events wait in a bounded buffer. The message id lets the server drop the
    duplicate when an ack was lost and the event is published again."""

    name = "stream"

    def __init__(self, publish: Publish, backoff: Backoff, max_pending: int = 10_000) -> None:
        super().__init__(backoff, max_pending)
        self._publish = publish
        self._buffer: deque[tuple[str, bytes, str]] = deque()

    def pending(self) -> int:
        return len(self._buffer)

    def submit(self, subject: str, events: Sequence[dict[str, Any]]) -> None:
        """Queue events for publishing (returns at once)."""
        for ev in events:
            self._buffer.append((subject, orjson.dumps(ev), str(ev["id"])))
        while len(self._buffer) > self.max_pending:
            self._buffer.popleft()
            self.dropped += 1
        if self._buffer:
            self._wake.set()

    async def _deliver(self) -> None:
        while self._buffer:
            subject, data, msg_id = self._buffer[0]
            await self._publish(subject, data, msg_id)
            self._buffer.popleft()
            self.sent += 1
