"""HTTP contract of the failure router's errors (FastAPI TestClient; no Ray): the domain errors the serving
layer raises leave through the one error table with the statuses and messages clients rely on."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.api.errors import install_error_handlers
from aiops.api.failure import make_router
from aiops.failure.errors import NoModel
from aiops.failure.serving.service import require_prediction

BODY = orjson.dumps({"target_id": "h1", "failure_probability": 0.8})


class StubService:
    """Knows one target; `deployed` False behaves like a replica with nothing promoted yet."""

    def __init__(self, deployed: bool = True) -> None:
        self.deployed = deployed

    async def predict(self, target_id: str) -> bytes:
        if not self.deployed:
            raise NoModel()
        return require_prediction(target_id, BODY if target_id == "h1" else None)

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> Any:
        return [], list(target_ids), None

    async def model_info(self) -> dict[str, Any] | None:
        return None

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        return {"target_id": target_id, "action": action}


def _client(service: StubService) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router(service), prefix="/api/ai")
    return TestClient(app)


def test_known_target_is_served_as_the_cached_bytes():
    r = _client(StubService()).get("/api/ai/predictions/failures/h1")
    assert r.status_code == 200 and r.content == BODY


def test_unknown_target_is_a_404_with_the_usual_body():
    r = _client(StubService()).get("/api/ai/predictions/failures/ghost")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "message": "unknown target 'ghost': no telemetry received for it",
                        "status": 404}


def test_no_model_is_a_503_for_predictions_and_model_info():
    client = _client(StubService(deployed=False))
    r = client.get("/api/ai/predictions/failures/h1")
    assert r.status_code == 503 and "no failure model" in r.json()["message"]
    assert client.get("/api/ai/models/failure-prediction").status_code == 503
