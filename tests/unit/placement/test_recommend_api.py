"""HTTP contract of the placement router (FastAPI TestClient; no Ray)."""
from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.api.errors import install_error_handlers
from aiops.api.placement import make_router
from aiops.placement.recommend import PlacementService

from tests.unit.placement.recommend_fixtures import busiest_tenant, catalog, fleet


@pytest.fixture(scope="module")
def client() -> TestClient:
    inv = fleet()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router(PlacementService(lambda: inv, catalog=catalog())), prefix="/api/ai")
    return TestClient(app)


def _body(**over):
    inv = fleet()
    body = {"vm_specs": {"tenant_id": busiest_tenant(inv), "cpu_cores": 4, "memory_gb": 16, "disk_gb": 50,
                         "user_location": {"lat": 50.1, "lon": 8.7}},
            "objectives": ["performance"], "time_horizon": 48, "max_recommendations": 3}
    body.update(over)
    return body


def test_recommendations_ok(client: TestClient) -> None:
    r = client.post("/api/ai/placement/recommendations", json=_body())
    assert r.status_code == 200, r.text
    data = r.json()
    assert len(data["recommendations"]) == 3
    rec = data["recommendations"][0]
    for key in ("node_id", "placement_score", "confidence", "rank", "factor_scores", "pros", "cons",
                "estimated_cost", "performance_estimate"):
        assert key in rec
    assert data["factors_considered"] >= 100 and data["total_nodes"] == fleet().n_nodes
    assert "sample_size" in data["sampling"] and isinstance(data["rejections"], dict)
    assert rec["estimated_cost"]["horizon_hours"] == 48


def test_infeasible_is_409_with_counted_constraints(client: TestClient) -> None:
    body = _body(constraints={"data_residency": ["JP"], "min_security_level": 5, "certifications": ["fedramp"]})
    body["vm_specs"]["cpu_cores"] = 900
    r = client.post("/api/ai/placement/recommendations", json=body)
    assert r.status_code == 409
    err = r.json()
    assert err["error"] == "no_feasible_node" and err["status"] == 409
    rej = err["details"]["rejections"]
    assert rej["insufficient_cpu"] == fleet().n_nodes
    assert {"data_residency", "security_level_too_low", "missing_certification"} <= set(rej)
    assert "insufficient cpu" in err["message"]


@pytest.mark.parametrize("mutate", [
    lambda b: b["vm_specs"].update(cpu_cores=-1),
    lambda b: b.update(time_horizon=0),
    lambda b: b.update(objectives=["vibes"]),
    lambda b: b.update(max_recommendations=0),
    lambda b: b.update(unexpected=True),
])
def test_invalid_body_is_422(client: TestClient, mutate) -> None:
    body = _body()
    mutate(body)
    assert client.post("/api/ai/placement/recommendations", json=body).status_code == 422


def test_domain_validation_errors_are_422(client: TestClient) -> None:
    r = client.post("/api/ai/placement/recommendations", json=_body(constraints={"affinity": [{"vm_ids": ["vm-nope"]}]}))
    assert r.status_code == 422 and "unknown VM ids" in r.json()["message"]
    r = client.post("/api/ai/placement/recommendations", json=_body(constraints={"zones": ["moon-1"]}))
    assert r.status_code == 422
    body = _body()
    body["vm_specs"].update(gpus=1, gpu_model="Z80")
    assert client.post("/api/ai/placement/recommendations", json=body).status_code == 422


def test_factors_endpoint(client: TestClient) -> None:
    r = client.get("/api/ai/placement/factors")
    assert r.status_code == 200
    data = r.json()
    assert data["total_factors"] == len(data["factors"]) >= 100
    assert len(data["categories"]) == 10
    assert {"weight", "importance", "scope", "update_frequency"} <= set(data["factors"][0])


def test_feedback_roundtrip(client: TestClient) -> None:
    rec = client.post("/api/ai/placement/recommendations", json=_body()).json()
    top = rec["recommendations"][0]
    fb = {"placement_id": rec["placement_id"], "vm_specs": _body()["vm_specs"], "node_id": top["node_id"],
          "placement_score": top["placement_score"], "actual_performance": 0.8, "user_satisfaction": 4,
          "issues": ["noisy neighbour"], "timestamp": "2026-01-02T03:04:05Z"}
    r = client.post("/api/ai/placement/feedback", json=fb)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] and out["weights_version"] >= 1 and out["outcome"] == pytest.approx(0.6 * 0.8 + 0.3 - 0.05)
    bad = dict(fb, node_id="node-nope", placement_id="other")
    assert client.post("/api/ai/placement/feedback", json=bad).status_code == 422
    assert client.post("/api/ai/placement/feedback", json=dict(fb, user_satisfaction=9)).status_code == 422


def test_missing_inventory_source_is_503_with_retry_after() -> None:
    """The fleet's collector not running yet is a transient outage, not a server bug (was a 500)."""
    import pickle

    from aiops.placement.errors import InventoryUnavailable
    from aiops.placement.inventory import CachedFleet

    def fetch():
        raise InventoryUnavailable("no inventory source: actor 'collector-simulator' is not running")

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router(PlacementService(CachedFleet(fetch).inventory, catalog=catalog())), prefix="/api/ai")
    r = TestClient(app).post("/api/ai/placement/recommendations", json=_body())
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"] == "unavailable" and "collector-simulator" in r.json()["message"]
    assert isinstance(pickle.loads(pickle.dumps(InventoryUnavailable("x"))), InventoryUnavailable)  # crosses Ray
