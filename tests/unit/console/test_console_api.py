"""The console's read routes (token, role, ETag/304, 404/422) and its static files, over a fake service."""
from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aiops.api.app import create_app
from aiops.api.console import STATIC_DIR, make_console_router
from aiops.auth import ROLES
from aiops.settings import ServeSettings
from tests.unit.api.auth_helpers import HEADERS, role_token, test_auth
from tests.unit.api.test_api_app import InMemoryService

HOST = {"host_id": "host-0001", "zone": "z1", "rack": "r1", "cores": 32, "memory_gb": 256, "gpus": 0, "vms": ["vm-1"],
        "vcpus_allocated": 2, "cordoned": False,
        "prediction": {"failure_probability": 0.4, "severity": "medium", "time_to_failure": None,
                       "model_version": "m1", "top_factor": "disk_read_errors_rate_1h"}}


class FakeConsole:
    def __init__(self) -> None:
        self.hosts = [HOST]
        self.calls: list[tuple[Any, ...]] = []

    async def fleet(self) -> list[dict[str, Any]]:
        return self.hosts

    async def risk_history(self, target_id: str, limit: int) -> list[dict[str, Any]] | None:
        return [{"ts": 1.0, "probability": 0.2, "model_version": "m1"}][-limit:] if target_id == "host-0001" else None

    async def responses(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        self.calls.append(("responses", status, limit))
        return []

    async def audit(self, limit: int) -> list[dict[str, Any]]:
        return [{"seq": 0, "event": "requested"}][:limit]

    async def model_versions(self) -> dict[str, Any]:
        return {"name": "fleet-failure", "production": None, "versions": []}

    async def retraining(self) -> dict[str, Any] | None:
        return None


@pytest.fixture
def fake() -> FakeConsole:
    return FakeConsole()


@pytest.fixture
def client(fake: FakeConsole) -> TestClient:
    app = create_app(InMemoryService(), ServeSettings(), [make_console_router(fake)], auth=test_auth())
    return TestClient(app)


@pytest.mark.parametrize("role", ROLES)
def test_whoami_names_the_tokens_roles(client, role):
    r = client.get("/api/ai/auth/whoami", headers={"Authorization": f"Bearer {role_token(role)}"})
    assert r.status_code == 200
    assert r.json() == {"name": role, "roles": list(ROLES) if role == "admin" else [role]}


def test_every_console_read_needs_a_token(client):
    for path in ("/api/ai/auth/whoami", "/api/ai/fleet/hosts", "/api/ai/security/audit", "/api/ai/security/responses",
                 "/api/ai/predictions/failures/host-0001/history", "/api/ai/models/failure-prediction/versions",
                 "/api/ai/models/failure-prediction/retraining"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": f"Bearer {role_token('viewer')}"}).status_code == 200, path


def test_fleet_answers_304_while_unchanged_and_a_new_etag_after_a_change(client, fake):
    first = client.get("/api/ai/fleet/hosts", headers=HEADERS)
    assert first.status_code == 200 and first.json()["total"] == 1 and first.json()["hosts"][0]["rack"] == "r1"
    tag = first.headers["etag"]
    again = client.get("/api/ai/fleet/hosts", headers={**HEADERS, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    fake.hosts = [{**HOST, "cordoned": True}]
    changed = client.get("/api/ai/fleet/hosts", headers={**HEADERS, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag and changed.json()["hosts"][0]["cordoned"]


def test_risk_history_404_for_a_host_never_predicted(client):
    ok = client.get("/api/ai/predictions/failures/host-0001/history", headers=HEADERS)
    assert ok.status_code == 200 and ok.json()["points"][0]["probability"] == 0.2
    missing = client.get("/api/ai/predictions/failures/ghost/history", headers=HEADERS)
    assert missing.status_code == 404 and "ghost" in missing.json()["message"]
    assert client.get("/api/ai/predictions/failures/host-0001/history?limit=0", headers=HEADERS).status_code == 422


def test_responses_filter_is_checked_and_passed_on(client, fake):
    assert client.get("/api/ai/security/responses?status=pending_approval", headers=HEADERS).status_code == 200
    assert fake.calls[-1] == ("responses", "pending_approval", 200)
    assert client.get("/api/ai/security/responses?status=drop-table", headers=HEADERS).status_code == 422


def test_retraining_without_a_scheduler_is_not_an_error(client):
    r = client.get("/api/ai/models/failure-prediction/retraining", headers=HEADERS)
    assert r.status_code == 200 and r.json() == {"available": False}


def test_console_files_are_served_without_a_token_and_fetch_nothing_from_outside(client):
    page = client.get("/console/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and 'id="login"' in page.text
    assert client.get("/console/js/app.js").status_code == 200
    assert client.get("/console", follow_redirects=False).status_code in (200, 307)
    for f in STATIC_DIR.rglob("*"):
        if f.is_file():
            text = f.read_text(encoding="utf-8")
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{f.name} refers to an outside URL"
            assert "innerHTML" not in text, f"{f.name}: build DOM nodes, never parse data as HTML"


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_console_colours_meet_wcag_aa_contrast_for_text():
    css = (STATIC_DIR / "app.css").read_text(encoding="utf-8")
    var = dict(re.findall(r"--([a-z]+):(#[0-9a-f]{6})", css))
    for sev in ("low", "medium", "high", "critical", "none", "accent"):  # white text on tiles, badges, buttons
        assert _contrast("#ffffff", var[sev]) >= 4.5, sev
    for fg in ("fg", "muted", "accent"):  # text on the page and on cards
        for bg in ("bg", "card"):
            assert _contrast(var[fg], var[bg]) >= 4.5, (fg, bg)
