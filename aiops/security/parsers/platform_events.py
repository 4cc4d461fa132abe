"""NovaCron platform events → SecurityEvent: VM network flows, VM lifecycle changes, API calls.

These are the records the NovaCron control plane (and the built-in fleet simulator) publishes
as JSON on ``<prefix>.events.security.platform``: ``{"type": "network_flow" | "vm_lifecycle" |
"api_call", "ts": <epoch or ISO>, ...}``. One parser serves both, so the simulator exercises
exactly the code path real platform events take.
"""
from __future__ import annotations

from typing import Any

from aiops.security.events import LogSource, SecurityEvent
from aiops.security.parsers.base import ParseError, record_timestamp, require_mapping

FLOW_LOGSOURCE = LogSource(product="novacron", service="flow", categories=("network_connection",))
VM_LOGSOURCE = LogSource(product="novacron", service="vm_lifecycle")
API_LOGSOURCE = LogSource(product="novacron", service="api_audit")
PLATFORM_EVENT_TYPES = ("network_flow", "vm_lifecycle", "api_call")


def _count(d: dict[str, Any], key: str) -> int:
    v = d.get(key, 0)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != v:
        raise ParseError(f"bad_{key}", repr(v)[:50])
    return int(v)


def _text(d: dict[str, Any], key: str, required: bool = False) -> str | None:
    """A string field: absent/None allowed unless ``required``; any other type is a rejection
    (entity values become graph nodes and profile keys, so they must be hashable text)."""
    v = d.get(key)
    if v is None or v == "":
        if required:
            raise ParseError(f"missing_{key}")
        return None
    if not isinstance(v, str):
        raise ParseError(f"bad_{key}", repr(v)[:50])
    return v


def _port(d: dict[str, Any], key: str) -> int | None:
    port = d.get(key)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise ParseError(f"bad_{key}", repr(port)[:50])
    return port


def _optional(d: dict[str, Any], key: str, number: type) -> Any:
    """An optional non-negative number: None when absent (the detector then knows it is unknown, not 0)."""
    if d.get(key) is None:
        return None
    return number(_count(d, key)) if number is int else _seconds(d, key)


def _seconds(d: dict[str, Any], key: str) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1e9:
        raise ParseError(f"bad_{key}", repr(v)[:50])
    return float(v)


def flow_event(d: dict[str, Any]) -> SecurityEvent:
    """A VM network flow: host, src_ip, dst_ip, dst_port, bytes_out, bytes_in and, when the exporter has them,
    src_port, protocol (name or IANA number), duration (seconds), packets_out, packets_in."""
    if not d.get("src_ip") or not d.get("dst_ip"):
        raise ParseError("missing_ip")
    src, dst = _text(d, "src_ip"), _text(d, "dst_ip")
    proto = d.get("protocol")
    if proto is not None and (isinstance(proto, bool) or not isinstance(proto, (int, str)) or len(str(proto)) > 16):
        raise ParseError("bad_protocol", repr(proto)[:50])
    fields = {"dst_port": _port(d, "dst_port"), "bytes_out": _count(d, "bytes_out"), "bytes_in": _count(d, "bytes_in")}
    extra = {"src_port": _port(d, "src_port"), "protocol": proto, "duration": _optional(d, "duration", float),
             "packets_out": _optional(d, "packets_out", int), "packets_in": _optional(d, "packets_in", int)}
    fields.update({k: v for k, v in extra.items() if v is not None})
    return SecurityEvent(
        timestamp=record_timestamp(d.get("ts")), source="novacron_flow", logsource=FLOW_LOGSOURCE, host=_text(d, "host"),
        vm_id=_text(d, "vm_id"), src_ip=src, dst_ip=dst, action="network_flow", outcome="success",
        fields=fields, raw=d,
    )


def parse_platform_event(rec: Any) -> SecurityEvent:
    """One platform event record; unknown types and malformed values raise :class:`ParseError`."""
    d = require_mapping(rec)
    typ = d.get("type")
    if typ == "network_flow":
        return flow_event(d)
    if typ == "vm_lifecycle":
        action, tenant = _text(d, "action", required=True), _text(d, "tenant")
        return SecurityEvent(timestamp=record_timestamp(d.get("ts")), source="novacron", logsource=VM_LOGSOURCE, host=_text(d, "host"),
                             vm_id=_text(d, "vm_id"), user=tenant and f"svc-{tenant}", action=f"vm.{action}",
                             outcome="success", fields={"tenant": tenant}, raw=d)
    if typ == "api_call":
        action = _text(d, "action", required=True)
        return SecurityEvent(timestamp=record_timestamp(d.get("ts")), source="novacron", logsource=API_LOGSOURCE, vm_id=_text(d, "vm_id"),
                             user=_text(d, "user"), action=action, outcome=_text(d, "outcome"),
                             fields={"tenant": _text(d, "tenant")}, raw=d)
    raise ParseError(f"unknown_type:{str(typ)[:40]}")
