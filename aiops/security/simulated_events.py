"""Fleet simulator ticks → normalised :class:`SecurityEvent` streams.

The simulator emits syslog lines (sshd, sudo, kernel) and event dicts (network flows, VM
lifecycle, API calls). Security components read only ``SecurityEvent``, so this module is
the one adapter: syslog lines go through the shared auth-syslog parser (same code path as
real auth.log files), event dicts are mapped field by field. Lines the parser rejects
(kernel noise is not an auth event) are counted, never raised.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from aiops.security.events import LogSource, Rejection, RejectionCounter, SecurityEvent
from aiops.security.parsers import ParseError
from aiops.security.parsers_linux import AuthSyslogParser
from aiops.telemetry.simulator import Tick

_FLOW_LS = LogSource(product="novacron", service="flow", categories=("network_connection",))
_VM_LS = LogSource(product="novacron", service="vm_lifecycle")
_API_LS = LogSource(product="novacron", service="api_audit")


def flow_event(d: dict[str, Any]) -> SecurityEvent:
    """A simulator/NovaCron network flow record (host, src_ip, dst_ip, dst_port, bytes_out, bytes_in)."""
    return SecurityEvent(
        timestamp=float(d["ts"]), source="novacron_flow", logsource=_FLOW_LS, host=d.get("host"),
        vm_id=d.get("vm_id"), src_ip=d.get("src_ip"), dst_ip=d.get("dst_ip"), action="network_flow",
        outcome="success",
        fields={"dst_port": d.get("dst_port"), "bytes_out": d.get("bytes_out", 0), "bytes_in": d.get("bytes_in", 0)},
        raw=d,
    )


def dict_event(d: dict[str, Any]) -> SecurityEvent | None:
    """Map one simulator event dict; None for unknown types (counted by the caller)."""
    typ = d.get("type")
    if typ == "network_flow":
        return flow_event(d)
    if typ == "vm_lifecycle":
        return SecurityEvent(timestamp=float(d["ts"]), source="novacron", logsource=_VM_LS, host=d.get("host"),
                             vm_id=d.get("vm_id"), user=d.get("tenant") and f"svc-{d['tenant']}", action=f"vm.{d.get('action')}",
                             outcome="success", fields={"tenant": d.get("tenant")}, raw=d)
    if typ == "api_call":
        return SecurityEvent(timestamp=float(d["ts"]), source="novacron", logsource=_API_LS, vm_id=d.get("vm_id"),
                             user=d.get("user"), action=str(d.get("action")), outcome=d.get("outcome"),
                             fields={"tenant": d.get("tenant")}, raw=d)
    return None


class TickConverter:
    """Stateful converter (the syslog parser needs the year; rejections accumulate)."""

    def __init__(self, rejections: RejectionCounter | None = None) -> None:
        self.rejections = rejections if rejections is not None else RejectionCounter()
        self._parsers: dict[int, AuthSyslogParser] = {}
        self.skipped_lines = 0

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
            ev = dict_event(d)
            if ev is None:
                self.rejections.add(Rejection("sim_event", f"unknown_type:{d.get('type')}", None, repr(d)[:200]))
                continue
            out.append(ev)
        out.sort(key=lambda e: e.timestamp)
        return out

    def stream(self, ticks: Iterable[Tick]) -> Iterator[SecurityEvent]:
        for t in ticks:
            yield from self.convert(t)
