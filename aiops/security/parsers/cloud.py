"""JSON sources → SecurityEvent: AWS CloudTrail, Zeek (conn/dns/http/...), NovaCron API audit, Azure VMConnection.

Source field names are kept for Sigma (CloudTrail ``eventName``, ``userIdentity.type``; Zeek
``query``, ``id.orig_h``). Zeek JSON exporters write ``id_orig_h`` or ``id.orig_h``; both are
exposed so SigmaHQ Zeek rules (dotted names) match either export.
"""
from __future__ import annotations

from typing import Any

from aiops.security.events import LogSource, SecurityEvent
from aiops.security.parsers.base import ParseError, record_timestamp, require_mapping


def parse_cloudtrail(rec: Any) -> list[SecurityEvent] | SecurityEvent:
    """One CloudTrail record, or a ``{"Records": [...]}`` delivery file object."""
    obj = require_mapping(rec)
    if isinstance(obj.get("Records"), list):
        return [parse_cloudtrail(r) for r in obj["Records"]]  # type: ignore[misc]
    name = obj.get("eventName")
    src = obj.get("eventSource")
    if not name or not src:
        raise ParseError("missing_event_name")
    ts = record_timestamp(obj.get("eventTime") or obj.get("@timestamp"))  # logstash exports drop eventTime
    ident = obj.get("userIdentity") if isinstance(obj.get("userIdentity"), dict) else {}
    user = ident.get("userName") or (ident.get("sessionContext") or {}).get("sessionIssuer", {}).get("userName")
    if not user and isinstance(ident.get("arn"), str):
        user = ident["arn"].rsplit("/", 1)[-1]
    req = obj.get("requestParameters") if isinstance(obj.get("requestParameters"), dict) else {}
    vm = req.get("instanceId")
    if vm is None and isinstance(req.get("instancesSet"), dict):
        items = req["instancesSet"].get("items") or []
        vm = items[0].get("instanceId") if items and isinstance(items[0], dict) else None
    err = obj.get("errorCode")
    return SecurityEvent(
        timestamp=ts,
        source="cloudtrail",
        logsource=LogSource(product="aws", service="cloudtrail"),
        host=obj.get("recipientAccountId"),
        vm_id=vm,
        user=user,
        src_ip=obj.get("sourceIPAddress"),
        process=obj.get("userAgent"),
        action=f"{str(src).split('.')[0]}:{name}",
        outcome="failure" if err else "success",
        fields=obj,
        raw=obj,
    )


# ----------------------------------------------------------------------------- Zeek

_ZEEK_CATEGORIES = {"dns": ("dns",)}
_ZEEK_ACTION = {"conn": "network_flow", "dns": "dns_query", "http": "http_request", "ssl": "tls_session",
                "kerberos": "kerberos", "smb_files": "smb_file", "smb_mapping": "smb_mapping", "dce_rpc": "rpc_call",
                "files": "file_transfer", "rdp": "rdp_session", "ntlm": "ntlm_auth"}


# Zeek's own bookkeeping, not network activity: loaded_scripts has no timestamp at all.
ZEEK_HOUSEKEEPING_STREAMS = frozenset({"loaded_scripts"})


def parse_zeek(rec: Any) -> SecurityEvent | None:
    """One Zeek JSON log record; the log type comes from ``@stream`` / ``_path``.

    Records of Zeek's bookkeeping streams (``loaded_scripts``) are skipped, not rejected.
    """
    obj = require_mapping(rec)
    stream = obj.get("@stream") or obj.get("_path") or obj.get("log_type")
    if not stream:
        raise ParseError("missing_zeek_stream")
    if stream in ZEEK_HOUSEKEEPING_STREAMS and "ts" not in obj:
        return None
    ts = record_timestamp(obj.get("ts"))
    fields = dict(obj)
    for k in list(obj):
        if k.startswith("id_"):  # id_orig_h → id.orig_h (Sigma spelling)
            fields.setdefault("id." + k[3:], obj[k])
        elif k.startswith("id."):
            fields.setdefault("id_" + k[3:], obj[k])
    src = fields.get("id.orig_h")
    dst = fields.get("id.resp_h")
    outcome = None
    if stream == "conn":
        state = obj.get("conn_state")
        outcome = "failure" if state in ("S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR", "OTH") else "success"
    elif stream == "http" and isinstance(obj.get("status_code"), int):
        outcome = "failure" if obj["status_code"] >= 400 else "success"
    elif stream == "dns" and obj.get("rcode_name"):
        outcome = "success" if obj.get("rcode_name") == "NOERROR" else "failure"
    return SecurityEvent(
        timestamp=ts,
        source="zeek",
        logsource=LogSource(product="zeek", service=str(stream), categories=_ZEEK_CATEGORIES.get(str(stream), ())),
        host=None,  # @system is the sensor, not an endpoint; endpoints are src_ip/dst_ip
        user=obj.get("username") or obj.get("client") or obj.get("user"),
        src_ip=src,
        dst_ip=dst,
        action=_ZEEK_ACTION.get(str(stream), str(stream)),
        outcome=outcome,
        fields=fields,
        raw=obj,
    )


# ----------------------------------------------------------------------------- NovaCron API audit

_NOVACRON_TS = ("timestamp", "ts", "time", "@timestamp")


def parse_novacron_audit(rec: Any) -> SecurityEvent:
    """NovaCron control-plane API audit record.

    Expected keys (extra keys are kept as fields): ``timestamp``, ``actor`` (or ``user``),
    ``source_ip``, ``action`` (e.g. ``vm.migrate``) or ``method`` + ``path``, ``vm_id`` /
    ``resource``, ``status`` (HTTP code) or ``outcome``, ``host``, ``request_id``.
    """
    obj = require_mapping(rec)
    ts_val = next((obj[k] for k in _NOVACRON_TS if k in obj), None)
    ts = record_timestamp(ts_val)
    action = obj.get("action")
    if not action:
        if obj.get("method") and obj.get("path"):
            action = f"{str(obj['method']).upper()} {obj['path']}"
        else:
            raise ParseError("missing_action")
    status = obj.get("status")
    outcome = obj.get("outcome")
    if outcome is None and status is not None:
        try:
            code = int(status)
        except (TypeError, ValueError):
            raise ParseError("bad_status", repr(status)) from None
        outcome = "denied" if code in (401, 403) else ("failure" if code >= 400 else "success")
    return SecurityEvent(
        timestamp=ts,
        source="novacron",
        logsource=LogSource(product="novacron", service="api_audit"),
        host=obj.get("host"),
        vm_id=obj.get("vm_id") or obj.get("resource"),
        user=obj.get("actor") or obj.get("user"),
        src_ip=obj.get("source_ip") or obj.get("src_ip"),
        process=obj.get("client") or obj.get("user_agent"),
        action=str(action),
        outcome=outcome,
        tags=tuple(obj.get("tags") or ()),
        fields=obj,
        raw=obj,
    )


# ----------------------------------------------------------------------------- Azure VMConnection

def parse_vmconnection(rec: Any) -> SecurityEvent:
    """Azure VM Insights ``VMConnection`` row: per-VM process-level connection summary."""
    obj = require_mapping(rec)
    if obj.get("Type") not in (None, "VMConnection"):
        raise ParseError("not_vmconnection", str(obj.get("Type")))
    ts = record_timestamp(obj.get("TimeGenerated"))
    return SecurityEvent(
        timestamp=ts,
        source="vmconnection",
        logsource=LogSource(product="azure", service="vmconnection", categories=("network_connection",)),
        host=obj.get("Computer"),
        vm_id=obj.get("_ResourceId"),
        src_ip=obj.get("SourceIp"),
        dst_ip=obj.get("DestinationIp"),
        process=obj.get("ProcessName"),
        action="network_flow",
        outcome="success" if obj.get("LinksFailed", 0) in (0, None) else "failure",
        fields=obj,
        raw=obj,
    )
