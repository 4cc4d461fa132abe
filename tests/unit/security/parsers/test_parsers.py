"""Parsers into the normalised schema; malformed input is a counted rejection, never an exception."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from aiops.security.events import RejectionCounter, parse_timestamp
from aiops.security.parsers.registry import formats, iter_json_records, parse_file, parse_records

SSHD = [
    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
    "Dec 10 07:07:38 LabSZ sshd[24206]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root",
    "2026-01-01T10:00:00Z vm-7 sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow",
]


def test_sshd_lines() -> None:
    rej = RejectionCounter()
    evs = list(parse_records("sshd", SSHD, rej, year=2015))
    assert rej.total == 0 and len(evs) == 5
    inv, fail, ok, pam, sudo = evs
    assert (inv.action, inv.outcome, inv.user, inv.src_ip) == ("ssh_invalid_user", "failure", "webmaster", "173.234.31.186")
    assert (fail.action, fail.outcome, fail.user, fail.fields["src_port"]) == ("ssh_login", "failure", "webmaster", 38926)
    assert (ok.action, ok.outcome, ok.user, ok.src_ip) == ("ssh_login", "success", "fztu", "119.137.62.142")
    assert (pam.action, pam.user, pam.src_ip, pam.logsource.service) == ("pam_auth", "root", "218.188.2.4", "sshd")
    assert (sudo.action, sudo.user, sudo.host) == ("sudo", "alice", "vm-7") and "shadow" in sudo.fields["command"]
    assert fail.timestamp == parse_timestamp("2015-12-10T06:55:48Z")


def test_auditd_groups_records_and_builds_process_creation() -> None:
    lines = [
        'type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 ppid=29002 pid=1631 auid=1000 uid=1000 comm="arp" exe="/usr/sbin/arp" key=(null)',
        'type=EXECVE msg=audit(1604994496.155:92733): argc=3 a0="arp" a1="-a" a2=2D6E2074657374',
        'type=CWD msg=audit(1604994496.155:92733): cwd="/home/wardog"',
        'type=USER_LOGIN msg=audit(1604994497.000:92734): pid=1 uid=0 acct="bob" addr=10.1.1.1 res=failed',
        "garbage line",
    ]
    rej = RejectionCounter()
    evs = list(parse_records("auditd", lines, rej))
    assert rej.as_dict() == {"auditd:not_auditd": 1}
    assert [e.fields["type"] for e in evs] == ["SYSCALL", "EXECVE", "CWD", "USER_LOGIN"]
    ex = evs[1]
    assert ex.logsource.categories == ("process_creation",) and ex.logsource.service == "auditd"
    assert ex.fields["CommandLine"] == "arp -a -n test" and ex.fields["Image"] == "/usr/sbin/arp"
    assert ex.process == "/usr/sbin/arp" and ex.user == "1000"
    login = evs[3]
    assert (login.user, login.src_ip, login.outcome) == ("bob", "10.1.1.1", "failure")


def test_cloudtrail_records_wrapper_and_fields() -> None:
    rec = {"eventTime": "2020-09-14T00:44:23Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
           "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/pedro"}, "sourceIPAddress": "1.2.3.4",
           "errorCode": "AccessDenied", "requestParameters": {"bucketName": "b"}}
    evs = list(parse_records("cloudtrail", [{"Records": [rec, rec]}, json.dumps(rec)]))
    assert len(evs) == 3
    e = evs[0]
    assert (e.user, e.src_ip, e.action, e.outcome) == ("pedro", "1.2.3.4", "s3:GetObject", "failure")
    assert e.view().lo["requestparameters.bucketname"] == ("b",)


def test_zeek_dotted_aliases() -> None:
    rec = {"@stream": "dns", "ts": 1588205198.9, "id_orig_h": "10.0.1.4", "id_resp_h": "10.0.0.4", "query": "x.evil", "rcode_name": "NXDOMAIN"}
    (e,) = parse_records("zeek", [rec])
    assert e.logsource.service == "dns" and "dns" in e.logsource.categories
    assert e.view().lo["id.orig_h"] == ("10.0.1.4",) and e.src_ip == "10.0.1.4" and e.outcome == "failure"
    rej = RejectionCounter()  # Zeek's list of loaded scripts is bookkeeping: skipped, not a malformed record
    assert list(parse_records("zeek", [{"@stream": "loaded_scripts", "name": "/usr/share/zeek/base/init-bare.zeek"},
                                       {"@stream": "conn"}], rej)) == []
    assert rej.as_dict() == {"zeek:missing_timestamp": 1}


def test_windows_shapes() -> None:
    evtx = {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
                                 "TimeCreated": {"#attributes": {"SystemTime": "2025-10-22T20:33:27.2767021Z"}},
                                 "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "w1"},
                      "EventData": {"Image": "C:\\Windows\\System32\\sc.exe", "User": "w1\\bob", "Product Name": "X"}}}
    azure = {"TimeGenerated": "2022-05-13T08:54:05.21Z", "Computer": "WS5", "Channel": "Security", "EventID": 4688,
             "EventData": '<EventData><Data Name="NewProcessName">C:\\a.exe</Data><Data Name="SubjectUserName">eve</Data></EventData>'}
    wmi = {"Event": {"System": {"EventID": 5858, "Channel": "Microsoft-Windows-WMI-Activity/Operational",
                                "TimeCreated": {"#attributes": {"SystemTime": "2026-01-01T00:00:00Z"}}},
                     "UserData": {"Operation_ClientFailure": {"Operation": "ExecMethod cleareventlog"}}}}
    a, b, c = parse_records("windows", [evtx, azure, wmi])
    assert a.logsource.service == "sysmon" and a.logsource.categories == ("process_creation",)
    assert (a.host, a.user, a.process) == ("w1", "w1\\bob", "C:\\Windows\\System32\\sc.exe")
    assert a.fields["ProductName"] == "X" and a.fields["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert b.logsource.service == "security" and b.logsource.categories == ("process_creation",)
    assert b.fields["Image"] == "C:\\a.exe" and b.user == "eve"
    assert c.logsource.service == "wmi" and c.fields["Operation"].endswith("cleareventlog")


def test_novacron_audit() -> None:
    ok = {"timestamp": "2026-01-01T00:00:00Z", "actor": "alice", "source_ip": "10.0.0.5", "action": "vm.delete", "vm_id": "vm-1", "status": 200}
    denied = {"ts": 1767225600, "user": "mallory", "method": "post", "path": "/api/vms/vm-2/migrate", "vm_id": "vm-2", "status": 403}
    a, b = parse_records("novacron", [ok, denied])
    assert (a.action, a.outcome, a.vm_id, a.user) == ("vm.delete", "success", "vm-1", "alice")
    assert (b.action, b.outcome) == ("POST /api/vms/vm-2/migrate", "denied")


GARBAGE = [None, 42, 3.5, b"\xff\xfe", "", "{", "[1, 2]", "{}", {"a": 1}, [], {"Event": "x"}, {"Event": {"System": []}},
           {"eventName": "X", "eventSource": "s", "eventTime": "yesterday"}, {"@stream": "conn", "ts": "never"},
           {"EventID": "abc", "Channel": "Security"}, {"EventID": 1, "Channel": "Security", "TimeGenerated": "2026-13-45"},
           {"timestamp": "2026-01-01T00:00:00Z"}, {"timestamp": "2026-01-01T00:00:00Z", "action": "a", "status": "teapot"},
           "Dec 99 99:99:99 h sshd[1]: x", "type=SYSCALL nonsense", {"SyslogMessage": "<Event><System>"}]


@pytest.mark.parametrize("fmt", formats())
def test_malformed_input_is_counted_never_raised(fmt: str) -> None:
    rej = RejectionCounter()
    evs = list(parse_records(fmt, GARBAGE, rej))
    assert rej.total + len(evs) <= len(GARBAGE)
    assert rej.total >= len(GARBAGE) - 3  # a few items are legitimately empty lines / valid for some formats
    assert all(":" in k for k in rej.as_dict())


def test_specific_rejection_reasons() -> None:
    rej = RejectionCounter()
    list(parse_records("cloudtrail", ['{"eventName": "X"', {"eventName": "X", "eventSource": "s"}, [1]], rej))
    assert rej.as_dict() == {"cloudtrail:bad_json": 1, "cloudtrail:missing_timestamp": 1, "cloudtrail:not_an_object": 1}
    rej = RejectionCounter()
    list(parse_records("windows", [{"Event": {"System": {"EventID": 1}}}, {"Event": {"System": {"Channel": "Security"}}}], rej))
    assert rej.as_dict() == {"windows:missing_channel": 1, "windows:missing_event_id": 1}


def test_files_zip_and_concatenated_json(tmp_path: Path) -> None:
    text = '{"@stream":"conn","ts":1,"id_orig_h":"a"}\n{"@stream":"conn","ts":2}{"@stream":"dns","ts":3}\nnot json\n'
    assert len(list(iter_json_records(text))) == 4
    z = tmp_path / "z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("conn.log", text)
        zf.writestr("cap.pcap", b"\x00\x01")
    rej = RejectionCounter()
    evs = list(parse_file("zeek", z, rej))
    assert len(evs) == 3 and rej.as_dict() == {"zeek:bad_json": 1}


def test_timestamps() -> None:
    assert parse_timestamp("2026-01-01T00:00:00Z") == 1_767_225_600.0
    assert parse_timestamp("2026-01-01 00:00:00.1234567") == pytest.approx(1_767_225_600.123456)
    assert parse_timestamp(1_767_225_600_000) == 1_767_225_600.0
    for bad in (None, True, "", "soon"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_nonfinite_timestamps_and_deep_garbage_are_rejections() -> None:
    rej = RejectionCounter()
    deep: dict = {}
    cur = deep
    for _ in range(5000):  # deeper than the recursion limit when flattened/parsed
        cur["a"] = {}
        cur = cur["a"]
    recs = [{"@stream": "conn", "ts": float("nan")}, {"@stream": "conn", "ts": float("inf")}, {"@stream": "conn", "ts": -5},
            {"@stream": "conn", "ts": 1.0, "x": deep}]
    evs = list(parse_records("zeek", recs, rej))
    assert rej.as_dict()["zeek:bad_timestamp"] == 3
    for e in evs:  # the deep record may parse; building its rule view must not crash the engine either
        from aiops.security.sigma.rules import RuleSet, SigmaEngine

        try:
            SigmaEngine(RuleSet()).match(e)
        except RecursionError:
            pytest.fail("deeply nested fields crashed the rule engine")


def test_json_nested_beyond_decoder_limit_is_bad_json() -> None:
    rej = RejectionCounter()
    text = "[" * 100_000 + '\n{"@stream": "conn", "ts": 1}\n'
    evs = list(parse_records("zeek", iter_json_records(text), rej))
    assert len(evs) == 1 and rej.as_dict() == {"zeek:bad_json": 1}


def test_platform_events_and_their_rejection_reasons() -> None:
    good = [{"type": "network_flow", "ts": 1_700_000_000, "host": "h1", "src_ip": "10.0.0.1", "dst_ip": "203.0.113.9",
             "dst_port": 443, "bytes_out": 5000, "bytes_in": 100},
            {"type": "vm_lifecycle", "ts": "2026-01-01T00:00:00Z", "host": "h1", "vm_id": "vm-1", "tenant": "t1", "action": "stop"},
            {"type": "api_call", "ts": 1_700_000_001, "user": "svc-t1", "action": "GetVM", "vm_id": "vm-1", "outcome": "success"}]
    bad = [{"type": "network_flow", "ts": 1, "src_ip": "10.0.0.1"},
           {"type": "network_flow", "ts": 1, "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "dst_port": 70000},
           {"type": "network_flow", "ts": 1, "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "bytes_out": -5},
           {"type": "api_call", "ts": 1}, {"type": "teleport", "ts": 1}, {"type": "api_call", "action": "GetVM"},
           {"type": "network_flow", "ts": 1, "src_ip": "10.0.0.1", "dst_ip": 7},
           {"type": "api_call", "ts": 1, "action": "GetVM", "user": {"name": "x"}}]
    rej = RejectionCounter()
    evs = list(parse_records("platform", good + bad, rej))
    assert [e.action for e in evs] == ["network_flow", "vm.stop", "GetVM"]
    assert evs[0].fields == {"dst_port": 443, "bytes_out": 5000, "bytes_in": 100} and evs[1].user == "svc-t1"
    assert evs[2].logsource.service == "api_audit" and evs[1].timestamp == 1_767_225_600.0
    assert rej.as_dict() == {"platform:missing_ip": 1, "platform:bad_dst_port": 1, "platform:bad_bytes_out": 1,
                             "platform:missing_action": 1, "platform:unknown_type:teleport": 1,
                             "platform:missing_timestamp": 1, "platform:bad_dst_ip": 1, "platform:bad_user": 1}


def test_events_pickle_without_their_cached_view() -> None:
    import pickle

    ev = parse_records("platform", [{"type": "api_call", "ts": 5, "user": "u", "action": "GetVM", "tags": ["x"]}])
    ev = next(ev)
    ev.view()
    back = pickle.loads(pickle.dumps(ev))
    assert back == ev and back._view is None and back.logsource == ev.logsource
