"""Fleet simulator ticks → normalised :class:`SecurityEvent` streams.

The simulator emits syslog lines (sshd, sudo, kernel) and platform event dicts (network flows,
VM lifecycle, API calls). Security components read only ``SecurityEvent``, so this module is
the one adapter: syslog lines go through the shared auth-syslog parser (same code path as
real auth.log files), event dicts through the platform-event parser (same code path as
records published on NATS). Lines the parser rejects (kernel noise is not an auth event)
are counted, never raised.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from aiops.security.events import Rejection, RejectionCounter, SecurityEvent
from aiops.security.parsers.base import ParseError
from aiops.security.parsers.linux import AuthSyslogParser
from aiops.security.parsers.platform_events import parse_platform_event
from aiops.telemetry.scenarios import HEALTH_EVENT_TYPES
from aiops.telemetry.simulator import Tick


class TickConverter:
    """Stateful converter (the syslog parser needs the year; rejections accumulate)."""

    def __init__(self, rejections: RejectionCounter | None = None) -> None:
        self.rejections = rejections if rejections is not None else RejectionCounter()
        self._parsers: dict[int, AuthSyslogParser] = {}
        self.skipped_lines = 0
        self.skipped_events = 0

    def _parser(self, ts: float) -> AuthSyslogParser:
        year = datetime.fromtimestamp(ts, tz=timezone.utc).year
        p = self._parsers.get(year)
        if p is None:
            p = self._parsers[year] = AuthSyslogParser(year)
        return p

    def convert(self, tick: Tick) -> list[SecurityEvent]:
        """All security-relevant events of one tick, time-ordered."""
        out: list[SecurityEvent] = []
        parser = self._parser(tick.ts)
        for line in tick.logs:
            if " kernel: " in line:
                self.skipped_lines += 1  # hardware telemetry, not security
                continue
            try:
                ev = parser(line)
            except ParseError as exc:
                self.rejections.add(Rejection("sim_syslog", exc.reason, None, line[:200]))
                continue
            if ev is not None and ev.action is not None:
                out.append(ev)
        for d in tick.events:
            if d.get("type") in HEALTH_EVENT_TYPES:
                self.skipped_events += 1  # host/VM health, not security
                continue
            try:
                out.append(parse_platform_event(d))
            except ParseError as exc:
                self.rejections.add(Rejection("sim_event", exc.reason, None, repr(d)[:200]))
        out.sort(key=lambda e: e.timestamp)
        return out

    def stream(self, ticks: Iterable[Tick]) -> Iterator[SecurityEvent]:
        for t in ticks:
            yield from self.convert(t)
