"""More Windows record shapes: Winlogbeat (old flat and ECS ``winlog``) and ETW captures without a channel.

Why a separate module: the base Windows parser (``windows.py``) handles evtx dumps, Log Analytics
rows and NXLog-style flat records; shippers in the field also write
- Winlogbeat 5/6: ``{"event_id", "log_name", "computer_name", "source_name", "event_data": {..}}``;
- Winlogbeat 7+/Elastic Agent (ECS): ``{"@timestamp", "winlog": {"channel", "event_id", "computer_name",
  "provider_name", "event_data": {..}}}``;
- ETW-derived records (SilkETW, some NXLog/ETW exports) whose ``Channel`` is null or absent but whose
  provider is named: the channel is taken from the provider (Sysmon → its Operational log, Security-Auditing
  → Security, ...), so Sigma's logsource mapping still applies.
A record with none of these is rejected naming the field that was missing.
"""
from __future__ import annotations

from typing import Any

from aiops.security.events import SecurityEvent
from aiops.security.parsers.base import ParseError, require_mapping
from aiops.security.parsers.windows import build_windows_event, event_data, parse_windows_event

__all__ = ["PROVIDER_CHANNEL", "parse_windows_any", "is_windows_shape"]

# ETW provider → the event-log channel the same events land in when a channel is configured.
PROVIDER_CHANNEL: dict[str, str] = {
    "microsoft-windows-sysmon": "Microsoft-Windows-Sysmon/Operational",
    "microsoft-windows-security-auditing": "Security",
    "microsoft-windows-eventlog": "Security",
    "microsoft-windows-powershell": "Microsoft-Windows-PowerShell/Operational",
    "powershell": "Windows PowerShell",
    "powershellcore": "PowerShellCore/Operational",
    "microsoft-windows-wmi-activity": "Microsoft-Windows-WMI-Activity/Operational",
    "microsoft-windows-taskscheduler": "Microsoft-Windows-TaskScheduler/Operational",
    "microsoft-windows-windows defender": "Microsoft-Windows-Windows Defender/Operational",
    "microsoft-windows-bits-client": "Microsoft-Windows-Bits-Client/Operational",
    "microsoft-windows-dns-client": "Microsoft-Windows-DNS Client Events/Operational",
    "microsoft-windows-ntlm": "Microsoft-Windows-NTLM/Operational",
    "service control manager": "System",
    "microsoft-windows-kernel-general": "System",
}

_WINLOG_KEYS = ("event_id", "log_name", "winlog")
_PROVIDER_KEYS = ("ProviderName", "Provider_Name", "SourceName", "Provider", "EventSourceName", "provider_name", "source_name")


def channel_from_provider(provider: Any) -> str | None:
    """The channel an ETW provider's events belong to; unknown providers name their own Operational log."""
    if isinstance(provider, dict):
        provider = provider.get("Name") or provider.get("#attributes", {}).get("Name")
    if not isinstance(provider, str) or not provider.strip():
        return None
    p = provider.strip()
    return PROVIDER_CHANNEL.get(p.lower(), f"{p}/Operational" if p.lower().startswith("microsoft-windows-") else p)


def is_windows_shape(obj: dict[str, Any]) -> bool:
    """Cheap sniff used by format auto-detection."""
    if isinstance(obj.get("Event"), dict) or isinstance(obj.get("winlog"), dict):
        return True
    if "event_id" in obj and ("log_name" in obj or "event_data" in obj):
        return True
    return ("EventID" in obj or "EventId" in obj) and any(k in obj for k in ("Channel", "channel", *_PROVIDER_KEYS))


def _winlogbeat(obj: dict[str, Any]) -> SecurityEvent:
    wl = obj.get("winlog") if isinstance(obj.get("winlog"), dict) else obj
    ev = obj.get("event") if isinstance(obj.get("event"), dict) else {}
    channel = wl.get("channel") or wl.get("log_name") or obj.get("log_name") or channel_from_provider(
        wl.get("provider_name") or wl.get("source_name") or ev.get("provider"))
    if not channel:
        raise ParseError("missing_channel", "winlogbeat record without log_name/winlog.channel/provider")
    event_id = wl.get("event_id", ev.get("code"))
    if event_id in (None, ""):
        raise ParseError("missing_event_id")
    host = obj.get("host") if isinstance(obj.get("host"), dict) else {}
    system = {
        "Channel": channel,
        "EventID": event_id,
        "Computer": wl.get("computer_name") or host.get("name") or host.get("hostname"),
        "Provider_Name": wl.get("provider_name") or wl.get("source_name"),
        "TimeCreated": obj.get("@timestamp") or wl.get("time_created") or ev.get("created"),
        "Level": wl.get("level"),
        "Task": wl.get("task"),
        "Opcode": wl.get("opcode"),
        "EventRecordID": wl.get("record_id"),
    }
    data = event_data(wl.get("event_data")) if wl.get("event_data") is not None else {}
    data.update({k: v for k, v in event_data(wl.get("user_data")).items() if k not in data} if isinstance(wl.get("user_data"), dict) else {})
    user = wl.get("user") if isinstance(wl.get("user"), dict) else {}
    if user.get("name") and "User" not in data:
        data["User"] = f"{user['domain']}\\{user['name']}" if user.get("domain") else user["name"]
    return build_windows_event(system, data, obj)


def _etw(obj: dict[str, Any]) -> SecurityEvent:
    provider = next((obj[k] for k in _PROVIDER_KEYS if obj.get(k)), None)
    channel = channel_from_provider(provider)
    if channel is None:
        raise ParseError("missing_channel", "no Channel and no provider name")
    fixed = dict(obj)
    fixed["Channel"] = channel
    if "EventID" not in fixed and "EventId" in fixed:
        fixed["EventID"] = fixed["EventId"]
    xml = fixed.pop("XmlEventData", None)
    if isinstance(xml, dict):  # SilkETW puts the payload here
        for k, v in xml.items():
            fixed.setdefault(k, v)
    fixed.setdefault("TimeCreated", fixed.get("TimeStamp") or fixed.get("Timestamp"))
    return parse_windows_event(fixed)


def parse_windows_any(rec: Any) -> SecurityEvent:
    """A Windows record in any shape this project knows; the rejection names what was missing."""
    obj = require_mapping(rec)
    if isinstance(obj.get("winlog"), dict) or ("event_id" in obj and ("log_name" in obj or "event_data" in obj)):
        return _winlogbeat(obj)
    if isinstance(obj.get("Event"), dict):
        return parse_windows_event(obj)
    if "EventID" in obj or "EventId" in obj:
        if obj.get("Channel") or obj.get("channel"):
            return parse_windows_event(obj)
        return _etw(obj)
    raise ParseError("missing_event_id", "not a Windows event (no EventID, event_id or winlog)")
