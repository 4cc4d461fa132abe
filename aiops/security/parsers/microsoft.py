"""Microsoft cloud records: Azure AD (Entra) audit and sign-in logs, Microsoft 365 Defender, OfficeActivity.

Shapes accepted (each in both its Log Analytics / Sentinel export and its native API form):
- Azure AD audit: ``OperationName``/``activityDisplayName`` + ``TargetResources``/``InitiatedBy``
  (``Type: AuditLogs``); sign-ins: ``Type: SigninLogs`` or ``UserPrincipalName`` + ``ResultType``/``status``.
- Microsoft 365 Defender advanced hunting: ``ActionType`` + ``DeviceName`` (Sentinel ``Type: Device*``),
  or the streaming API's ``{"category": "AdvancedHunting-<Table>", "properties": {...}}``. Process, network,
  file, registry and image-load tables are also given the Windows Sigma category and Sysmon field names
  (as pySigma's Microsoft 365 Defender pipeline maps them), so the Windows rules apply to them.
- OfficeActivity / the unified audit log: ``Operation`` + ``RecordType`` or ``OfficeWorkload``/``Workload``.
Why: these are what a Golden-SAML-to-mailbox intrusion leaves; without them the cloud half is invisible.
"""
from __future__ import annotations

import json
from typing import Any

from aiops.security.events import LogSource, SecurityEvent
from aiops.security.parsers.base import ParseError, record_timestamp, require_mapping

__all__ = ["parse_azure_ad", "parse_m365_defender", "parse_office_activity", "sniff_microsoft"]

_TS_KEYS = ("TimeGenerated", "Timestamp", "activityDateTime", "createdDateTime", "CreationTime", "time", "@timestamp")

# Defender table → (Windows Sigma category, Defender column → Sysmon/Sigma field name)
_PROC = {"FolderPath": "Image", "ProcessCommandLine": "CommandLine", "InitiatingProcessFolderPath": "ParentImage",
         "InitiatingProcessCommandLine": "ParentCommandLine", "ProcessVersionInfoOriginalFileName": "OriginalFileName",
         "SHA256": "Hashes", "AccountName": "User"}
_INIT = {"InitiatingProcessFolderPath": "Image", "InitiatingProcessCommandLine": "CommandLine",
         "InitiatingProcessAccountName": "User"}
DEFENDER_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "deviceprocessevents": ("process_creation", _PROC),
    "devicenetworkevents": ("network_connection", {**_INIT, "RemoteIP": "DestinationIp", "RemotePort": "DestinationPort",
                                                   "RemoteUrl": "DestinationHostname", "LocalIP": "SourceIp"}),
    "devicefileevents": ("file_event", {**_INIT, "FolderPath": "TargetFilename"}),
    "deviceregistryevents": ("registry_event", {**_INIT, "RegistryKey": "TargetObject", "RegistryValueData": "Details"}),
    "deviceimageloadevents": ("image_load", {**_INIT, "FolderPath": "ImageLoaded"}),
}


def _ts(obj: dict[str, Any]) -> float:
    return record_timestamp(next((obj[k] for k in _TS_KEYS if obj.get(k)), None))


def _maybe_json(v: Any) -> Any:
    """Log Analytics exports nested columns as JSON strings."""
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def sniff_microsoft(obj: dict[str, Any]) -> str | None:
    """'azure_ad' | 'm365' | 'office' for a record of those shapes, else None (format auto-detection)."""
    typ = str(obj.get("Type") or "")
    if typ in ("AuditLogs", "SigninLogs", "AADNonInteractiveUserSignInLogs") or "activityDisplayName" in obj:
        return "azure_ad"
    if "OperationName" in obj and ("TargetResources" in obj or "InitiatedBy" in obj):
        return "azure_ad"
    if "UserPrincipalName" in obj and ("ResultType" in obj or "status" in obj or "AppDisplayName" in obj):
        return "azure_ad"
    if typ.startswith(("Device", "Email", "Identity", "Alert")) and "ActionType" in obj:
        return "m365"
    if "ActionType" in obj and "DeviceName" in obj or str(obj.get("category", "")).startswith("AdvancedHunting-"):
        return "m365"
    if typ == "OfficeActivity" or ("Operation" in obj and ("RecordType" in obj or "OfficeWorkload" in obj or "Workload" in obj)):
        return "office"
    return None


def _identity(init: Any) -> tuple[str | None, str | None]:
    init = _maybe_json(init)
    if not isinstance(init, dict):
        return None, None
    for k in ("user", "app", "servicePrincipal"):
        who = init.get(k)
        if isinstance(who, dict):
            return (who.get("userPrincipalName") or who.get("displayName") or who.get("appId")), who.get("ipAddress")
    return None, None


def parse_azure_ad(rec: Any) -> SecurityEvent:
    """One Azure AD (Entra ID) audit or sign-in record."""
    obj = require_mapping(rec)
    typ = str(obj.get("Type") or "")
    signin = typ.endswith("SignInLogs") or typ == "SigninLogs" or ("UserPrincipalName" in obj and "OperationName" not in obj
                                                                  and "activityDisplayName" not in obj)
    op = obj.get("OperationName") or obj.get("activityDisplayName") or ("Sign-in activity" if signin else None)
    if not op:
        raise ParseError("missing_operation_name", "Azure AD record without OperationName/activityDisplayName")
    ts = _ts(obj)
    fields = {k: _maybe_json(v) for k, v in obj.items()}
    user, ip = _identity(fields.get("InitiatedBy") or fields.get("initiatedBy"))
    user = user or obj.get("UserPrincipalName") or obj.get("userPrincipalName") or obj.get("Identity")
    ip = ip or obj.get("IPAddress") or obj.get("ipAddress")
    if signin:
        res = str(obj.get("ResultType", (fields.get("status") or {}).get("errorCode", "0") if isinstance(fields.get("status"), dict) else "0"))
        outcome = "success" if res in ("0", "") else "failure"
    else:
        res = str(obj.get("Result") or obj.get("result") or "")
        outcome = "failure" if res.lower() in ("failure", "failed") else "success" if res else None
    return SecurityEvent(
        timestamp=ts, source="azure_ad",
        logsource=LogSource(product="azure", service="signinlogs" if signin else "auditlogs"),
        host=obj.get("TenantId") or obj.get("tenantId"), user=user, src_ip=ip,
        process=obj.get("AppDisplayName") or obj.get("LoggedByService") or obj.get("loggedByService"),
        action=f"azure_ad:{op}", outcome=outcome, fields=fields, raw=obj,
    )


def parse_m365_defender(rec: Any) -> SecurityEvent:
    """One Microsoft 365 Defender advanced-hunting row (Sentinel export or streaming API)."""
    obj = require_mapping(rec)
    table = str(obj.get("Type") or "")
    if isinstance(obj.get("properties"), dict) and str(obj.get("category", "")).startswith("AdvancedHunting-"):
        table = str(obj["category"]).split("-", 1)[1]
        obj = {**obj["properties"], "Timestamp": obj["properties"].get("Timestamp") or obj.get("time"), "Type": table}
    action = obj.get("ActionType")
    if not action:
        raise ParseError("missing_action_type", "Defender record without ActionType")
    ts = _ts(obj)
    fields = dict(obj)
    cat, aliases = DEFENDER_TABLES.get(table.lower(), ("", {}))
    for src, dst in aliases.items():
        if obj.get(src) not in (None, ""):
            fields.setdefault(dst, obj[src])
    ls = LogSource(product="windows", categories=(cat,)) if cat else LogSource(product="m365", service=table.lower() or None)
    return SecurityEvent(
        timestamp=ts, source="m365_defender", logsource=ls,
        host=obj.get("DeviceName"), user=obj.get("AccountName") or obj.get("InitiatingProcessAccountName") or obj.get("AccountUpn"),
        src_ip=obj.get("LocalIP") or obj.get("IPAddress"), dst_ip=obj.get("RemoteIP"),
        process=fields.get("Image"), action=cat or f"m365:{action}", fields=fields, raw=rec,
    )


def parse_office_activity(rec: Any) -> SecurityEvent:
    """One OfficeActivity (Sentinel) or unified audit log (Management API) record."""
    obj = require_mapping(rec)
    op = obj.get("Operation")
    if not op:
        raise ParseError("missing_operation", "OfficeActivity record without Operation")
    ts = _ts(obj)
    workload = obj.get("OfficeWorkload") or obj.get("Workload")
    status = str(obj.get("ResultStatus") or "")
    ip = str(obj.get("ClientIP") or obj.get("Client_IPAddress") or obj.get("ClientIPAddress") or "") or None
    if ip and ip.count(":") == 1 and "." in ip:  # "1.2.3.4:port"
        ip = ip.split(":", 1)[0]
    return SecurityEvent(
        timestamp=ts, source="office_activity",
        logsource=LogSource(product="m365", service=str(workload).lower() if workload else "audit"),
        host=obj.get("OrganizationId") or obj.get("TenantId"), user=obj.get("UserId") or obj.get("MailboxOwnerUPN"),
        src_ip=ip, action=f"office:{op}", outcome="failure" if status.lower() in ("failed", "failure") else "success",
        fields=dict(obj), raw=obj,
    )
