"""Allowlists / suppressions: matching by rule, entity, field value and time window, with counts."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiops.security.events import Alert, LogSource, SecurityEvent
from aiops.security.sigma.pipeline import DetectionPipeline
from aiops.security.sigma.rules import rules_from_yaml
from aiops.security.sigma.suppression import Suppression, SuppressionStore

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def alert(ts: float = T0, rule: str = "r1", name: str = "ssh_bruteforce", **norm) -> Alert:
    fields = norm.pop("fields", {})
    ev = SecurityEvent(timestamp=ts, source="t", logsource=LogSource("linux", "sshd"), fields=fields, **norm)
    return Alert(rule_id=rule, rule_name=name, title="SSH Brute Force", level="high", timestamp=ts, event=ev)


def test_entity_cidr_and_counts() -> None:
    store = SuppressionStore([{"id": "scanner", "entities": {"src_ip": "10.254.0.0/24"}}])
    assert store.check(alert(src_ip="10.254.0.7")) is not None
    assert store.check(alert(src_ip="10.254.1.7")) is None
    assert store.check(alert(src_ip="10.254.0.8")) is not None
    assert store.counts() == {"scanner": 2}


def test_rule_scope_by_name_id_or_title_glob() -> None:
    store = SuppressionStore([{"id": "s", "rules": ["ssh_*"], "entities": {"user": "backup"}}])
    assert store.check(alert(user="BACKUP")) is not None
    assert store.check(alert(user="backup", name="other", rule="x")) is None  # title 'SSH Brute Force' does not match ssh_*
    store = SuppressionStore([{"id": "t", "rules": ["SSH Brute*"]}])
    assert store.check(alert(name="zzz")) is not None


def test_field_value_with_glob_and_list() -> None:
    store = SuppressionStore([{"id": "f", "fields": {"Image": ["*\\veeam*.exe", "c:\\tools\\ok.exe"]}}])
    assert store.check(alert(fields={"Image": "C:\\Program Files\\Veeam\\VeeamAgent.exe"})) is not None
    assert store.check(alert(fields={"Image": "c:\\tools\\ok.exe"})) is not None
    assert store.check(alert(fields={"Image": "c:\\tools\\bad.exe"})) is None
    assert store.check(alert(fields={})) is None


def test_absolute_and_daily_windows() -> None:
    s = Suppression(id="w", rules=["*"], start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z")
    assert s.active(T0) and s.active(T0 + 86_399) and not s.active(T0 + 86_400) and not s.active(T0 - 1)
    d = Suppression(id="d", rules=["*"], daily="23:00-01:00")  # wraps midnight
    assert d.active(T0 + 1800) and d.active(T0 - 1800) and not d.active(T0 + 7200)
    store = SuppressionStore([d])
    assert store.check(alert(ts=T0 + 1800)) is not None and store.check(alert(ts=T0 + 7200)) is None
    assert store.counts() == {"d": 1}


@pytest.mark.parametrize("bad", [
    {"entities": {"colour": "red"}},
    {"daily": "25:00-26:00"},
    {"daily": "noon"},
    {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    {"unknown_key": 1},
    {},  # no scope: would silence every alert
    {"reason": "maintenance", "daily": "01:00-03:00"},
])
def test_invalid_suppressions_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        Suppression.model_validate(bad)


def test_runtime_add_remove() -> None:
    store = SuppressionStore()
    s = store.add({"reason": "api", "created_by": "alice", "entities": {"host": "web-1"}})
    assert store.check(alert(host="web-1")) is s and s.suppressed == 1
    with pytest.raises(KeyError):
        store.add(Suppression(id=s.id, entities={"host": "web-2"}))
    store.remove(s.id)
    assert store.check(alert(host="web-1")) is None
    with pytest.raises(KeyError):
        store.remove(s.id)


def test_pipeline_suppresses_correlation_alert_by_group_entity() -> None:
    rules = """title: fail
id: 21111111-0000-0000-0000-000000000001
name: fail
logsource: {product: linux, service: sshd}
detection:
  sel: {outcome: failure}
  condition: sel
level: low
---
title: brute
id: 21111111-0000-0000-0000-000000000002
name: brute
correlation:
  type: event_count
  rules: [fail]
  group-by: [src_ip]
  timespan: 1m
  condition: {gte: 3}
  generate: true
level: high
"""
    store = SuppressionStore([{"id": "lab", "rules": ["brute"], "entities": {"src_ip": "192.168.0.0/16"}}])
    p = DetectionPipeline(rules_from_yaml(rules), store)
    evs = [SecurityEvent(timestamp=T0 + i, source="t", logsource=LogSource("linux", "sshd"), src_ip=ip, outcome="failure")
           for i, ip in enumerate(["192.168.1.1"] * 3 + ["8.8.8.8"] * 3)]
    got = [(a.title, a.group.get("src_ip")) for a in p.process_many(evs)]
    assert ("brute", "8.8.8.8") in got and ("brute", "192.168.1.1") not in got
    assert sum(1 for t, _ in got if t == "fail") == 6  # base alerts not covered by the suppression
    assert store.counts() == {"lab": 1} and p.stats()["suppressed"] == 1
