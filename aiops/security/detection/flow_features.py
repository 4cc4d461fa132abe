"""A flow's shape as numbers, read from whichever flow format the event came from.

Platform flows (``bytes_out``, ``packets_out``, ``duration``, ``protocol``, ``src_port``), Zeek conn
(``orig_bytes``, ``orig_pkts``, ``duration``, ``proto``, ``id.orig_p``) and Azure VMConnection
(``BytesSent``, ``OriginatingBytes``) all land here. A field the source does not export reads as 0
and its column stays constant, which an isolation forest never splits on: the forest then works
from what the source has.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from aiops.security.correlation.entities import is_external
from aiops.security.detection.common import flow_port
from aiops.security.events import SecurityEvent

FLOW_COLUMNS = ("log_bytes_out", "log_bytes_in", "log_out_in_ratio", "log_packets_out", "log_packets_in",
                "log_bytes_per_packet_out", "log_bytes_per_packet_in", "log_duration_ms", "dst_external",
                "dst_port_fleet_frequency", "dst_port_well_known", "src_port_well_known",
                "proto_tcp", "proto_udp", "proto_other")

_ALIASES = {
    "bytes_out": ("bytes_out", "OriginatingBytes", "orig_bytes", "BytesSent"),
    "bytes_in": ("bytes_in", "RespondingBytes", "resp_bytes", "BytesReceived"),
    "packets_out": ("packets_out", "orig_pkts"),
    "packets_in": ("packets_in", "resp_pkts"),
    "duration": ("duration",),
    "protocol": ("protocol", "proto", "Protocol"),
    "src_port": ("src_port", "id.orig_p", "SourcePort"),
}
_PROTO_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmp"}


def number(v: Any) -> float:
    """A non-negative count from any source field: numbers or numeric text; anything else (None, "-", NaN) is 0."""
    try:
        x = float(v or 0)
    except (TypeError, ValueError):
        return 0.0
    return x if x > 0 and math.isfinite(x) else 0.0


def field(fields: dict[str, Any], name: str) -> Any:
    """The first present alias of a normalised flow field name."""
    for k in _ALIASES[name]:
        v = fields.get(k)
        if v is not None:
            return v
    return None


def protocol(fields: dict[str, Any]) -> str:
    """``tcp`` / ``udp`` / ``icmp`` / other text, or '' when unknown (names and IANA numbers both read)."""
    p = field(fields, "protocol")
    if p is None:
        return ""
    s = str(p).strip().lower()
    return _PROTO_NUMBERS.get(s, s)


def src_port(e: SecurityEvent) -> int:
    """The source port, or -1 when absent or junk."""
    try:
        return int(field(e.fields, "src_port"))
    except (TypeError, ValueError, OverflowError):
        return -1


def flow_row(e: SecurityEvent, port_freq: dict[int, float]) -> list[float]:
    """One row of :data:`FLOW_COLUMNS` for a flow."""
    f = e.fields
    bo, bi = number(field(f, "bytes_out")), number(field(f, "bytes_in"))
    po, pi = number(field(f, "packets_out")), number(field(f, "packets_in"))
    lo, li = math.log1p(bo), math.log1p(bi)
    port, sport, proto = flow_port(e), src_port(e), protocol(f)
    return [lo, li, lo - li, math.log1p(po), math.log1p(pi),
            math.log1p(bo / po) if po else 0.0, math.log1p(bi / pi) if pi else 0.0,
            math.log1p(1000.0 * number(field(f, "duration"))),
            1.0 if is_external(e.dst_ip) else 0.0, port_freq.get(port, 0.0),
            1.0 if 0 <= port < 1024 else 0.0, 1.0 if 0 <= sport < 1024 else 0.0,
            1.0 if proto == "tcp" else 0.0, 1.0 if proto == "udp" else 0.0,
            1.0 if proto not in ("", "tcp", "udp") else 0.0]


def flow_matrix(evs: list[SecurityEvent], port_freq: dict[int, float]) -> np.ndarray:
    """Rows of :data:`FLOW_COLUMNS` for a batch of flows (the isolation forest's input)."""
    x = np.zeros((len(evs), len(FLOW_COLUMNS)), np.float64)
    for i, e in enumerate(evs):
        x[i] = flow_row(e, port_freq)
    return x
