"""Every /api/ai route of a running engine, found from its own OpenAPI document, refuses a missing or wrong token."""
from __future__ import annotations

import re

import httpx

from aiops.api.auth import ANY_ROLE, required_role
from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings, system_factory  # noqa: F401


def _operations(base: str) -> list[tuple[str, str]]:
    doc = httpx.get(f"{base}/openapi.json", timeout=30).json()  # open: no token
    return [(m.upper(), p) for p, item in doc["paths"].items() for m in item if p.startswith("/api/ai/")]


def test_every_api_route_answers_401_without_a_token_and_403_for_the_wrong_role(system_factory):  # noqa: F811
    system = system_factory(make_settings(**{"simulator.hosts": 5, "simulator.vms_per_host": 1}))
    ops = _operations(system.url)
    assert len(ops) >= 28 and ("POST", "/api/ai/placement/plans/{plan_id}/apply") in ops
    viewer = {"Authorization": "Bearer test-viewer"}  # AIOPS_SECURITY_VIEWER_TOKEN, set for the workers in conftest
    with httpx.Client(base_url=system.url, timeout=60) as client:
        for method, path in ops:
            url = re.sub(r"\{[^}]+\}", "x", path)
            none = client.request(method, url, json={})
            assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer", (method, path, none.text)
            assert none.json()["error"] == "unauthorized"
            for wrong in ({"Authorization": "Bearer not-a-token"}, {"X-API-Token": "not-a-token"}):
                assert client.request(method, url, json={}, headers=wrong).status_code == 401, (method, path)
            as_viewer = client.request(method, url, json={}, headers=viewer)
            if required_role(method, path) not in ("viewer", ANY_ROLE):  # whoami: any valid token
                assert as_viewer.status_code == 403 and as_viewer.json()["error"] == "forbidden", (method, path)
            # AIOPS_API_TOKEN (every role) is let through; a JSON list as the body keeps every write from acting
            # (a `{}` suppression would be valid, suppress everything and be replayed from the audit log)
            allowed = client.request(method, url, json=[], headers=API_HEADERS)
            assert allowed.status_code not in (401, 403), (method, path, allowed.text)
            assert allowed.status_code < 500 or allowed.status_code == 503, (method, path, allowed.text)
        assert client.get("/api/ai/security/suppressions", headers=API_HEADERS).json() == []  # nothing was added
        assert client.get("/healthz").status_code in (200, 503) and client.get("/metrics").status_code == 200
        assert client.get("/api/ai/targets", headers={"X-API-Token": API_HEADERS["Authorization"][7:]}).status_code == 200
