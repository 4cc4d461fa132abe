"""Windows event log / Sysmon JSON → SecurityEvent.

Accepted shapes (all seen in public data):
- evtx dumps: ``{"Event": {"System": {...}, "EventData": {...} | "UserData": {...}}}``
  (SigmaHQ regression data);
- Azure Log Analytics rows: top-level ``EventID``/``Channel``/``Computer`` with ``EventData``
  as a JSON string (Sysmon) or an XML ``<EventData><Data Name=..>`` string (SecurityEvent);
- flat winlogbeat / NXLog style dicts with ``EventID`` and ``Channel`` at the top.

The Sigma logsource is derived the way SigmaHQ's Windows pipelines define it: the channel
gives the service (pySigma's ``windows_logsource_mapping``), the Sysmon event id gives the
category. Field names are kept as written by Windows; keys containing spaces also get a
space-less alias (``Source Name`` → ``SourceName``) because rules use that spelling.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from sigma.pipelines.common import windows_logsource_mapping

from aiops.security.events import LogSource, SecurityEvent, parse_timestamp
from aiops.security.parsers.base import ParseError, require_mapping

CHANNEL_TO_SERVICE: dict[str, str] = {}
for _svc, _chan in windows_logsource_mapping.items():
    for _c in [_chan] if isinstance(_chan, str) else _chan:
        CHANNEL_TO_SERVICE.setdefault(_c.lower(), _svc)

SYSMON_CATEGORIES: dict[int, tuple[str, ...]] = {
    1: ("process_creation",),
    2: ("file_change",),
    3: ("network_connection",),
    4: ("sysmon_status",),
    5: ("process_termination",),
    6: ("driver_load",),
    7: ("image_load",),
    8: ("create_remote_thread",),
    9: ("raw_access_thread",),
    10: ("process_access",),
    11: ("file_event",),
    12: ("registry_add", "registry_delete", "registry_event"),
    13: ("registry_set", "registry_event"),
    14: ("registry_rename", "registry_event"),
    15: ("create_stream_hash",),
    16: ("sysmon_status",),
    17: ("pipe_created",),
    18: ("pipe_created",),
    19: ("wmi_event",),
    20: ("wmi_event",),
    21: ("wmi_event",),
    22: ("dns_query",),
    23: ("file_delete",),
    24: ("clipboard_capture",),
    25: ("process_tampering",),
    26: ("file_delete", "file_delete_detected"),
    27: ("file_block_executable",),
    28: ("file_block_shredding",),
    29: ("file_executable_detected",),
    255: ("sysmon_error",),
}

# Other channels where Sigma defines an event-id based category.
CHANNEL_CATEGORIES: dict[tuple[str, int], tuple[str, ...]] = {
    ("security", 4688): ("process_creation",),
    ("microsoft-windows-powershell/operational", 4103): ("ps_module",),
    ("microsoft-windows-powershell/operational", 4104): ("ps_script",),
    ("powershellcore/operational", 4103): ("ps_module",),
    ("powershellcore/operational", 4104): ("ps_script",),
    ("windows powershell", 400): ("ps_classic_start",),
    ("windows powershell", 600): ("ps_classic_provider_start",),
    ("windows powershell", 800): ("ps_classic_script",),
}

# Security 4688 uses other names for what Sysmon/Sigma call Image and ParentImage.
SECURITY_4688_ALIASES = {"NewProcessName": "Image", "ParentProcessName": "ParentImage"}

_BARE_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos)(?!;)")
_USER_KEYS = ("User", "TargetUserName", "SubjectUserName", "UserName", "AccountName")
_SRC_IP_KEYS = ("SourceIp", "IpAddress", "SourceAddress", "ClientAddress")
_DST_IP_KEYS = ("DestinationIp", "DestAddress", "DestinationAddress")
_PROCESS_KEYS = ("Image", "NewProcessName", "ProcessName", "Application")


def _text(v: Any) -> Any:
    """evtx JSON wraps some values as {"#text": .., "#attributes": ..}."""
    if isinstance(v, dict) and "#text" in v:
        return v["#text"]
    return v


def _attr(v: Any, name: str) -> Any:
    if isinstance(v, dict):
        return (v.get("#attributes") or {}).get(name)
    return None


def _data_list(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items if isinstance(items, list) else [items]):
        name = _attr(item, "Name")
        out[name or f"Data{i}"] = _text(item)
    return out


def _event_data(ed: Any) -> dict[str, Any]:
    """EventData in any of its encodings → flat name/value dict."""
    if ed is None:
        return {}
    if isinstance(ed, str):
        s = ed.strip()
        if not s:
            return {}
        if s.startswith("{"):
            try:
                obj = json.loads(s)
            except json.JSONDecodeError as exc:
                raise ParseError("bad_eventdata_json", str(exc)) from None
            return obj if isinstance(obj, dict) else {}
        if s.startswith("<"):
            return _xml_event_data(s)
        return {"Data": s}
    if isinstance(ed, dict):
        out = {k: _text(v) for k, v in ed.items() if k not in ("#attributes", "Data")}
        if "Data" in ed:
            out.update(_data_list(ed["Data"]))
        return out
    raise ParseError("bad_eventdata", type(ed).__name__)


def event_data(ed: Any) -> dict[str, Any]:
    """Public name for other shape parsers: EventData in any encoding → flat name/value dict."""
    return _event_data(ed)


def _xml_event_data(s: str) -> dict[str, Any]:
    try:
        root = ET.fromstring(s)
    except ET.ParseError as exc:
        raise ParseError("bad_eventdata_xml", str(exc)) from None
    out: dict[str, Any] = {}
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "Data":
            out[el.get("Name") or f"Data{len(out)}"] = el.text or ""
    return out


def _user_data(ud: Any) -> dict[str, Any]:
    # UserData holds one provider-specific wrapper element; its children are the fields.
    if not isinstance(ud, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in ud.items():
        if isinstance(v, dict):
            out.update({kk: _text(vv) for kk, vv in v.items() if kk != "#attributes"})
        elif k != "#attributes":
            out[k] = _text(v)
    return out


def _as_int(v: Any) -> int | None:
    v = _text(v)
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def logsource_for(channel: str, event_id: int | None, product: str = "windows", event_type: str | None = None) -> LogSource:
    """Sigma logsource for a Windows (or Sysmon-for-Linux) channel + event id."""
    ch = channel.lower()
    if product == "linux":
        service = "sysmon"
    else:
        service = CHANNEL_TO_SERVICE.get(ch)
    cats: tuple[str, ...] = ()
    if event_id is not None:
        if service == "sysmon":
            cats = SYSMON_CATEGORIES.get(event_id, ())
            if event_id == 12 and event_type:  # Sysmon 12 is create or delete; EventType says which
                et = event_type.lower()
                if "create" in et:
                    cats = ("registry_add", "registry_event")
                elif "delete" in et:
                    cats = ("registry_delete", "registry_event")
        else:
            cats = CHANNEL_CATEGORIES.get((ch, event_id), ())
    return LogSource(product=product, service=service, categories=cats)


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = d.get(k)
        if v not in (None, "", "-"):
            return v
    return None


def build_windows_event(system: dict[str, Any], data: dict[str, Any], raw: Any, product: str = "windows") -> SecurityEvent:
    """Assemble the event from System-level metadata and the EventData fields."""
    channel = str(system.get("Channel") or "")
    if not channel:
        raise ParseError("missing_channel")
    event_id = _as_int(system.get("EventID"))
    if event_id is None:
        raise ParseError("missing_event_id")
    ts_val = system.get("TimeCreated") or data.get("UtcTime")
    try:
        ts = parse_timestamp(ts_val)
    except ValueError as exc:
        raise ParseError("bad_timestamp", str(exc)) from None
    fields: dict[str, Any] = dict(data)
    for k in list(fields):
        if " " in k:
            fields.setdefault(k.replace(" ", ""), fields[k])
    if channel.lower() == "security" and event_id == 4688:
        for src, dst in SECURITY_4688_ALIASES.items():
            if src in fields:
                fields.setdefault(dst, fields[src])
    meta = {
        "EventID": event_id,
        "Channel": channel,
        "Computer": system.get("Computer"),
        "Provider_Name": system.get("Provider_Name"),
        "Level": system.get("Level"),
        "Task": system.get("Task"),
        "Opcode": system.get("Opcode"),
        "Keywords": system.get("Keywords"),
        "EventRecordID": system.get("EventRecordID"),
        "Version": system.get("Version"),
    }
    for k, v in meta.items():
        if v is not None:
            fields.setdefault(k, v)
    ls = logsource_for(channel, event_id, product, str(fields.get("EventType") or "") or None)
    outcome = None
    if event_id in (4625, 4771, 4776) and channel.lower() == "security":
        outcome = "failure"
    elif event_id == 4624 and channel.lower() == "security":
        outcome = "success"
    return SecurityEvent(
        timestamp=ts,
        source="sysmon" if ls.service == "sysmon" else "windows",
        logsource=ls,
        host=system.get("Computer"),
        user=_first(fields, _USER_KEYS),
        src_ip=_first(fields, _SRC_IP_KEYS),
        dst_ip=_first(fields, _DST_IP_KEYS),
        process=_first(fields, _PROCESS_KEYS),
        action=(ls.categories[0] if ls.categories else f"{ls.service or channel}:{event_id}"),
        outcome=outcome,
        fields=fields,
        raw=raw,
    )


def parse_windows_event(rec: Any) -> SecurityEvent:
    """One Windows/Sysmon event in any supported JSON shape."""
    obj = require_mapping(rec)
    if "Event" in obj and isinstance(obj["Event"], dict):
        ev = obj["Event"]
        sysd = ev.get("System")
        if not isinstance(sysd, dict):
            raise ParseError("missing_system")
        system = {
            "Channel": _text(sysd.get("Channel")),
            "EventID": _text(sysd.get("EventID")),
            "Computer": _text(sysd.get("Computer")),
            "Provider_Name": _attr(sysd.get("Provider"), "Name"),
            "TimeCreated": _attr(sysd.get("TimeCreated"), "SystemTime"),
            "Level": _text(sysd.get("Level")),
            "Task": _text(sysd.get("Task")),
            "Opcode": _text(sysd.get("Opcode")),
            "Keywords": _text(sysd.get("Keywords")),
            "EventRecordID": _text(sysd.get("EventRecordID")),
            "Version": _text(sysd.get("Version")),
        }
        data = _event_data(ev.get("EventData"))
        data.update({k: v for k, v in _user_data(ev.get("UserData")).items() if k not in data})
        return build_windows_event(system, data, obj)
    if "EventID" in obj and ("Channel" in obj or "channel" in obj):
        system = {
            "Channel": obj.get("Channel") or obj.get("channel"),
            "EventID": obj.get("EventID"),
            "Computer": obj.get("Computer") or obj.get("Hostname") or obj.get("host"),
            "Provider_Name": obj.get("Provider") or obj.get("EventSourceName") or obj.get("SourceName"),
            "TimeCreated": obj.get("TimeCreated") or obj.get("TimeGenerated") or obj.get("@timestamp") or obj.get("EventTime"),
            "Level": obj.get("Level") or obj.get("EventLevel"),
            "Task": obj.get("Task"),
        }
        if "EventData" in obj:
            data = _event_data(obj["EventData"])
        else:  # flat: the record itself carries the event fields
            data = {k: v for k, v in obj.items() if not isinstance(v, (dict, list))}
        return build_windows_event(system, data, obj)
    raise ParseError("not_a_windows_event")


def parse_event_xml(xml: str, product: str = "windows") -> SecurityEvent:
    """A rendered ``<Event>`` XML document (Sysmon for Linux writes these to syslog)."""
    # Sysmon for Linux writes entities without the ';' ("&lt unknown process&gt").
    xml = _BARE_ENTITY.sub(r"&\1;", xml)
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ParseError("bad_event_xml", str(exc)) from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    system: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for child in root:
        if local(child.tag) == "System":
            for el in child:
                name = local(el.tag)
                if name == "Provider":
                    system["Provider_Name"] = el.get("Name")
                elif name == "TimeCreated":
                    system["TimeCreated"] = el.get("SystemTime")
                else:
                    system[name] = el.text
        elif local(child.tag) == "EventData":
            for el in child:
                data[el.get("Name") or local(el.tag)] = el.text or ""
    if product == "linux":
        system.setdefault("Channel", "Linux-Sysmon/Operational")
    return build_windows_event(system, data, xml, product=product)
