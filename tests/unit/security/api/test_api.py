"""HTTP API: auth (401/403), respond + audit + idempotency, anomalies filters/paging, threats."""
from __future__ import annotations

import hashlib

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from aiops.api.auth import AuthGuard
from aiops.api.errors import install_error_handlers
from aiops.api.security import make_router
from aiops.auth import ApiToken, TokenAuth
from aiops.security.correlation.signals import Signal
from aiops.security.service import SecurityService
from aiops.security.response.config import ResponseConfig
from aiops.security.response.engine import ResponseEngine
from aiops.security.response.control_plane import SimulatedControlPlane

T0 = 1_767_225_600.0


def h(tok: str) -> str:
    return hashlib.sha256(tok.encode()).hexdigest()


@pytest.fixture()
def setup():
    cfg = ResponseConfig(audit_log=None)
    cp = SimulatedControlPlane()
    svc = SecurityService(response=ResponseEngine(cfg, cp), response_config=cfg)
    g = svc.pipeline
    # an attack: two kill-chain stages on one host → an incident; plus an unrelated strong anomaly
    for s in (Signal(T0, "sigma", "ssh_bruteforce", 0.999, ("ip:203.0.113.5", "host:h1"), tactics=("credential_access",), severity="medium"),
              Signal(T0 + 60, "ueba", "ueba_rare_auth_action", 0.9995, ("host:h1", "user:admin@h1", "vm:vm-9"),
                     tactics=("privilege_escalation",), severity="high"),
              Signal(T0 + 7200, "network", "network_flow_anomaly", 0.9999, ("host:h5", "ip:198.51.100.3"), severity="high")):
        g._correlate([s])
    return TestClient(_guarded(svc)), svc, cp


AUTH = TokenAuth([ApiToken(name="resp", sha256=h("tok-resp"), roles=("viewer", "responder")),
                  ApiToken(name="lead", sha256=h("tok-lead"), roles=("viewer", "responder", "approver")),
                  ApiToken(name="dash", sha256=h("tok-view"), roles=("viewer",))], environ={})


def _guarded(svc) -> FastAPI:
    """The router behind the same token check `create_app` puts on every /api/ai route."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router(svc), prefix="/api/ai", dependencies=[Depends(AuthGuard(AUTH))])
    return app


def auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_respond_requires_token_and_role(setup):
    client, svc, cp = setup
    url = "/api/ai/security/anomalies/inc-000001/respond"
    body = {"action": "snapshot_vm", "parameters": {}, "manual": True, "comment": "forensics"}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=auth("wrong")).status_code == 401
    assert client.post(url, json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post(url, json=body, headers=auth("tok-view")).status_code == 403
    assert cp.calls == [] and svc.response.audit.records() == []
    r = client.post(url, json=body, headers=auth("tok-resp"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executed" and r.json()["target"] == "vm-9"
    # repeated request acts once
    r2 = client.post(url, json=body, headers=auth("tok-resp"))
    assert r2.status_code == 200 and r2.json()["duplicate"] and r2.json()["response_id"] == r.json()["response_id"]
    assert len(cp.calls) == 1
    ev = [x["event"] for x in svc.response.audit.records()]
    assert ev == ["requested", "executed", "duplicate_ignored"] and svc.response.audit.verify()
    assert svc.anomalies["inc-000001"]["status"] == "mitigated"


def test_destructive_pending_then_approved(setup):
    client, svc, cp = setup
    url = "/api/ai/security/anomalies/inc-000001/respond"
    r = client.post(url, json={"action": "block_ip", "parameters": {}}, headers=auth("tok-resp"))
    assert r.status_code == 202 and r.json()["status"] == "pending_approval" and not cp.blocked
    rid = r.json()["response_id"]
    assert client.post(f"/api/ai/security/responses/{rid}/approve", headers=auth("tok-resp")).status_code == 403
    a = client.post(f"/api/ai/security/responses/{rid}/approve", headers={"X-API-Token": "tok-lead"})
    assert a.status_code == 200 and a.json()["status"] == "executed" and cp.blocked == {"203.0.113.5"}
    assert client.post("/api/ai/security/responses/nope/approve", headers=auth("tok-lead")).status_code == 404


def test_respond_validation(setup):
    client, _, _ = setup
    hdr = auth("tok-resp")
    assert client.post("/api/ai/security/anomalies/nope/respond", json={"action": "snapshot_vm"}, headers=hdr).status_code == 404
    assert client.post("/api/ai/security/anomalies/inc-000001/respond", json={"action": "rm_rf"}, headers=hdr).status_code == 422
    r = client.post("/api/ai/security/anomalies/inc-000001/respond", json={"action": "disable_user", "dry_run": True}, headers=hdr)
    assert r.status_code == 200 and r.json()["status"] == "dry_run" and r.json()["target"] == "admin"


def test_domain_errors_propagate_to_the_error_table(setup):
    """The router translates nothing: ResponseError is a 422 and suppression conflicts a 409, same bodies."""
    client, _, _ = setup
    hdr = auth("tok-resp")
    network = client.get("/api/ai/security/anomalies?kind=network", headers=hdr).json()["anomalies"][0]["id"]
    r = client.post(f"/api/ai/security/anomalies/{network}/respond", json={"action": "disable_user"}, headers=hdr)
    assert r.status_code == 422 and r.json() == {
        "error": "invalid_input", "message": "disable_user needs parameters.user (the anomaly names no user)", "status": 422}
    r = client.post("/api/ai/security/suppressions", json={"id": "s1", "reason": "r", "rules": ["*"]}, headers=hdr)
    assert r.status_code == 409 and r.json() == {
        "error": "conflict", "message": "no Sigma rules are loaded, so there is nothing to suppress", "status": 409}


def test_anomalies_filters_paging_and_threats(setup):
    client, _, _ = setup
    assert client.get("/api/ai/security/anomalies").status_code == 401  # reads need a token too
    client.headers.update(auth("tok-view"))
    r = client.get("/api/ai/security/anomalies")
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"anomalies", "summary", "timeline"}
    kinds = body["summary"]["by_kind"]
    assert kinds["incident"] == 1 and body["summary"]["total"] == 4
    assert sum(b["count"] for b in body["timeline"]) == 4
    assert [a["id"] for a in client.get("/api/ai/security/anomalies?severity=critical,high&kind=incident").json()["anomalies"]] == ["inc-000001"]
    only_h5 = client.get("/api/ai/security/anomalies?entity=h5").json()
    assert only_h5["total"] == 1 and only_h5["anomalies"][0]["kind"] == "network"
    page = client.get("/api/ai/security/anomalies?limit=2&offset=2").json()
    assert len(page["anomalies"]) == 2 and page["total"] == 4
    ranged = client.get(f"/api/ai/security/anomalies?start={T0 + 3600}&end={T0 + 9000}").json()
    assert ranged["total"] == 1
    assert client.get("/api/ai/security/anomalies?severity=bad").status_code == 422
    assert client.get(f"/api/ai/security/anomalies?start={T0}&end={T0 - 1}").status_code == 422
    t = client.get("/api/ai/security/threats").json()
    assert set(t) == {"active_threats", "overall_risk_score", "last_updated"}
    assert t["active_threats"][0]["id"] == "inc-000001" and 0 < t["overall_risk_score"] <= 1
    inc = client.get("/api/ai/security/incidents/inc-000001").json()
    assert inc["incident"]["id"] == "inc-000001" and inc["graph"]["nodes"] and len(inc["timeline"]) == 2
    assert client.get("/api/ai/security/incidents/zzz").status_code == 404
    svg = client.get("/api/ai/security/incidents/inc-000001/graph.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    assert client.get("/api/ai/security/incidents/zzz/graph.svg").status_code == 404


def test_suppressions_through_the_api_are_audited_counted_and_survive_a_restart():
    from aiops.security.pipeline import SecurityPipeline
    from aiops.security.events import LogSource, SecurityEvent
    from aiops.security.response.audit import AuditLog, MemoryAuditStore
    from aiops.security.sigma.pipeline import DetectionPipeline
    from aiops.security.sigma.rules import load_rules
    from aiops.settings import PROJECT_ROOT

    cfg = ResponseConfig(audit_log=None)
    audit = MemoryAuditStore()

    def service() -> SecurityService:
        sigma = DetectionPipeline(load_rules([PROJECT_ROOT / "configs" / "rules"]))
        return SecurityService(SecurityPipeline(sigma=sigma), ResponseEngine(cfg, audit=AuditLog(audit)), response_config=cfg)

    svc = service()
    client = TestClient(_guarded(svc))
    url = "/api/ai/security/suppressions"
    body = {"id": "backup-sweep", "reason": "the vulnerability scanner's subnet", "rules": ["ssh_bruteforce"],
            "entities": {"src_ip": "203.0.113.0/24"}}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=auth("tok-view")).status_code == 403
    assert client.post(url, json={**body, "entities": {"colour": "red"}}, headers=auth("tok-resp")).status_code == 422
    made = client.post(url, json=body, headers=auth("tok-resp"))
    assert made.status_code == 201 and made.json()["created_by"] == "resp"
    dup = client.post(url, json=body, headers=auth("tok-resp"))
    assert dup.status_code == 409 and dup.json() == {"error": "conflict", "message": "suppression 'backup-sweep' already exists",
                                                     "status": 409}

    ssh = LogSource(product="linux", service="sshd")
    fails = [SecurityEvent(timestamp=T0 + i, source="auth", logsource=ssh, host="h1", user=f"u{i}", src_ip=ip,
                           action="ssh_login", outcome="failure") for ip in ("203.0.113.9", "198.51.100.7") for i in range(12)]
    svc.ingest_events(fails)
    listed = {s["id"]: s for s in client.get(url, headers=auth("tok-view")).json()}
    assert listed["backup-sweep"]["suppressed"] >= 1
    kept = [s for s in svc.pipeline.recent if s.name == "ssh_bruteforce"]
    assert kept and all("ip:198.51.100.7" in s.entities for s in kept)  # the other source still alerts
    count = listed["backup-sweep"]["suppressed"]

    again = service()  # a restart: the API-added entry comes back from the audit trail
    assert [s["id"] for s in TestClient(_guarded(again)).get(url, headers=auth("tok-view")).json()] == ["backup-sweep"]
    gone = client.delete(f"{url}/backup-sweep", headers=auth("tok-resp"))
    assert gone.status_code == 200 and gone.json()["suppressed"] == count
    assert client.delete(f"{url}/backup-sweep", headers=auth("tok-resp")).status_code == 404
    assert service()._suppressions().entries() == []  # the removal is replayed too
    events = [r["event"] for r in audit.records()]
    assert events.count("suppression_added") == 1 and events.count("suppression_removed") == 1

