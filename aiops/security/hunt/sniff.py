"""Format auto-detection for recorded security logs: per JSON record, per text member.

Why per record for JSON: exports mix shapes (a Sentinel export holds AuditLogs, OfficeActivity and
SecurityEvent rows side by side). Text members are sniffed once from their first lines (Zeek TSV
header, auditd ``type=... msg=audit(``, syslog). An object no parser claims is rejected with the
keys it lacked, never dropped.
"""
from __future__ import annotations

from typing import Any

from aiops.security.parsers.microsoft import sniff_microsoft
from aiops.security.parsers.windows_shapes import is_windows_shape
from aiops.security.parsers.zeek_tsv import looks_like_zeek_tsv

__all__ = ["HUNT_FORMATS", "sniff_record", "sniff_text", "UNSUPPORTED"]

# --format choices (aliases of registry names included)
HUNT_FORMATS = ("auto", "windows", "winlogbeat", "sysmon", "zeek", "zeek_tsv", "cloudtrail", "auditd", "auth",
                "azure_ad", "m365", "office", "azure_syslog", "vmconnection", "novacron", "platform")

# Shapes seen in the wild that no parser handles yet, with the reason (reported, never hidden).
UNSUPPORTED = {
    "pcap": "packet captures: run Zeek over them first and hunt its logs",
    "xlsx": "spreadsheets (emulation plans, ground truth) are not telemetry",
    "csv": "tool-specific CSV exports (e.g. a honey-bucket alarm list) have no fixed columns; export the source "
           "logs (CloudTrail JSON) instead. Their lines are counted as unknown_text_format",
}


def sniff_record(obj: Any) -> str | None:
    """The parser name for one decoded JSON record, or None when no parser claims it."""
    if not isinstance(obj, dict):
        return None
    if is_windows_shape(obj):
        return "windows"
    if ("eventSource" in obj and "eventName" in obj) or isinstance(obj.get("Records"), list):
        return "cloudtrail"
    if "@stream" in obj or "_path" in obj or ("uid" in obj and ("id.orig_h" in obj or "id_orig_h" in obj)):
        return "zeek"
    ms = sniff_microsoft(obj)
    if ms:
        return ms
    if obj.get("Type") == "VMConnection":
        return "vmconnection"
    if "SyslogMessage" in obj:
        return "azure_syslog"
    return None


def missing_for(obj: Any) -> str:
    """Rejection reason for an unclaimed record: which identifying field it lacked."""
    if not isinstance(obj, dict):
        return f"not_an_object:{type(obj).__name__}"
    if any(k in obj for k in ("EventID", "EventId", "event_id")):
        return "unknown_shape:missing_Channel_or_provider"
    if "eventName" in obj or "eventSource" in obj:
        return "unknown_shape:missing_eventSource_or_eventName"
    return "unknown_shape:missing_EventID|eventName|@stream|OperationName|ActionType|Operation"


def sniff_text(first_lines: str) -> str | None:
    """The line parser for a non-JSON text member, from its first lines."""
    if looks_like_zeek_tsv(first_lines):
        return "zeek_tsv"
    if "msg=audit(" in first_lines:
        return "auditd"
    head = first_lines.lstrip()[:40]
    if head[:3].isalpha() and head[3:4] == " " or head[:4].isdigit() and head[4:5] == "-":
        return "auth"
    return None
