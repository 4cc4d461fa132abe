"""Requests shaped as a user writes them (issue 11): the seed-shaped VM spec is placed, durations are taken in
every form, tenant_id may be left out, and every request body documents an example in OpenAPI."""
from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from aiops.api.placement import make_router
from aiops.api.placement_schemas import RecommendationRequest
from aiops.placement.recommend import PlacementService
from tests.unit.api.auth_helpers import HEADERS
from tests.unit.api.full_app import FakeSecurity, full_app
from tests.unit.placement.recommend_fixtures import catalog, fleet

SEED_SPEC = {"vm_specs": {"cpu_cores": 2, "memory_gb": 4, "disk_gb": 20}}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(full_app(), headers=HEADERS)


def test_seed_shaped_vm_spec_gets_ranked_nodes(client: TestClient) -> None:
    r = client.post("/api/ai/placement/recommendations", json=SEED_SPEC)
    assert r.status_code == 200, r.text
    recs = r.json()["recommendations"]
    assert [n["rank"] for n in recs] == list(range(1, len(recs) + 1)) and len(recs) == 5
    scores = [n["placement_score"] for n in recs]
    assert scores == sorted(scores, reverse=True) and len({n["node_id"] for n in recs}) == len(recs)


def test_missing_tenant_is_the_configured_default() -> None:
    seen: list[str] = []
    inv = fleet()
    service = PlacementService(lambda: inv, catalog=catalog())
    real = service.recommend
    service.recommend = lambda q: (seen.append(q.vm.tenant), real(q))[1]  # type: ignore[method-assign]
    from fastapi import FastAPI
    app = FastAPI()
    app.include_router(make_router(service, default_tenant="acme"), prefix="/api/ai")
    c = TestClient(app)
    assert c.post("/api/ai/placement/recommendations", json=SEED_SPEC).status_code == 200
    body = {"vm_specs": {**SEED_SPEC["vm_specs"], "tenant_id": "globex"}}
    assert c.post("/api/ai/placement/recommendations", json=body).status_code == 200
    assert seen == ["acme", "globex"]
    bad = {"vm_specs": {**SEED_SPEC["vm_specs"], "tenant_id": ""}}
    assert c.post("/api/ai/placement/recommendations", json=bad).status_code == 422


@pytest.mark.parametrize("horizon, hours", [(48, 48.0), ("48", 48.0), ("2d", 48.0), ("P2D", 48.0), ("PT36H", 36.0),
                                            ("1h30m", 1.5), ("90m", 1.5)])
def test_placement_horizon_in_every_form(client: TestClient, horizon: Any, hours: float) -> None:
    r = client.post("/api/ai/placement/recommendations", json={**SEED_SPEC, "time_horizon": horizon})
    assert r.status_code == 200, r.text
    assert r.json()["recommendations"][0]["estimated_cost"]["horizon_hours"] == pytest.approx(hours)


@pytest.mark.parametrize("horizon", ["P1M", "soon", "0h", -3, "P400D"])
def test_bad_horizon_is_422_naming_the_forms(client: TestClient, horizon: Any) -> None:
    r = client.post("/api/ai/placement/recommendations", json={**SEED_SPEC, "time_horizon": horizon})
    assert r.status_code == 422, r.text
    assert "time_horizon" in r.text


@pytest.mark.parametrize("horizon, seconds", [(3600, 3600.0), ("24h", 86400.0), ("PT24H", 86400.0), ("P1D", 86400.0),
                                              ("1h30m", 5400.0)])
def test_failure_batch_horizon_in_every_form(client: TestClient, horizon: Any, seconds: float) -> None:
    r = client.post("/api/ai/predictions/failures/batch", json={"target_ids": ["host-0004"], "time_horizon": horizon})
    assert r.status_code == 200, r.text
    assert r.json()["time_horizon_s"] == seconds
    assert client.post("/api/ai/predictions/failures/batch",
                       json={"target_ids": ["host-0004"], "time_horizon": "P31D"}).status_code == 422


def test_query_durations_take_every_form() -> None:
    security = FakeSecurity()
    c = TestClient(full_app(security_service=security), headers=HEADERS)
    for bucket, seconds in (("15m", 900.0), ("PT1H", 3600.0), ("300", 300.0)):
        assert c.get("/api/ai/security/anomalies", params={"bucket": bucket}).status_code == 200
        assert security.calls[-1]["bucket"] == seconds
    assert c.get("/api/ai/security/anomalies", params={"bucket": "fortnight"}).status_code == 422


def test_plan_time_limit_and_block_ip_ttl_take_durations() -> None:
    req = {"vms": [{"cpu_cores": 1, "memory_gb": 2, "vm_id": "a"}], "time_limit_s": "PT0.5S", "time_horizon": "12h"}
    from aiops.api.placement_schemas import PlanRequest
    q = PlanRequest.model_validate(req).to_domain("acme")
    assert q.time_limit_s == 0.5 and q.time_horizon == 12.0 and q.vms[0].request.tenant == "acme"
    from aiops.security.response.actions import BlockIp
    assert BlockIp(ip="203.0.113.7", ttl_s="PT2H").ttl_s == 7200 and BlockIp(ip="203.0.113.7", ttl_s=600).ttl_s == 600
    with pytest.raises(ValueError):
        BlockIp(ip="203.0.113.7", ttl_s="10s")  # below the 60 s floor, whatever the form


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_request_body_has_an_example_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    bodies = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            schema = _resolve(spec, content.get("schema", {}))
            bodies.append(f"{method.upper()} {path}")
            assert content.get("examples") or content.get("example") or schema.get("examples"), \
                f"{method.upper()} {path}: request body without an example"
    assert len(bodies) >= 11, bodies  # ingest, definitions, batch, mitigations, 6 placement, respond, suppressions
    assert "POST /api/ai/placement/recommendations" in bodies and "POST /api/ai/features/definitions" in bodies


def test_each_documented_example_is_accepted_by_its_model() -> None:
    from aiops.api import failure, placement_schemas, security
    from aiops.features.definitions import FeatureDefinition
    from aiops.security.sigma.suppression import Suppression

    models = [getattr(placement_schemas, n) for n in placement_schemas.__all__ if n != "DEFAULT_TENANT"]
    models += [failure.BatchRequest, failure.MitigationRequest, security.RespondRequest, FeatureDefinition, Suppression]
    for model in models:
        examples = model.model_json_schema().get("examples")
        assert examples, model.__name__
        for ex in examples:
            model.model_validate(ex)  # an example that does not validate would teach users a 422
    assert RecommendationRequest.model_validate(SEED_SPEC).vm_specs.tenant_id is None
