"""One source's alerting: an `AlertBoard` turns what is active now into Alertmanager payloads and stream
events, which go to the sinks. `evaluate` is synchronous and cheap (it queues, the sinks' tasks send),
so a monitor or correlator loop never waits on a receiver."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Iterable

from aiops.alerting.board import AlertBoard, AlertSpec, Evaluation
from aiops.alerting.delivery import AlertmanagerSink, StreamSink
from aiops.alerting.severity import at_least

__all__ = ["Alerter"]


class Alerter:
    """Alerts of one `source` (e.g. "failure", "security") at or above `min_severity`; each evaluation
    keeps them valid for `hold_s`. Sinks are optional (None: not configured)."""

    def __init__(self, source: str, hold_s: float, min_severity: str = "low",
                 alertmanager: AlertmanagerSink | None = None, stream: StreamSink | None = None,
                 subject: str | None = None) -> None:
        if stream is not None and not subject:
            raise ValueError("a stream sink needs a subject")
        self.board = AlertBoard(source, hold_s)
        self.min_severity = min_severity
        self.alertmanager, self.stream, self.subject = alertmanager, stream, subject
        self.evaluations = 0
        self.firing = self.resolved = 0
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def sinks(self) -> list[AlertmanagerSink | StreamSink]:
        return [s for s in (self.alertmanager, self.stream) if s is not None]

    def start(self) -> None:
        """Start the sinks' delivery tasks on the running loop (once)."""
        if not self._tasks:
            self._tasks = [asyncio.get_running_loop().create_task(s.run()) for s in self.sinks]

    async def stop(self, drain_s: float = 2.0) -> None:
        """Give pending deliveries up to `drain_s`, then stop the tasks."""
        deadline = time.monotonic() + drain_s
        while any(s.pending() for s in self.sinks) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for s in self.sinks:
            s.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def evaluate(self, specs: Iterable[AlertSpec], now: float | None = None) -> Evaluation:
        """Everything active now (below `min_severity` counts as not active); queues the sends."""
        now = time.time() if now is None else now
        out = self.board.evaluate((s for s in specs if at_least(s.severity, self.min_severity)), now)
        self.evaluations += 1
        self.firing = len(out.firing)
        self.resolved += len(out.resolved)
        if self.alertmanager is not None and out.alerts:
            self.alertmanager.submit(out.alerts)
        if self.stream is not None and out.events and self.subject:
            self.stream.submit(self.subject, out.events)
        return out

    def stats(self) -> dict[str, Any]:
        """Counters for status and the tests: active alerts, resolves, each sink's delivery."""
        return {"source": self.board.source, "evaluations": self.evaluations, "firing": self.firing,
                "resolved": self.resolved, **{s.name: s.stats() for s in self.sinks}}
