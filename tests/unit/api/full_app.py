"""The whole API in one process, no Ray: the platform routes and every engine router over small fakes
(placement over the real services on a synthetic fleet), behind the unit token table."""
from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI

from aiops.api import failure, placement, security
from aiops.api.app import create_app
from aiops.failure.errors import NoModel, UnknownTarget
from aiops.placement.plan import PlanService
from aiops.placement.recommend import PlacementService
from aiops.settings import ServeSettings
from tests.unit.api.auth_helpers import test_auth
from tests.unit.api.test_api_app import InMemoryService
from tests.unit.placement.fleet_fixtures import control_plane, snapshot
from tests.unit.placement.recommend_fixtures import catalog, fleet

NOW = 1_767_225_600.0


def prediction(target_id: str, p: float = 0.82) -> dict[str, Any]:
    return {"target_id": target_id, "target_type": "host", "failure_probability": p, "time_to_failure": 5400.0,
            "time_to_failure_interval": (1800.0, 14400.0), "confidence_interval": (0.7, 0.9), "severity": "high",
            "contributing_factors": [{"feature": "disk_read_errors_rate_1h", "value": 4.2, "contribution": 1.31,
                                      "description": "disk read errors rising"}],
            "recommendations": ["drain host-0004 before the next maintenance window"],
            "model_version": "lgbm-test-1", "features_as_of": NOW, "last_updated": NOW}


class FakeFailure:
    """Knows host-0004; `deployed` False answers like an engine with no model yet (503)."""

    def __init__(self) -> None:
        self.deployed = True

    async def predict(self, target_id: str) -> dict[str, Any]:
        if not self.deployed:
            raise NoModel()
        if target_id != "host-0004":
            raise UnknownTarget(f"unknown target {target_id!r}: no telemetry received for it")
        return prediction(target_id)

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> Any:
        known = [t for t in target_ids if t == "host-0004"]
        return [prediction(t) for t in known], [t for t in target_ids if t not in known], "lgbm-test-1"

    async def model_info(self) -> dict[str, Any] | None:
        return None

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        return {"target_id": target_id, "action": action}


INCIDENT = {"id": "inc-1", "kind": "incident", "name": "Brute force then privilege escalation", "timestamp": NOW,
            "severity": "critical", "score": 0.93, "entities": ["host:host-0007", "user:mallory"],
            "targets": {"host": "host-0007"}, "description": "3 steps", "tactics": ["TA0006"], "techniques": ["T1110"],
            "status": "open", "incident_id": "inc-1", "responses": [], "first_ts": NOW - 600, "last_ts": NOW}


class FakeSecurity:
    """One open incident; the calls the CLI makes are recorded."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def list_anomalies(self, severity, entity, status, start, end, kind, offset, limit, bucket) -> dict[str, Any]:
        self.calls.append({"kind": kind, "status": status, "severity": severity, "limit": limit, "bucket": bucket})
        items = [INCIDENT] if kind in (None, "incident") and status in (None, "open") else []
        summary = {"total": len(items), "by_severity": {}, "by_status": {}, "by_kind": {}, "open_incidents": len(items)}
        return {"anomalies": items, "summary": summary, "timeline": [], "offset": offset, "limit": limit, "total": len(items)}

    async def get_anomaly(self, anomaly_id: str) -> None:
        return None

    async def incident(self, incident_id: str) -> None:
        return None

    async def threats(self) -> dict[str, Any]:
        return {"active_threats": [], "overall_risk_score": 0.0, "last_updated": "2026-01-01T00:00:00Z"}


def full_app(failure_service: FakeFailure | None = None, security_service: FakeSecurity | None = None) -> FastAPI:
    """The API with every router; the plan service holds one proposed evacuation of host-0004."""
    inv = fleet()
    cp = control_plane()
    plans = PlanService(lambda: snapshot({"host-0004": 0.95}, cp), cp)
    plans.evacuate(placement.EvacuationRequest().to_domain())
    routers = [placement.make_router(PlacementService(lambda: inv, catalog=catalog())), placement.make_plan_router(plans),
               failure.make_router(failure_service or FakeFailure()), security.make_router(security_service or FakeSecurity())]
    app = create_app(InMemoryService(), ServeSettings(), routers, auth=test_auth())
    app.state.plans = plans
    app.state.started = time.time()
    return app
