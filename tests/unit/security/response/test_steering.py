"""Responses that cannot be steered: parameters per action, quoted paths, engine-only auto_allow,
scoped idempotency, audit before the action, late outcomes, torn audit tail, escalation."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from aiops.security.response.actions import ResponseError, validate_action
from aiops.security.response.audit import AuditLog, JsonlAuditStore, MemoryAuditStore
from aiops.security.response.auth import Principal
from aiops.security.response.config import AutoRule, EscalationRule, ResponseConfig
from aiops.security.response.control_plane import NovaCronControlPlane, SimulatedControlPlane, control_plane_path
from aiops.security.response.engine import ResponseEngine
from aiops.security.response.records import ApprovalDeniedError, AuditUnavailableError, IdempotencyConflictError

ANOM = {"id": "anom-1", "kind": "incident", "severity": "critical", "score": 0.99,
        "entities": ["vm:vm-7", "ip:203.0.113.5", "user:admin@h1"],
        "targets": {"vm_id": "vm-7", "ip": "203.0.113.5", "user": "admin"}}
RESP = Principal("r", frozenset({"responder"}))
APPR = Principal("a", frozenset({"responder", "approver"}))
AUTO = (AutoRule(action="quarantine_vm", min_severity="critical"), AutoRule(action="block_ip", min_severity="critical"))


def engine(cp=None, audit=None, **kw):
    cp = cp or SimulatedControlPlane()
    return ResponseEngine(ResponseConfig(audit_log=None, **kw), cp, audit=audit), cp


@pytest.mark.parametrize("action,params,why", [
    ("block_ip", {"ip": "203.0.113.5", "target": "0.0.0.0/0"}, "target"),
    ("block_ip", {"ip": "0.0.0.0/0"}, "not an IP"),
    ("block_ip", {"ip": "0.0.0.0"}, "cannot be blocked"),
    ("block_ip", {"ip": "127.0.0.1"}, "cannot be blocked"),
    ("snapshot_vm", {"vm_id": "../users/alice/disable?x="}, "vm_id"),
    ("quarantine_vm", {"vm_id": ".."}, "vm_id"),
    ("disable_user", {"user": "alice/../../admin"}, "user"),
    ("snapshot_vm", {"vm_id": "vm-7", "memory": "maybe"}, "memory"),
])
def test_steering_parameters_are_refused_before_anything_is_audited_or_sent(action, params, why):
    eng, cp = engine()
    with pytest.raises(ResponseError, match=why):
        eng.request(ANOM, action, params, principal=APPR)
    assert cp.calls == [] and eng.audit.records() == [] and eng.records == {}


def test_an_anomaly_target_from_a_log_line_is_validated_too():
    hostile = dict(ANOM, id="anom-2", targets={"vm_id": "../users/alice/disable?x="})
    with pytest.raises(ResponseError):
        engine()[0].request(hostile, "snapshot_vm", {}, principal=RESP)


def test_ips_are_normalised_and_the_inventory_decides_which_vms_exist():
    assert validate_action("block_ip", {"ip": " 2001:DB8::1 ", "ttl_s": 3600}, {}) == ("2001:db8::1", {"ttl_s": 3600})
    known = {"vm-7"}.__contains__
    assert validate_action("snapshot_vm", {}, {"vm_id": "vm-7"}, known) == ("vm-7", {"memory": True})
    with pytest.raises(ResponseError, match="inventory"):
        validate_action("quarantine_vm", {"vm_id": "vm-8"}, {}, known)


def test_control_plane_paths_are_built_from_quoted_segments_and_the_target_cannot_be_overridden():
    assert control_plane_path("/api/v1/vms/{target}/snapshots", "../users/alice/disable?x=") == \
        "/api/v1/vms/..%2Fusers%2Falice%2Fdisable%3Fx%3D/snapshots"
    with pytest.raises(ValueError):
        control_plane_path("/api/v1/users/{target}/disable", "..")
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"ok": True})

    cp = NovaCronControlPlane("http://novacron.test", "t", transport=httpx.MockTransport(handler))
    cp.execute("quarantine_vm", "vm 1/x", {"target": "vm-other"}, request_id="resp-1")
    assert seen[0].url.raw_path == b"/api/v1/vms/vm%201%2Fx/quarantine"
    assert json.loads(seen[0].content)["target"] == "vm 1/x" and seen[0].headers["Idempotency-Key"] == "resp-1"


def test_auto_allow_covers_only_the_engines_own_proposals_on_the_anomalys_own_entities():
    eng, cp = engine(auto_allow=AUTO)
    # a client (responder) gets no auto_allow, whatever it claims
    assert eng.request(ANOM, "quarantine_vm", {}, principal=RESP).status == "pending_approval"
    # the engine, on another VM than the anomaly's: needs approval too
    other = eng.request(dict(ANOM, id="anom-3"), "quarantine_vm", {"vm_id": "vm-99"})
    assert other.status == "pending_approval" and other.manual is False
    own = eng.request(dict(ANOM, id="anom-4"), "block_ip", {})
    assert own.status == "executed" and own.approved_by == "policy:auto_allow" and cp.blocked == {"203.0.113.5"}
    assert cp.quarantined == set()


def test_approval_needs_the_role_and_a_pending_request_runs_once_under_concurrent_approvals():
    eng, cp = engine(cp=SimulatedControlPlane(latency_s=0.05))
    rec = eng.request(ANOM, "block_ip", {}, principal=RESP)
    with pytest.raises(ApprovalDeniedError):
        eng.approve(rec.response_id, RESP, ANOM)
    threads = [threading.Thread(target=eng.approve, args=(rec.response_id, APPR, ANOM)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rec.status == "executed" and len(cp.calls) == 1
    events = [r["event"] for r in eng.audit.records()]
    assert events.count("approved") == 1 and events.count("approve_ignored") == 7


def test_idempotency_keys_are_scoped_to_anomaly_and_action():
    eng, cp = engine()
    a = eng.request(ANOM, "snapshot_vm", {}, principal=RESP, idempotency_key="k")
    b = eng.request(dict(ANOM, id="anom-2"), "snapshot_vm", {}, principal=RESP, idempotency_key="k")
    c = eng.request(ANOM, "snapshot_vm", {}, principal=RESP, idempotency_key="k")
    assert not b.duplicate and b.response_id != a.response_id and c.duplicate and c.response_id == a.response_id
    with pytest.raises(IdempotencyConflictError):
        eng.request(ANOM, "snapshot_vm", {"memory": False}, principal=RESP, idempotency_key="k")
    assert len(cp.calls) == 2


class AuditFirstPlane(SimulatedControlPlane):
    """Checks, while acting, that the trail already holds the request."""

    def __init__(self, audit: AuditLog) -> None:
        super().__init__()
        self.audit, self.seen_rows = audit, []

    def execute(self, action, target, parameters, request_id=None):
        self.seen_rows.append([(r["event"], r["response_id"]) for r in self.audit.records()])
        return super().execute(action, target, parameters, request_id)


class FlakyStore(MemoryAuditStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def append(self, record):
        if self.down:
            raise ConnectionError("audit store down")
        super().append(record)


def test_the_audit_is_written_before_the_action_and_a_failed_write_leaves_no_half_state():
    store = FlakyStore()
    audit = AuditLog(store)
    eng, cp = engine(cp=AuditFirstPlane(audit), audit=audit)
    rec = eng.request(ANOM, "snapshot_vm", {}, principal=RESP)
    assert cp.seen_rows == [[("requested", rec.response_id)]]
    assert [r["event"] for r in audit.records()] == ["requested", "executed"]
    store.down = True
    with pytest.raises(AuditUnavailableError):
        eng.request(ANOM, "disable_user", {}, principal=APPR, idempotency_key="retry-me")
    assert len(cp.calls) == 1 and len(eng.records) == 1 and eng.audit_failures == 1
    store.down = False
    pending = eng.request(ANOM, "block_ip", {}, principal=RESP)
    again = eng.request(ANOM, "disable_user", {}, principal=APPR, idempotency_key="retry-me")  # the key was released
    assert not again.duplicate and again.status == "executed" and cp.disabled == {"admin"}
    store.down = True
    with pytest.raises(AuditUnavailableError):
        eng.approve(pending.response_id, APPR, ANOM)
    assert pending.status == "pending_approval" and cp.blocked == set()
    store.down = False
    assert eng.approve(pending.response_id, APPR, ANOM).status == "executed" and audit.verify()


def test_a_timed_out_call_that_ran_later_is_recorded_as_executed_late():
    eng, cp = engine(cp=SimulatedControlPlane(latency_s=0.3), timeout_s=0.05)
    rec = eng.request(ANOM, "snapshot_vm", {}, principal=RESP)
    assert rec.status == "timeout"
    deadline = time.monotonic() + 5
    while rec.status == "timeout" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rec.status == "executed" and rec.result["vm_id"] == "vm-7" and "after" in rec.error
    assert [r["event"] for r in eng.audit.records()] == ["requested", "timeout", "executed_late"]
    assert [r.response_id for r in eng.drain_late()] == [rec.response_id] and eng.drain_late() == []
    restarted = ResponseEngine(ResponseConfig(audit_log=None), SimulatedControlPlane(), audit=AuditLog(eng.audit.store))
    assert restarted.records[rec.response_id].status == "executed"


def test_a_torn_audit_tail_is_skipped_with_a_count_and_the_trail_goes_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    first, cp = engine(audit=AuditLog(JsonlAuditStore(path)))
    done = first.request(ANOM, "snapshot_vm", {}, principal=RESP)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"seq": 2, "event": "requested", "response_id": "resp-tor')  # the writer died mid-line
    audit = AuditLog(JsonlAuditStore(path))
    assert audit.skipped_at_start == 1
    again, _ = engine(audit=audit)
    assert again.records[done.response_id].status == "executed"
    assert again.request(ANOM, "snapshot_vm", {}, principal=RESP).duplicate
    fresh = again.request(ANOM, "disable_user", {}, principal=APPR)
    assert fresh.status == "executed" and audit.verify()
    assert [r["event"] for r in AuditLog(JsonlAuditStore(path)).records()][-2:] == ["requested", "executed"]


def test_pending_approvals_escalate_on_their_anomaly_or_the_severity_recorded_with_them():
    esc = (EscalationRule(when="pending_approval", after_s=60, min_severity="high", notify="lead"),)
    eng, _ = engine(escalation=esc)
    rec = eng.request(ANOM, "block_ip", {}, principal=RESP)
    assert eng.check_escalations({"anom-1": ANOM}, now=rec.created + 10) == 0
    assert eng.check_escalations({}, now=rec.created + 61) == 1  # anomaly evicted: its recorded severity counts
    assert rec.escalated == ["lead"] and eng.check_escalations({}, now=rec.created + 120) == 0
    low = eng.request(dict(ANOM, id="anom-low", severity="medium"), "block_ip", {}, principal=RESP)
    assert eng.check_escalations({}, now=low.created + 61) == 0
