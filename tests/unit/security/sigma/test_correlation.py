"""Correlation rules over the event stream: windows, group-by, chaining, one alert per burst."""
from __future__ import annotations

from aiops.security.events import LogSource, SecurityEvent
from aiops.security.sigma.pipeline import DetectionPipeline
from aiops.security.sigma.rules import rules_from_yaml

SSH = LogSource(product="linux", service="sshd")

BASE = """title: fail
id: 11111111-0000-0000-0000-000000000001
name: fail
logsource: {product: linux, service: sshd}
detection:
  sel: {action: ssh_login, outcome: failure}
  condition: sel
level: informational
---
title: ok
id: 11111111-0000-0000-0000-000000000002
name: ok
logsource: {product: linux, service: sshd}
detection:
  sel: {action: ssh_login, outcome: success}
  condition: sel
level: informational
"""


def corr(body: str, name: str = "c", generate: bool = False) -> str:
    return (f"---\ntitle: {name}\nid: 11111111-0000-0000-0000-0000000000{sum(map(ord, name)) % 90 + 10}\nname: {name}\n"
            f"level: high\ncorrelation:\n{body}" + ("  generate: true\n" if generate else ""))


BRUTE = corr("  type: event_count\n  rules: [fail]\n  group-by: [src_ip]\n  timespan: 60s\n  condition: {gte: 5}\n", "brute")


def ssh(ts: float, ip: str, ok: bool = False, user: str = "root") -> SecurityEvent:
    return SecurityEvent(timestamp=ts, source="auth", logsource=SSH, src_ip=ip, user=user,
                         action="ssh_login", outcome="success" if ok else "failure")


def run(yaml_text: str, events: list[SecurityEvent]) -> tuple[DetectionPipeline, list]:
    rs = rules_from_yaml(yaml_text)
    assert not rs.errors, rs.errors
    p = DetectionPipeline(rs)
    return p, p.process_many(events)


def titles(alerts: list) -> list[str]:
    return [a.title for a in alerts]


def test_event_count_inside_window_fires_once_per_burst() -> None:
    evs = [ssh(1000 + i, "1.2.3.4") for i in range(12)]
    _, alerts = run(BASE + BRUTE, evs)
    # 5 failures fire, the window is cleared, 5 more fire again, 2 left over
    assert titles(alerts) == ["brute", "brute"]
    assert alerts[0].group == {"src_ip": "1.2.3.4"} and alerts[0].count == 5
    assert len(alerts[0].events) == 5 and alerts[0].kind == "correlation"


def test_event_count_outside_window_does_not_fire() -> None:
    evs = [ssh(1000 + 20 * i, "1.2.3.4") for i in range(10)]  # 4 per 60 s at most
    _, alerts = run(BASE + BRUTE, evs)
    assert alerts == []


def test_group_by_keeps_sources_apart() -> None:
    evs = [ssh(1000 + i, f"10.0.0.{i % 3}") for i in range(12)]  # 4 per source
    _, alerts = run(BASE + BRUTE, evs)
    assert alerts == []


def test_base_rules_referenced_without_generate_are_silent() -> None:
    _, alerts = run(BASE + BRUTE, [ssh(1000, "1.2.3.4")])
    assert alerts == []
    gen = corr("  type: event_count\n  rules: [fail]\n  group-by: [src_ip]\n  timespan: 60s\n  condition: {gte: 5}\n",
               "brute", generate=True)
    _, alerts = run(BASE + gen, [ssh(1000, "1.2.3.4")])
    assert titles(alerts) == ["fail"]


def test_value_count_distinct_users() -> None:
    spray = corr("  type: value_count\n  rules: [fail]\n  group-by: [src_ip]\n  timespan: 5m\n"
                 "  condition: {gte: 3, field: user}\n", "spray")
    same_user = [ssh(1000 + i, "9.9.9.9", user="root") for i in range(10)]
    _, alerts = run(BASE + spray, same_user)
    assert alerts == []
    many = [ssh(1000 + i, "9.9.9.9", user=u) for i, u in enumerate(["a", "b", "A", "c"])]
    _, alerts = run(BASE + spray, many)
    assert titles(alerts) == ["spray"] and alerts[0].count == 3  # 'A' == 'a' case-insensitively


def test_temporal_ordered_chain_brute_force_then_login() -> None:
    chain = BRUTE + corr("  type: temporal_ordered\n  rules: [brute, ok]\n  group-by: [src_ip]\n  timespan: 10m\n", "chain")
    evs = [ssh(1000 + i, "5.5.5.5") for i in range(5)] + [ssh(1100, "5.5.5.5", ok=True)]
    _, alerts = run(BASE + chain, evs)
    assert titles(alerts) == ["brute", "chain"]
    assert alerts[1].group == {"src_ip": "5.5.5.5"}
    assert {e.outcome for e in alerts[1].events} == {"failure", "success"}


def test_temporal_ordered_requires_order_and_same_group_and_window() -> None:
    chain = BRUTE + corr("  type: temporal_ordered\n  rules: [brute, ok]\n  group-by: [src_ip]\n  timespan: 10m\n", "chain")
    login_first = [ssh(900, "5.5.5.5", ok=True)] + [ssh(1000 + i, "5.5.5.5") for i in range(5)]
    assert titles(run(BASE + chain, login_first)[1]) == ["brute"]
    other_ip = [ssh(1000 + i, "5.5.5.5") for i in range(5)] + [ssh(1100, "6.6.6.6", ok=True)]
    assert titles(run(BASE + chain, other_ip)[1]) == ["brute"]
    too_late = [ssh(1000 + i, "5.5.5.5") for i in range(5)] + [ssh(1000 + 3600, "5.5.5.5", ok=True)]
    assert titles(run(BASE + chain, too_late)[1]) == ["brute"]


def test_temporal_unordered_needs_all_rules() -> None:
    both = corr("  type: temporal\n  rules: [fail, ok]\n  group-by: [user]\n  timespan: 1m\n", "both")
    _, alerts = run(BASE + both, [ssh(1000, "1.1.1.1", ok=True, user="bob"), ssh(1010, "2.2.2.2", user="bob")])
    assert titles(alerts) == ["both"] and alerts[0].group == {"user": "bob"}
    _, alerts = run(BASE + both, [ssh(1000, "1.1.1.1", user="bob"), ssh(1010, "2.2.2.2", user="bob")])
    assert alerts == []


def test_events_missing_group_field_are_not_grouped() -> None:
    evs = [SecurityEvent(timestamp=1000 + i, source="auth", logsource=SSH, action="ssh_login", outcome="failure")
           for i in range(10)]
    assert run(BASE + BRUTE, evs)[1] == []


def test_shipped_rule_pack_brute_force_then_login() -> None:
    from pathlib import Path

    from aiops.security.sigma.rules import load_rules

    rs = load_rules([Path(__file__).resolve().parents[4] / "configs" / "rules"])
    assert not rs.errors and len(rs.correlations) >= 5
    p = DetectionPipeline(rs)
    evs = [ssh(1000 + 3 * i, "203.0.113.9", user=f"u{i % 6}") for i in range(12)] + [ssh(1100, "203.0.113.9", ok=True)]
    got = titles(p.process_many(evs))
    assert "SSH Brute Force From One Source" in got
    assert "SSH Password Spraying From One Source" in got
    assert got[-1] == "SSH Brute Force Followed By Successful Login"


def test_sweep_drops_expired_groups_and_events_get_rule_tags() -> None:
    p, _ = run(BASE + BRUTE, [ssh(1000 + i, f"10.9.{i // 250}.{i % 250}") for i in range(600)])
    assert p.correlator.open_groups() == 600
    assert p.correlator.sweep(1000 + 599) == 539  # hits at t >= now - 60 s stay (61 groups)
    assert p.correlator.open_groups() == 61
    yaml_text = BASE.replace("level: informational\n---", "level: informational\ntags: [attack.t1110]\n---", 1)
    p, _ = run(yaml_text, [ev := ssh(1000, "1.1.1.1")])
    assert ev.tags == ("attack.t1110",)


def test_shipped_rule_pack_s3_listing_then_download_by_one_identity() -> None:
    from pathlib import Path

    from aiops.security.parsers.cloud import parse_cloudtrail
    from aiops.security.sigma.rules import load_rules

    def ct(ts: int, name: str, ip: str = "1.2.3.4", user: str = "web-role") -> SecurityEvent:
        return parse_cloudtrail({"eventTime": ts, "eventSource": "s3.amazonaws.com", "eventName": name,
                                 "sourceIPAddress": ip, "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::1:assumed-role/{user}/i-1"}})

    rs = load_rules([Path(__file__).resolve().parents[4] / "configs" / "rules"])
    title = "AWS S3 Listing Then Object Download By One Identity"
    assert title in titles(DetectionPipeline(rs).process_many([ct(1000, "ListBuckets"), ct(1500, "GetObject")]))
    for evs in ([ct(1000, "GetObject"), ct(1500, "ListObjects")],          # wrong order
                [ct(1000, "ListBuckets"), ct(1500, "GetObject", ip="5.6.7.8")],  # another address
                [ct(1000, "ListBuckets"), ct(1000 + 7200, "GetObject")]):        # outside the hour
        assert title not in titles(DetectionPipeline(rs).process_many(evs))
