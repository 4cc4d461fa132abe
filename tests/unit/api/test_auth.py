"""The authentication layer over the full route set: which role each /api/ai route needs, 401/403 bodies."""
from __future__ import annotations

import re
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.api import console, failure, placement, security
from aiops.api.app import create_app
from aiops.api.auth import ANY_ROLE, ROUTE_ROLES, required_role
from aiops.auth import ROLES
from aiops.settings import ServeSettings
from tests.unit.api.auth_helpers import ALL_ROLES_TOKEN, role_token, test_auth
from tests.unit.api.test_api_app import InMemoryService


def full_app() -> FastAPI:
    """Every router `aiops up` serves, over services that are never reached by a refused request."""
    absent = object()  # a request that passes the guard fails later (500/422), which is not what is tested here
    routers = [failure.make_router(absent), placement.make_router(absent), placement.make_plan_router(absent),
               security.make_router(absent), console.make_console_router(absent)]
    return create_app(InMemoryService(), ServeSettings(), routers, auth=test_auth())


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """(method, route template) of every operation the app documents."""
    return [(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item]


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


APP = full_app()
OPS = operations(APP)
API_OPS = [op for op in OPS if op[1].startswith("/api/ai/")]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(APP, raise_server_exceptions=False)


def test_the_route_set_is_the_full_one_and_the_table_names_only_real_routes():
    assert len(API_OPS) >= 28
    assert set(ROUTE_ROLES) <= set(API_OPS), set(ROUTE_ROLES) - set(API_OPS)
    writes = {op for op in API_OPS if op[0] not in ("GET", "HEAD")}
    assert writes <= set(ROUTE_ROLES), f"writes without an explicit role (they would need admin): {writes - set(ROUTE_ROLES)}"


@pytest.mark.parametrize("method, path", API_OPS)
def test_every_api_route_needs_a_valid_token(client, method, path):
    url = concrete(path)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ALL_ROLES_TOKEN}"},
                    {"X-API-Token": "wrong"}, {"Authorization": "Bearer "}):
        r = client.request(method, url, headers=headers, json={})
        assert r.status_code == 401, (method, path, headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "unauthorized" and r.json()["status"] == 401
    for headers in ({"Authorization": f"Bearer {ALL_ROLES_TOKEN}"}, {"X-API-Token": ALL_ROLES_TOKEN}):
        assert client.request(method, url, headers=headers, json={}).status_code not in (401, 403)


@pytest.mark.parametrize("method, path", API_OPS)
def test_each_role_reaches_exactly_its_routes(client, method, path):
    need = required_role(method, path)
    for role in ROLES:
        r = client.request(method, concrete(path), headers={"Authorization": f"Bearer {role_token(role)}"}, json={})
        if need == ANY_ROLE or role in (need, "admin"):
            assert r.status_code not in (401, 403), (role, method, path, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.text)
            assert r.json()["error"] == "forbidden" and need in r.json()["message"]


@pytest.mark.parametrize("method, path, role", [
    ("GET", "/api/ai/features/{target_id}", "viewer"),
    ("GET", "/api/ai/security/anomalies", "viewer"),
    ("POST", "/api/ai/predictions/failures/batch", "viewer"),
    ("POST", "/api/ai/placement/recommendations", "viewer"),
    ("POST", "/api/ai/ingest", "operator"),
    ("POST", "/api/ai/features/definitions", "operator"),
    ("POST", "/api/ai/placement/evacuations", "operator"),
    ("POST", "/api/ai/placement/plans/{plan_id}/apply", "approver"),
    ("POST", "/api/ai/security/responses/{response_id}/approve", "approver"),
    ("POST", "/api/ai/security/anomalies/{anomaly_id}/respond", "responder"),
    ("DELETE", "/api/ai/security/suppressions/{suppression_id}", "responder"),
    ("POST", "/api/ai/some/future/write", "admin"),  # an unlisted write fails closed
    ("PUT", "/api/ai/features/{target_id}", "admin"),
])
def test_required_roles(method, path, role):
    assert required_role(method, path) == role


def test_a_viewer_cannot_ingest_and_an_operator_can(client):
    body = {"records": [{"target_id": "host-1", "target_type": "host", "ts": time.time() - 5, "metrics": {"cpu_utilization": 0.5}}]}
    assert client.post("/api/ai/ingest", json=body, headers={"Authorization": f"Bearer {role_token('viewer')}"}).status_code == 403
    r = client.post("/api/ai/ingest", json=body, headers={"Authorization": f"Bearer {role_token('operator')}"})
    assert r.status_code == 200 and r.json()["accepted_samples"] == 1


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/docs", "/openapi.json"])
def test_ops_and_docs_stay_open(client, path):
    assert client.get(path).status_code == 200


def test_openapi_documents_both_token_headers():
    schemes = APP.openapi()["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert any(s.get("name") == "X-API-Token" for s in schemes.values())
