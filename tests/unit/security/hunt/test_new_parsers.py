"""Parsers added for hunting: Winlogbeat shapes, ETW without a channel, Zeek TSV, Azure AD, Defender, OfficeActivity."""
from __future__ import annotations

import pytest

from aiops.security.parsers.base import ParseError
from aiops.security.parsers.microsoft import parse_azure_ad, parse_m365_defender, parse_office_activity
from aiops.security.parsers.windows_shapes import parse_windows_any
from aiops.security.parsers.zeek_tsv import ZeekTsvParser

PROC = {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami"}


def test_winlogbeat_flat_record_is_a_sysmon_process_creation() -> None:
    ev = parse_windows_any({"@timestamp": "2020-09-21T23:18:44Z", "event_id": 1, "computer_name": "ws1",
                            "log_name": "Microsoft-Windows-Sysmon/Operational", "event_data": PROC})
    assert ev.logsource.service == "sysmon" and "process_creation" in ev.logsource.categories
    assert ev.host == "ws1" and ev.fields["CommandLine"] == "cmd /c whoami"


def test_winlogbeat_ecs_record_reads_winlog() -> None:
    ev = parse_windows_any({"@timestamp": "2021-01-01T00:00:00Z", "winlog": {
        "channel": "Security", "event_id": "4688", "computer_name": "dc1",
        "event_data": {"NewProcessName": "C:\\x.exe"}, "user": {"name": "bob", "domain": "CORP"}}})
    assert ev.logsource.categories == ("process_creation",) and ev.fields["Image"] == "C:\\x.exe"
    assert ev.user == "CORP\\bob"


def test_winlogbeat_without_channel_or_provider_names_the_missing_field() -> None:
    with pytest.raises(ParseError) as exc:
        parse_windows_any({"@timestamp": "2021-01-01T00:00:00Z", "event_id": 1, "event_data": PROC})
    assert exc.value.reason == "missing_channel"


def test_etw_record_with_null_channel_takes_it_from_the_provider() -> None:
    ev = parse_windows_any({"EventID": 1, "Channel": None, "SourceName": "Microsoft-Windows-Sysmon",
                            "Hostname": "ws2", "EventTime": "2020-01-01 10:00:00", **PROC})
    assert ev.logsource.service == "sysmon" and ev.host == "ws2"
    with pytest.raises(ParseError) as exc:
        parse_windows_any({"EventID": 1, "Channel": None, "EventTime": "2020-01-01 10:00:00"})
    assert exc.value.reason == "missing_channel"


def test_zeek_tsv_rows_become_zeek_events_and_rows_without_header_are_rejected() -> None:
    p = ZeekTsvParser()
    with pytest.raises(ParseError) as exc:
        p("1.0\tC1\t10.0.0.1")
    assert exc.value.reason == "missing_zeek_header"
    for h in ("#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
              "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\ttunnel_parents",
              "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tset[string]"):
        assert p(h) is None
    ev = p("1588205199.82\tCx\t10.0.1.6\t54243\t10.0.0.4\t445\ttcp\t-\t(empty)")
    assert ev is not None and ev.action == "network_flow" and ev.src_ip == "10.0.1.6"
    assert ev.fields["id.resp_p"] == 445 and "duration" not in ev.fields and ev.fields["tunnel_parents"] == []
    with pytest.raises(ParseError):
        p("1.0\tonly-two")


def test_azure_ad_audit_and_signin() -> None:
    ev = parse_azure_ad({"TimeGenerated": "2021-05-01T10:00:00Z", "OperationName": "Add service principal credentials",
                         "Result": "success", "InitiatedBy": '{"user": {"userPrincipalName": "a@x.com", "ipAddress": "1.2.3.4"}}',
                         "TargetResources": [], "Type": "AuditLogs"})
    assert ev.logsource.service == "auditlogs" and ev.user == "a@x.com" and ev.src_ip == "1.2.3.4"
    si = parse_azure_ad({"TimeGenerated": "2021-05-01T10:00:00Z", "Type": "SigninLogs", "UserPrincipalName": "b@x.com",
                         "ResultType": "50126", "IPAddress": "5.6.7.8"})
    assert si.logsource.service == "signinlogs" and si.outcome == "failure"
    with pytest.raises(ParseError) as exc:
        parse_azure_ad({"TimeGenerated": "2021-05-01T10:00:00Z", "TargetResources": []})
    assert exc.value.reason == "missing_operation_name"


def test_defender_process_row_gets_windows_category_and_sysmon_names() -> None:
    ev = parse_m365_defender({"Timestamp": "2021-05-01T10:00:00Z", "Type": "DeviceProcessEvents", "DeviceName": "ws3",
                              "ActionType": "ProcessCreated", "FolderPath": "C:\\w\\rundll32.exe",
                              "ProcessCommandLine": "rundll32 comsvcs.dll MiniDump"})
    assert ev.logsource.categories == ("process_creation",) and ev.fields["CommandLine"].startswith("rundll32")
    api = parse_m365_defender({"time": "2021-05-01T10:00:00Z", "category": "AdvancedHunting-DeviceLogonEvents",
                               "properties": {"ActionType": "LogonSuccess", "DeviceName": "ws3"}})
    assert api.logsource.product == "m365" and api.host == "ws3"
    with pytest.raises(ParseError) as exc:
        parse_m365_defender({"Timestamp": "2021-05-01T10:00:00Z", "DeviceName": "ws3"})
    assert exc.value.reason == "missing_action_type"


def test_office_activity() -> None:
    ev = parse_office_activity({"TimeGenerated": "2021-05-01T10:00:00Z", "Operation": "MailItemsAccessed",
                                "OfficeWorkload": "Exchange", "RecordType": "ExchangeItem", "UserId": "c@x.com",
                                "ClientIP": "9.8.7.6:443"})
    assert ev.action == "office:MailItemsAccessed" and ev.src_ip == "9.8.7.6" and ev.logsource.service == "exchange"
    with pytest.raises(ParseError) as exc:
        parse_office_activity({"TimeGenerated": "2021-05-01T10:00:00Z", "RecordType": "ExchangeItem"})
    assert exc.value.reason == "missing_operation"
