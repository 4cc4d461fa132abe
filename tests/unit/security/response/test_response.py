"""Response engine: approval, auto rules, dry run, idempotency, timeouts, escalation, audit log."""
from __future__ import annotations

import hashlib
import json

import pytest

from aiops.security.response.config import ApiToken, AutoRule, EscalationRule, ResponseConfig, load_response_config
from aiops.security.response.audit import AuditLog, JsonlAuditStore
from aiops.security.response.auth import Principal, TokenAuth
from aiops.security.response.engine import ResponseEngine, ResponseError
from aiops.security.response.control_plane import SimulatedControlPlane

ANOM = {"id": "anom-1", "kind": "incident", "severity": "critical", "score": 0.99,
        "targets": {"vm_id": "vm-7", "ip": "203.0.113.5", "user": "admin"}}
RESP = Principal("r", frozenset({"responder"}))
APPR = Principal("a", frozenset({"responder", "approver"}))


def engine(**kw):
    cp = kw.pop("cp", SimulatedControlPlane())
    cfg = ResponseConfig(audit_log=None, **kw)
    return ResponseEngine(cfg, cp), cp


def events(eng):
    return [r["event"] for r in eng.audit.records()]


def test_non_destructive_action_runs_and_is_audited():
    eng, cp = engine()
    rec = eng.request(ANOM, "snapshot_vm", {}, principal=RESP)
    assert rec.status == "executed" and rec.result["vm_id"] == "vm-7" and cp.snapshots
    assert events(eng) == ["requested", "executed"]
    assert eng.audit.verify()


def test_destructive_needs_approval_then_approver_executes():
    eng, cp = engine()
    rec = eng.request(ANOM, "block_ip", {}, principal=RESP, comment="attacker")
    assert rec.status == "pending_approval" and not cp.blocked
    rec = eng.approve(rec.response_id, APPR, ANOM)
    assert rec.status == "executed" and cp.blocked == {"203.0.113.5"} and rec.approved_by == "a"
    assert events(eng) == ["requested", "pending_approval", "approved", "executed"]


def test_approver_request_executes_inline_and_auto_rule_allows_engine():
    eng, cp = engine(auto_allow=(AutoRule(action="quarantine_vm", min_severity="critical", min_score=0.95),))
    assert eng.request(ANOM, "disable_user", {}, principal=APPR).status == "executed"
    auto = eng.request(ANOM, "quarantine_vm", {})  # no principal: the engine proposes it
    assert auto.status == "executed" and auto.approved_by == "policy:auto_allow" and "vm-7" in cp.quarantined
    low = dict(ANOM, id="anom-2", severity="high")
    assert eng.request(low, "quarantine_vm", {}).status == "pending_approval"


def test_repeated_request_acts_once():
    eng, cp = engine()
    a = eng.request(ANOM, "snapshot_vm", {"memory": True}, principal=RESP)
    b = eng.request(ANOM, "snapshot_vm", {"memory": True}, principal=RESP)
    c = eng.request(ANOM, "snapshot_vm", {"memory": False}, principal=RESP, idempotency_key="k1")
    d = eng.request(ANOM, "snapshot_vm", {"memory": False}, principal=RESP, idempotency_key="k1")
    assert b.duplicate and b.response_id == a.response_id and not a.duplicate
    assert d.duplicate and d.response_id == c.response_id
    assert len(cp.calls) == 2
    assert events(eng).count("duplicate_ignored") == 2


def test_dry_run_does_not_touch_the_control_plane():
    eng, cp = engine(dry_run=True)
    rec = eng.request(ANOM, "block_ip", {"ip": "198.51.100.1"}, principal=APPR)
    assert rec.status == "dry_run" and cp.calls == [] and rec.result["target"] == "198.51.100.1"


def test_timeout_and_failure_escalate():
    esc = (EscalationRule(when="timeout", notify="pager"), EscalationRule(when="failed", notify="chat"),
           EscalationRule(when="pending_approval", after_s=60, min_severity="high", notify="lead"))
    eng, cp = engine(timeout_s=0.05, escalation=esc, cp=SimulatedControlPlane(latency_s=0.5))
    rec = eng.request(ANOM, "snapshot_vm", {}, principal=RESP)
    assert rec.status == "timeout" and rec.escalated == ["pager"]
    eng2, _ = engine(escalation=esc, cp=SimulatedControlPlane(fail_targets={"vm-7"}))
    rec = eng2.request(ANOM, "snapshot_vm", {}, principal=RESP)
    assert rec.status == "failed" and "refused" in rec.error and rec.escalated == ["chat"]
    pend = eng2.request(ANOM, "block_ip", {}, principal=RESP)
    assert eng2.check_escalations({"anom-1": ANOM}, now=pend.created + 10) == 0
    assert eng2.check_escalations({"anom-1": ANOM}, now=pend.created + 61) == 1
    assert "escalated" in events(eng2)


def test_bad_requests():
    eng, _ = engine()
    with pytest.raises(ResponseError):
        eng.request(ANOM, "reboot_host", {}, principal=RESP)
    with pytest.raises(ResponseError):
        eng.request({"id": "x", "targets": {}}, "block_ip", {}, principal=RESP)


def test_audit_log_is_append_only_and_tamper_evident(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(JsonlAuditStore(path))
    log.write("requested", x=1)
    log.write("executed", x=2)
    # a second writer continues the chain from the file
    log2 = AuditLog(JsonlAuditStore(path))
    log2.write("requested", x=3)
    assert log2.verify() and [r["seq"] for r in log2.records()] == [0, 1, 2]
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    row["x"] = 99
    lines[1] = json.dumps(row, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    assert not AuditLog(JsonlAuditStore(path)).verify()


def test_token_auth(monkeypatch):
    monkeypatch.setenv("TEST_TOK", "s3cret-env")
    auth = TokenAuth([ApiToken(name="a", sha256=hashlib.sha256(b"s3cret").hexdigest(), roles=("responder",)),
                      ApiToken(name="b", env="TEST_TOK", roles=("viewer",)), ApiToken(name="c", env="UNSET_TOK_X")])
    assert auth.authenticate("s3cret").roles == {"responder"}
    assert auth.authenticate("s3cret-env").name == "b"
    assert auth.authenticate("nope") is None and auth.authenticate(None) is None and auth.authenticate("") is None


def test_shipped_config_validates():
    cfg = load_response_config()
    assert "snapshot_vm" not in cfg.destructive_actions


def test_a_restarted_engine_rebuilds_records_from_the_audit_trail_and_still_acts_once():
    from aiops.security.response.audit import AuditLog, MemoryAuditStore
    from aiops.security.response.auth import Principal
    from aiops.security.response.config import ResponseConfig
    from aiops.security.response.engine import ResponseEngine

    store = MemoryAuditStore()
    cfg = ResponseConfig(audit_log=None, dry_run=False)
    anomaly = {"id": "inc-x-000001", "severity": "high", "score": 0.99, "kind": "incident",
               "targets": {"vm_id": "vm-1", "ip": "203.0.113.9"}}
    who = Principal("alice", frozenset({"responder", "approver"}))
    first = ResponseEngine(cfg, audit=AuditLog(store))
    done = first.request(anomaly, "block_ip", principal=who, idempotency_key="k-1")
    waiting = first.request(anomaly, "quarantine_vm", idempotency_key="k-2")
    assert done.status == "executed" and waiting.status == "pending_approval"
    # a request whose outcome never reached the trail (the process died while acting)
    first.audit.write("requested", response_id="resp-cut", anomaly_id="inc-x-000001", action="disable_user",
                      target="bob", parameters={}, manual=True, comment=None, requested_by="alice",
                      idempotency_key="k-3")
    # an approved destructive action whose outcome never reached the trail (died while acting)
    first.approve(waiting.response_id, who, anomaly)
    rows = [r for r in store.records() if not (r["event"] == "executed" and r["response_id"] == waiting.response_id)]
    first.close()
    store = MemoryAuditStore()
    for r in rows:
        store.append(r)

    again = ResponseEngine(cfg, audit=AuditLog(store))
    assert again.restored == 3
    assert again.records[waiting.response_id].status == "interrupted"  # not approvable again: it may have run
    assert again.approve(waiting.response_id, who, anomaly).status == "interrupted"
    assert again.records[done.response_id].status == "executed"
    assert again.records["resp-cut"].status == "interrupted"
    repeat = again.request(anomaly, "block_ip", principal=who, idempotency_key="k-1")
    assert repeat.duplicate and repeat.response_id == done.response_id
    assert sum(1 for r in store.records() if r["event"] == "executed") == 1
    assert AuditLog(store).records()[-1]["event"] == "duplicate_ignored"
    again.close()
