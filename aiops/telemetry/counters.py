"""Counters every collector keeps: what came in, what was stored, what was refused and why."""
from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from aiops.telemetry.batch import Rejection, reason_key

__all__ = ["CollectorStats"]

log = logging.getLogger(__name__)


@dataclass
class CollectorStats:
    name: str
    kind: str
    messages: int = 0
    samples_stored: int = 0
    events: int = 0
    lines_ignored: int = 0
    lines_truncated: int = 0  # cut to the line cap before parsing (still parsed)
    errors: int = 0
    rejections: Counter = field(default_factory=Counter)
    last_error: str | None = None
    started: float = field(default_factory=time.time)
    _recent: deque = field(default_factory=lambda: deque(maxlen=120))  # (wall time, samples stored)

    def stored(self, n: int) -> None:
        self.samples_stored += n
        self._recent.append((time.time(), n))

    def reject(self, rejections: Iterable[Rejection]) -> None:
        self.rejections.update(reason_key(r.reason) for r in rejections)

    def error(self, exc: BaseException | str) -> None:
        """Count and keep a failure (stats) and log it, with the traceback when there is one."""
        self.errors += 1
        self.last_error = str(exc)[:300]
        log.warning("collector %s: %s", self.name, self.last_error, extra={"collector": self.name},
                    exc_info=exc if isinstance(exc, BaseException) else None)

    def rate(self, horizon_s: float = 60.0) -> float:
        """Samples stored per wall second over the last minute."""
        now = time.time()
        recent = [(t, n) for t, n in self._recent if now - t <= horizon_s]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], 1.0)
        return sum(n for _, n in recent) / span

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "messages": self.messages, "samples_stored": self.samples_stored,
            "events": self.events, "lines_ignored": self.lines_ignored, "lines_truncated": self.lines_truncated,
            "errors": self.errors,
            "rejections": dict(self.rejections), "last_error": self.last_error,
            "samples_per_s": round(self.rate(), 1), "uptime_s": round(time.time() - self.started, 1),
        }
