"""The plan router over the Ray-free PlanService: status codes and JSON errors."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.api.errors import install_error_handlers
from aiops.api.placement import make_plan_router
from aiops.placement.plan import PlanService
from tests.unit.placement.fleet_fixtures import control_plane, snapshot


def _client():
    cp = control_plane()
    risk = {"host-0004": 0.95}
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_plan_router(PlanService(lambda: snapshot(risk, cp), cp)), prefix="/api/ai")
    return TestClient(app), cp


def test_plan_evacuate_apply_over_http():
    client, cp = _client()
    vm = {"tenant_id": "tenant-001", "cpu_cores": 2, "memory_gb": 8}
    r = client.post("/api/ai/placement/plan", json={"vms": [{**vm, "vm_id": "a"}, {**vm, "vm_id": "b"}], "time_limit_s": 0.5})
    assert r.status_code == 200 and set(r.json()["assignment"]) == {"a", "b"}
    r = client.post("/api/ai/placement/plan", json={"vms": [vm], "constraints": {"certifications": ["gdpr"], "regions": ["us-east"]}})
    body = r.json()
    assert r.status_code == 409 and body["error"] == "no_feasible_plan"
    rej = body["details"]["rejections"]   # EU hosts fail the region, US hosts the GDPR certification
    assert rej["region_not_allowed"] + rej["missing_certification"] >= 16 and "missing certification" in body["message"]
    assert client.post("/api/ai/placement/plan", json={"vms": [{**vm, "gpu_model": "Z9"}]}).status_code == 422
    assert client.post("/api/ai/placement/plan", json={"vms": [{**vm, "bogus": 1}]}).status_code == 422
    ev = client.post("/api/ai/placement/evacuations", json={}).json()
    assert ev["hosts"] == ["host-0004"] and ev["complete"]
    assert client.get(f"/api/ai/placement/plans/{ev['plan_id']}").json()["status"] == "proposed"
    assert client.get("/api/ai/placement/plans/missing").status_code == 404
    r = client.post(f"/api/ai/placement/plans/{ev['plan_id']}/apply", json={"approve": False})
    assert r.status_code == 403 and r.json()["error"] == "approval_required" and cp.version == 0
    r = client.post(f"/api/ai/placement/plans/{ev['plan_id']}/apply", json={"approve": True})
    assert r.status_code == 200 and r.json()["status"] == "applied"
    r2 = client.post(f"/api/ai/placement/plans/{ev['plan_id']}/apply", json={"approve": True})
    assert r2.json()["already_applied"] and r2.json()["applied"] == r.json()["applied"]
    r = client.post("/api/ai/placement/evacuations", json={"threshold": 0.99})
    assert r.status_code == 409 and r.json()["error"] == "no_host_at_risk"
