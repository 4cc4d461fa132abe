"""Raw security payloads → events where they arrive, so the correlator only correlates.

A collector (NATS consumer, simulator driver) holds one :class:`SecurityIntake`: it decodes
each payload (JSON lines / array / concatenated objects, or text lines), parses it with one
long-lived parser per format (auditd groups lines, BSD syslog needs a year), and counts every
bad record with its reason. The events and the rejection counts then travel to the
correlator actor together, one call per batch; parsing runs on the collector's core.
"""
from __future__ import annotations

from typing import Any

from aiops.security.events import Rejection, RejectionCounter, SecurityEvent
from aiops.security.parsers.base import RecordParser
from aiops.security.parsers.registry import formats, get_parser, iter_json_records, parse_records
from aiops.security.simulated_events import TickConverter


class SecurityIntake:
    """``matcher`` (a :class:`~aiops.security.sigma.pipeline.DetectionPipeline`), when given, runs
    Sigma's single-event matching on every parsed event here, on the collector's core."""

    def __init__(self, year: int | None = None, matcher: Any = None) -> None:
        self.year = year
        self.matcher = matcher
        self.rejections = RejectionCounter()
        self.ticks = TickConverter(self.rejections)
        self._formats = frozenset(formats())
        self._parsers: dict[str, RecordParser] = {}
        self.events = 0

    def _parser(self, fmt: str) -> RecordParser:
        p = self._parsers.get(fmt)
        if p is None:
            p = self._parsers[fmt] = get_parser(fmt, self.year)
        return p

    def parse_payload(self, fmt: str, payload: bytes | str) -> list[SecurityEvent]:
        """Events of one message of format ``fmt``; an unknown format rejects the whole payload."""
        if fmt not in self._formats:
            sample = payload[:200]
            self.rejections.add(Rejection(fmt, "unknown_format", None, sample.decode("utf-8", errors="replace")
                                          if isinstance(sample, (bytes, bytearray)) else sample))
            return []
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, (bytes, bytearray)) else payload
        records: Any = iter_json_records(text) if text.lstrip()[:1] in ("{", "[") else text.splitlines()
        out = list(parse_records(fmt, records, self.rejections, parser=self._parser(fmt)))
        self.events += len(out)
        return self._prematch(out)

    def parse_ticks(self, ticks: list[Any]) -> list[SecurityEvent]:
        """Security events of simulator ticks (auth lines and platform events)."""
        out = [e for t in ticks for e in self.ticks.convert(t)]
        self.events += len(out)
        return self._prematch(out)

    def _prematch(self, events: list[SecurityEvent]) -> list[SecurityEvent]:
        m = self.matcher
        if m is not None:
            for ev in events:
                m.prematch(ev)
        return events
