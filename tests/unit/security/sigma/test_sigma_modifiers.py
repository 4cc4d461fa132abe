"""Sigma value modifiers and condition expressions compiled to in-process matchers."""
from __future__ import annotations

import base64

import pytest

from aiops.security.events import LogSource

from ..helpers import compile_one, event, fires


@pytest.mark.parametrize(
    "detection, fields, expected",
    [
        # plain values are case-insensitive equality
        ("  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n", {"Image": "c:\\windows\\system32\\CMD.EXE"}, True),
        ("  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n", {"Image": "c:\\windows\\system32\\cmd.exe.bak"}, False),
        ("  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel\n", {"CommandLine": "cmd /c WHOAMI /all"}, True),
        ("  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel\n", {"CommandLine": "cmd /c hostname"}, False),
        ("  sel:\n    Image|endswith: '\\powershell.exe'\n  condition: sel\n", {"Image": "C:\\x\\PowerShell.exe"}, True),
        ("  sel:\n    Image|startswith: 'C:\\Users\\'\n  condition: sel\n", {"Image": "c:\\users\\bob\\a.exe"}, True),
        ("  sel:\n    Image|startswith: 'C:\\Users\\'\n  condition: sel\n", {"Image": "d:\\c:\\users\\a.exe"}, False),
        # |all: every value must be contained
        ("  sel:\n    CommandLine|contains|all:\n      - '-nop'\n      - '-enc'\n  condition: sel\n", {"CommandLine": "powershell -nop -w hidden -enc AAA"}, True),
        ("  sel:\n    CommandLine|contains|all:\n      - '-nop'\n      - '-enc'\n  condition: sel\n", {"CommandLine": "powershell -nop"}, False),
        # wildcards inside values (Sigma: a backslash before * escapes it, so write \\ for a literal one)
        ("  sel:\n    Image: 'C:\\\\*\\\\rundll?2.exe'\n  condition: sel\n", {"Image": "c:\\windows\\rundll32.exe"}, True),
        ("  sel:\n    Image: 'C:\\\\*\\\\rundll?2.exe'\n  condition: sel\n", {"Image": "c:\\windows\\rundll322.exe"}, False),
        ("  sel:\n    Image: 'a\\*b'\n  condition: sel\n", {"Image": "a*b"}, True),
        ("  sel:\n    Image: 'a\\*b'\n  condition: sel\n", {"Image": "axxb"}, False),
        # regex is case-sensitive unless |i
        ("  sel:\n    CommandLine|re: 'Invoke-[A-Z]\\w+'\n  condition: sel\n", {"CommandLine": "x Invoke-Mimikatz"}, True),
        ("  sel:\n    CommandLine|re: 'Invoke-[A-Z]\\w+'\n  condition: sel\n", {"CommandLine": "x invoke-mimikatz"}, False),
        ("  sel:\n    CommandLine|re|i: 'invoke-[a-z]+'\n  condition: sel\n", {"CommandLine": "x INVOKE-MIMIKATZ"}, True),
        # cidr
        ("  sel:\n    SourceIp|cidr: '10.0.0.0/8'\n  condition: sel\n", {"SourceIp": "10.20.30.40"}, True),
        ("  sel:\n    SourceIp|cidr: '10.0.0.0/8'\n  condition: sel\n", {"SourceIp": "11.0.0.1"}, False),
        ("  sel:\n    SourceIp|cidr: '10.0.0.0/8'\n  condition: sel\n", {"SourceIp": "not-an-ip"}, False),
        # numeric comparisons, also on numeric strings
        ("  sel:\n    DestinationPort|gt: 1024\n  condition: sel\n", {"DestinationPort": 4444}, True),
        ("  sel:\n    DestinationPort|gt: 1024\n  condition: sel\n", {"DestinationPort": "80"}, False),
        ("  sel:\n    DestinationPort|lte: 80\n  condition: sel\n", {"DestinationPort": "80"}, True),
        ("  sel:\n    DestinationPort|lt: 80\n  condition: sel\n", {"DestinationPort": 80}, False),
        ("  sel:\n    DestinationPort|gte: 80\n  condition: sel\n", {"DestinationPort": 80}, True),
        # exists
        ("  sel:\n    ParentImage|exists: true\n  condition: sel\n", {"ParentImage": "x"}, True),
        ("  sel:\n    ParentImage|exists: true\n  condition: sel\n", {"Image": "x"}, False),
        ("  sel:\n    ParentImage|exists: false\n  condition: sel\n", {"Image": "x"}, True),
        # null: missing or empty
        ("  sel:\n    OriginalFileName: null\n  condition: sel\n", {"Image": "x"}, True),
        ("  sel:\n    OriginalFileName: null\n  condition: sel\n", {"OriginalFileName": ""}, True),
        ("  sel:\n    OriginalFileName: null\n  condition: sel\n", {"OriginalFileName": "a.exe"}, False),
        # numbers match ints and numeric strings
        ("  sel:\n    EventID: 4688\n  condition: sel\n", {"EventID": 4688}, True),
        ("  sel:\n    EventID: 4688\n  condition: sel\n", {"EventID": "4688"}, True),
        ("  sel:\n    EventID: 4688\n  condition: sel\n", {"EventID": 46880}, False),
        ("  sel:\n    EventID: 4688\n  condition: sel\n", {"EventID": 4688.0}, True),
        ("  sel:\n    EventID: 4688\n  condition: sel\n", {"EventID": "0x1250"}, False),
        # cased
        ("  sel:\n    CommandLine|cased: 'SeDebug'\n  condition: sel\n", {"CommandLine": "SeDebug"}, True),
        ("  sel:\n    CommandLine|cased: 'SeDebug'\n  condition: sel\n", {"CommandLine": "sedebug"}, False),
        # field reference
        ("  sel:\n    ParentImage|fieldref: Image\n  condition: sel\n", {"Image": "A.exe", "ParentImage": "a.EXE"}, True),
        ("  sel:\n    ParentImage|fieldref: Image\n  condition: sel\n", {"Image": "a.exe", "ParentImage": "b.exe"}, False),
    ],
)
def test_modifiers(detection: str, fields: dict, expected: bool) -> None:
    assert fires(compile_one(detection), event(fields)) is expected


def test_base64_and_base64offset() -> None:
    enc = base64.b64encode(b"http://evil").decode()
    rs = compile_one("  sel:\n    CommandLine|base64: 'http://evil'\n  condition: sel\n")
    assert fires(rs, event({"CommandLine": enc}))
    assert not fires(rs, event({"CommandLine": "aHR0cDovL2dvb2Q="}))
    rs = compile_one("  sel:\n    CommandLine|base64offset|contains: 'IEX ('\n  condition: sel\n")
    for prefix in (b"", b"a", b"ab"):  # every offset encodes differently
        blob = base64.b64encode(prefix + b"IEX (New-Object Net.WebClient)").decode()
        assert fires(rs, event({"CommandLine": "powershell -enc " + blob})), prefix
    assert not fires(rs, event({"CommandLine": base64.b64encode(b"Get-Date").decode()}))


def test_windash_matches_dash_variants() -> None:
    rs = compile_one("  sel:\n    CommandLine|windash|contains: ' -decode '\n  condition: sel\n")
    for cli in ("certutil -decode a b", "certutil /decode a b", "certutil \u2013decode a b"):
        assert fires(rs, event({"CommandLine": cli})), cli
    assert not fires(rs, event({"CommandLine": "certutil -encode a b"}))


def test_keywords_search_every_field() -> None:
    rs = compile_one("  keywords:\n    - 'sekurlsa::'\n    - 'kerberos::golden'\n  condition: keywords\n",
                     logsource="    product: windows\n")
    assert fires(rs, event({"Payload": "mimikatz SEKURLSA::logonpasswords"}))
    assert fires(rs, event({"a": {"b": "x kerberos::golden y"}}))
    assert not fires(rs, event({"Payload": "hello"}))


@pytest.mark.parametrize(
    "condition, fields, expected",
    [
        ("1 of selection_*", {"Image": "x\\a.exe"}, True),
        ("1 of selection_*", {"CommandLine": "zzz"}, False),
        ("all of selection_*", {"Image": "x\\a.exe", "CommandLine": "--evil"}, True),
        ("all of selection_*", {"Image": "x\\a.exe"}, False),
        ("all of them", {"Image": "x\\a.exe", "CommandLine": "--evil", "User": "root"}, True),
        ("all of them", {"Image": "x\\a.exe", "CommandLine": "--evil"}, False),
        ("selection_img and not filter", {"Image": "x\\a.exe"}, True),
        ("selection_img and not filter", {"Image": "x\\a.exe", "User": "ROOT"}, False),
        ("(selection_img or selection_cli) and not filter", {"CommandLine": "--evil"}, True),
        ("not 1 of selection_*", {"User": "root"}, True),
    ],
)
def test_condition_expressions(condition: str, fields: dict, expected: bool) -> None:
    det = ("  selection_img:\n    Image|endswith: '\\a.exe'\n"
           "  selection_cli:\n    CommandLine|contains: '--evil'\n"
           "  filter:\n    User: root\n"
           f"  condition: {condition}\n")
    assert fires(compile_one(det), event(fields)) is expected


def test_list_of_maps_is_or_and_map_is_and() -> None:
    det = ("  sel:\n    - Image|endswith: '\\a.exe'\n      User: bob\n    - CommandLine|contains: 'x'\n  condition: sel\n")
    rs = compile_one(det)
    assert fires(rs, event({"Image": "c:\\a.exe", "User": "bob"}))
    assert not fires(rs, event({"Image": "c:\\a.exe", "User": "eve"}))
    assert fires(rs, event({"CommandLine": "xyz"}))


def test_field_names_case_insensitive_and_nested_dots() -> None:
    rs = compile_one("  sel:\n    userIdentity.type: Root\n    eventName: ConsoleLogin\n  condition: sel\n",
                     logsource="    product: aws\n    service: cloudtrail\n")
    aws = LogSource(product="aws", service="cloudtrail")
    assert fires(rs, event({"USERIDENTITY": {"Type": "root"}, "EventName": "consolelogin"}, ls=aws))
    assert not fires(rs, event({"userIdentity": {"type": "IAMUser"}, "eventName": "ConsoleLogin"}, ls=aws))


def test_multi_valued_field_matches_any_element() -> None:
    rs = compile_one("  sel:\n    answers|endswith: '.evil.com'\n  condition: sel\n",
                     logsource="    product: zeek\n    service: dns\n")
    ls = LogSource(product="zeek", service="dns")
    assert fires(rs, event({"answers": ["a.good.com", "b.EVIL.com"]}, ls=ls))
    assert not fires(rs, event({"answers": ["a.good.com"]}, ls=ls))


def test_logsource_prefilter() -> None:
    rs = compile_one("  sel:\n    Image|endswith: '\\a.exe'\n  condition: sel\n")
    other = LogSource(product="windows", service="sysmon", categories=("file_event",))
    assert fires(rs, event({"Image": "c:\\a.exe"}))
    assert not fires(rs, event({"Image": "c:\\a.exe"}, ls=other))
    assert not fires(rs, event({"Image": "c:\\a.exe"}, ls=LogSource(product="linux", categories=("process_creation",))))


def test_unsupported_rule_is_reported_not_raised() -> None:
    from aiops.security.sigma.rules import rules_from_yaml

    from ..helpers import rule

    rs = rules_from_yaml(rule("  sel:\n    Image|expand: '%allowed_images%'\n  condition: sel\n"))
    assert not rs.rules
    assert rs.errors and "placeholder" in rs.errors[0][1]
