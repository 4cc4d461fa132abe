"""Steering a response over HTTP: refused with a 4xx and a JSON reason; approval not skippable;
audit failures are a 503 the client can retry; escalation and late outcomes reach the anomalies."""
from __future__ import annotations

import hashlib
import time

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from aiops.api.auth import AuthGuard
from aiops.api.errors import install_error_handlers
from aiops.api.security import make_router
from aiops.security.correlation.signals import Signal
from aiops.security.response.audit import AuditLog, MemoryAuditStore
from aiops.auth import ApiToken, TokenAuth
from aiops.security.response.config import AutoRule, EscalationRule, ResponseConfig
from aiops.security.response.control_plane import SimulatedControlPlane
from aiops.security.response.engine import ResponseEngine
from aiops.security.service import SecurityService

T0 = 1_767_225_600.0
URL = "/api/ai/security/anomalies/inc-000001/respond"
RESP = {"Authorization": "Bearer tok-resp"}
AUTH = TokenAuth([ApiToken(name="resp", sha256=hashlib.sha256(b"tok-resp").hexdigest(), roles=("viewer", "responder"))],
                 environ={})


class Store(MemoryAuditStore):
    down = False

    def append(self, record):
        if self.down:
            raise ConnectionError("redis away")
        super().append(record)


def _service(cp: SimulatedControlPlane, store: Store, **cfg) -> SecurityService:
    conf = ResponseConfig(audit_log=None, **cfg)
    svc = SecurityService(response=ResponseEngine(conf, cp, audit=AuditLog(store)), response_config=conf)
    for s in (Signal(T0, "sigma", "ssh_bruteforce", 0.999, ("ip:203.0.113.5", "host:h1"), tactics=("credential_access",),
                     severity="high"),
              Signal(T0 + 60, "ueba", "ueba_rare_auth_action", 0.9995, ("host:h1", "user:admin@h1", "vm:vm-9"),
                     tactics=("privilege_escalation",), severity="critical")):
        svc.pipeline._correlate([s])
    svc.ingest_events([])
    return svc


@pytest.fixture()
def api():
    cp, store = SimulatedControlPlane(latency_s=0.0), Store()
    svc = _service(cp, store, auto_allow=(AutoRule(action="block_ip", min_severity="low"),
                                          AutoRule(action="quarantine_vm", min_severity="low")),
                   escalation=(EscalationRule(when="pending_approval", after_s=60, min_severity="high", notify="lead"),))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router(svc), prefix="/api/ai", dependencies=[Depends(AuthGuard(AUTH))])
    return TestClient(app), svc, cp, store


@pytest.mark.parametrize("body", [
    {"action": "block_ip", "parameters": {"ip": "203.0.113.5", "target": "0.0.0.0/0"}},
    {"action": "block_ip", "parameters": {"ip": "0.0.0.0/0"}},
    {"action": "snapshot_vm", "parameters": {"vm_id": "../users/alice/disable?x="}},
    {"action": "quarantine_vm", "parameters": {"vm_id": "vm-9", "network": "none"}},
])
def test_steering_requests_get_422_with_a_reason_and_cost_nothing(api, body):
    client, svc, cp, _ = api
    r = client.post(URL, json=body, headers=RESP)
    assert r.status_code == 422 and r.json()["message"], r.text
    assert cp.calls == [] and svc.response.audit.records() == [] and svc.anomalies["inc-000001"]["responses"] == []


def test_a_client_claiming_manual_false_does_not_get_auto_allow(api):
    client, _, cp, _ = api
    r = client.post(URL, json={"action": "block_ip", "parameters": {}, "manual": False}, headers=RESP)
    assert r.status_code == 202 and r.json()["status"] == "pending_approval" and r.json()["manual"] is True
    assert cp.blocked == set()


def test_an_audit_outage_is_a_503_and_the_retry_acts_once(api):
    client, svc, cp, store = api
    body, hdr = {"action": "snapshot_vm", "parameters": {}}, {**RESP, "Idempotency-Key": "r-1"}
    store.down = True
    r = client.post(URL, json=body, headers=hdr)
    assert r.status_code == 503 and r.headers["Retry-After"] and "audit" in r.json()["message"] and cp.calls == []
    store.down = False
    first, again = client.post(URL, json=body, headers=hdr), client.post(URL, json=body, headers=hdr)
    assert first.status_code == 200 and first.json()["status"] == "executed"
    assert again.json()["duplicate"] and len(cp.calls) == 1
    clash = client.post(URL, json={"action": "snapshot_vm", "parameters": {"memory": False}}, headers=hdr)
    assert clash.status_code == 409


def test_the_timer_escalates_pending_approvals_with_their_anomalies(api):
    client, svc, _, _ = api
    r = client.post(URL, json={"action": "quarantine_vm", "parameters": {}}, headers=RESP)
    assert r.status_code == 202
    created = r.json()["created"]
    assert svc.check_escalations(now=created + 30) == 0
    assert svc.check_escalations(now=created + 61) == 1
    assert svc.response.records[r.json()["response_id"]].escalated == ["lead"]
    assert "escalated" in [x["event"] for x in svc.response.audit.records()]


def test_a_late_success_mitigates_the_anomaly():
    cp = SimulatedControlPlane(latency_s=0.3)
    svc = _service(cp, Store(), timeout_s=0.05)
    rec = svc.response.request(svc.anomalies["inc-000001"], "snapshot_vm", {}, principal=None)
    assert rec.status == "timeout"
    deadline = time.monotonic() + 5
    while svc.anomalies["inc-000001"]["status"] != "mitigated" and time.monotonic() < deadline:
        time.sleep(0.05)
        svc.ingest_events([])  # what the correlator's timer does
    assert svc.anomalies["inc-000001"]["status"] == "mitigated" and rec.status == "executed"
