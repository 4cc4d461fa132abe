"""The FastAPI app on an in-memory service: status codes, JSON errors, metrics."""
import json

import pytest
from fastapi.testclient import TestClient

from aiops.api.app import create_app
from aiops.features.definitions import load_definitions
from aiops.features.shard import ShardState, UnknownTarget
from aiops.settings import PROJECT_ROOT, ServeSettings
from aiops.telemetry.bounds import IngestSettings

REPLAY = IngestSettings(max_age_s=None)  # these tests post fixed 2026-01-01 timestamps
from tests.unit.api.auth_helpers import HEADERS, test_auth


class InMemoryService:
    def __init__(self):
        self.shard = ShardState(0, load_definitions(PROJECT_ROOT / "configs" / "features.yaml"), 1000)
        self.healthy = True

    async def ingest(self, batches):
        r = self.shard.ingest_many(batches)
        return {"accepted": sum(x.accepted for x in r), "rejected": 0, "duplicates": sum(x.duplicate for x in r)}

    async def get_features(self, target_id, window_s):
        try:
            return self.shard.get_features(target_id, window_s)
        except UnknownTarget:
            return None

    async def get_historical(self, target_id, start, end, step_s, window_s):
        try:
            return self.shard.get_historical_features(target_id, start, end, step_s, window_s)
        except UnknownTarget:
            return None

    async def list_targets(self):
        return self.shard.list_targets()

    async def definitions(self):
        return [d.model_dump() for d in self.shard.definitions]

    async def register_definition(self, d):
        self.shard.register_definition(d)

    async def health(self):
        return {"shards": (self.healthy, "1/1")}

    async def shard_stats(self):
        return [self.shard.stats()]

    async def collector_stats(self):
        return [{"name": "collector-test", "samples_stored": 5, "errors": 0, "samples_per_s": 1.0, "rejections": {"bad_value": 2}}]

    async def recent_events(self, limit):
        evs = [{"ts": 1.0, "type": "vm_lifecycle", "host": "h1", "vm_id": "vm-1", "action": "stop"},
               {"ts": 2.0, "type": "api_call", "vm_id": "vm-2", "action": "GetVM"},
               {"ts": 3.0, "type": "vm_lifecycle", "host": "h2", "vm_id": "vm-3", "action": "start"}]
        return evs[-limit:]

    async def record_events(self, events):
        from aiops.telemetry.event_store import MemoryEventStore

        self.events = getattr(self, "events", MemoryEventStore())
        return self.events.append(events)


@pytest.fixture
def client():
    svc = InMemoryService()
    c = TestClient(create_app(svc, ServeSettings(max_body_bytes=20_000, max_records_per_request=50), ingest=REPLAY,
                              auth=test_auth()), headers=HEADERS)
    c.service = svc
    return c


def _records(n, t0=1767225600.0):
    return [{"target_id": "host-0001", "target_type": "host", "ts": t0 + 10 * i,
             "metrics": {"cpu_utilization": 0.1 + i / 100, "temperature_c": 50 + i}} for i in range(n)]


def test_ingest_then_features_and_targets(client):
    r = client.post("/api/ai/ingest", json={"records": _records(30)})
    assert r.status_code == 200 and r.json()["accepted_samples"] == 60 and r.json()["accepted_records"] == 30
    f = client.get("/api/ai/features/host-0001").json()
    assert f["features"]["cpu_utilization_mean_5m"] == pytest.approx(0.1 + 14.5 / 100, abs=1e-3)
    assert client.get("/api/ai/features/host-0001", params={"window": "1m"}).json()["window_s"] == 60
    t = client.get("/api/ai/targets").json()
    assert t["total"] == 1 and t["targets"][0]["target_type"] == "host"
    assert client.get("/api/ai/targets", params={"type": "vm"}).json()["total"] == 0
    h = client.get("/api/ai/features/host-0001/history", params={"start": 1767225600, "end": 1767225800, "step": "100s"}).json()
    assert len(h["rows"]) == 3


@pytest.mark.parametrize("method, path, kwargs, status, fragment", [
    ("get", "/api/ai/features/nobody", {}, 404, "unknown target"),
    ("get", "/api/ai/features/host-0001", {"params": {"window": "ten"}}, 422, "bad duration"),
    ("get", "/api/ai/targets", {"params": {"type": "router"}}, 422, "type"),
    ("post", "/api/ai/ingest", {"content": b"{nope"}, 400, "invalid json"),
    ("post", "/api/ai/ingest", {"json": {"records": [], "extra": 1}}, 422, "unknown field"),
    ("post", "/api/ai/ingest", {"json": {"records": _records(51)}}, 413, "too many records"),
    ("post", "/api/ai/ingest", {"content": b"[" + b" " * 30_000 + b"]"}, 413, "payload too large"),
    ("get", "/api/ai/nothing-here", {}, 404, "Not Found"),
    ("post", "/api/ai/features/definitions", {"json": {"name": "x", "aggregation": "median", "source": "cpu"}}, 422, "unknown aggregation"),
])
def test_errors_are_json_with_right_status(client, method, path, kwargs, status, fragment):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status
    body = r.json()
    assert body["status"] == status and fragment in body["message"]


def test_partial_batch_keeps_good_records_and_counts_reasons(client):
    recs = _records(3) + [{"target_id": "h2", "ts": 1, "metrics": {"cpu": "NaN"}}, {"target_id": "h3", "metrics": {"cpu": 1}}]
    r = client.post("/api/ai/ingest", json={"records": recs})
    assert r.status_code == 200
    body = r.json()
    assert body["accepted_records"] == 3 and body["rejected_records"] == 2
    assert [x["index"] for x in body["rejected"]] == [3, 4]
    all_bad = client.post("/api/ai/ingest", json=[{"target_id": "h3", "metrics": {"cpu": 1}}])
    assert all_bad.status_code == 422
    text = client.get("/metrics").text
    assert 'aiops_ingest_rejections_total{reason="bad_value",source="http"} 1.0' in text
    assert 'aiops_ingest_rejections_total{reason="missing_field",source="http"} 2.0' in text
    assert 'aiops_collector_rejections_total{collector="collector-test",reason="bad_value"} 2.0' in text
    assert 'aiops_shard_points{shard="0"} 6.0' in text
    assert "aiops_http_request_duration_seconds_bucket" in text


def test_register_definition_and_health(client):
    r = client.post("/api/ai/features/definitions", json={"name": "cpu_p50_like", "source": "cpu_utilization", "aggregation": "p95", "window": "1m"})
    assert r.status_code == 201
    assert "cpu_p50_like" in [d["name"] for d in client.get("/api/ai/features").json()["definitions"]]
    assert client.get("/healthz").json()["status"] == "ok"
    client.service.healthy = False
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["components"]["shards"]["ok"] is False


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/ai/ingest", "/api/ai/features/{target_id}", "/api/ai/targets", "/healthz", "/metrics"):
        assert p in paths
    assert client.get("/docs").status_code == 200


def test_engine_routers_mount_under_api_ai_with_full_route_labels():
    from fastapi import APIRouter

    r = APIRouter(prefix="/engine")

    @r.get("/things/{thing_id}")
    async def thing(thing_id: str):
        return {"id": thing_id}

    c = TestClient(create_app(InMemoryService(), ServeSettings(), [r], auth=test_auth()), headers=HEADERS)
    assert c.get("/api/ai/engine/things/7").json() == {"id": "7"}
    text = c.get("/metrics").text
    assert 'aiops_http_request_duration_seconds_count{method="GET",route="/api/ai/engine/things/{thing_id}",status="200"} 1.0' in text


def test_recent_platform_events_with_filters(client):
    assert [e["ts"] for e in client.get("/api/ai/events").json()["events"]] == [1.0, 2.0, 3.0]
    assert [e["vm_id"] for e in client.get("/api/ai/events", params={"type": "vm_lifecycle"}).json()["events"]] == ["vm-1", "vm-3"]
    assert client.get("/api/ai/events", params={"target": "h2"}).json()["total"] == 1
    assert client.get("/api/ai/events", params={"limit": 1}).json()["events"][0]["ts"] == 3.0
    assert client.get("/api/ai/events", params={"limit": 0}).status_code == 422


def test_post_events_stores_health_events_for_training(client):
    evs = [{"ts": 1767225600.0, "type": "host_failed", "host": "host-0003", "reason": "disk"},
           {"ts": 1767225601.0, "type": "api_call", "vm_id": "vm-2"}, {"ts": "soon", "type": "host_recovered", "host": "h"}]
    r = client.post("/api/ai/events", json=evs)
    assert r.status_code == 200
    assert r.json()["accepted"] == 2 and r.json()["health_events"] == 1 and r.json()["stored"] == 1
    assert [x["index"] for x in r.json()["rejected"]] == [2]
    assert client.post("/api/ai/events", json=evs[:1]).json()["stored"] == 0  # a retry stores once
    stored = client.service.events.query(0, 2e9)
    assert [(e["type"], e["host"]) for e in stored] == [("host_failed", "host-0003")]
    assert client.post("/api/ai/events", json=[{"type": "host_failed"}]).status_code == 422


def test_post_events_needs_the_operator_role(client):
    from tests.unit.api.auth_helpers import role_token

    ev = [{"ts": 1767225600.0, "type": "host_failed", "host": "host-0003"}]
    viewer = client.post("/api/ai/events", json=ev, headers={"Authorization": f"Bearer {role_token('viewer')}"})
    operator = client.post("/api/ai/events", json=ev, headers={"Authorization": f"Bearer {role_token('operator')}"})
    assert viewer.status_code == 403 and operator.status_code == 200
