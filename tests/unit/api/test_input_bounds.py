"""Bounded HTTP input on the app: bodies counted as received, JSON depth, finite ranges, skew, idempotent ingest."""
import json
import time

import pytest
from fastapi.testclient import TestClient

from aiops.api.app import create_app
from aiops.settings import ServeSettings
from aiops.telemetry.bounds import IngestSettings
from tests.unit.api.auth_helpers import HEADERS, test_auth
from tests.unit.api.test_api_app import InMemoryService

MAX_BODY = 20_000


@pytest.fixture
def client():
    svc = InMemoryService()
    c = TestClient(create_app(svc, ServeSettings(max_body_bytes=MAX_BODY), ingest=IngestSettings(), auth=test_auth()),
                   headers=HEADERS)
    c.service = svc
    return c


def _now_records(n, target="host-0001"):
    t0 = time.time() - 10 * n
    return [{"target_id": target, "ts": t0 + 10 * i, "metrics": {"cpu_utilization": 0.5}} for i in range(n)]


def test_chunked_body_over_the_limit_is_413_without_content_length(client):
    def chunks():  # a generator body goes out chunked: no Content-Length to trust
        for _ in range(10):
            yield b" " * 4096
    r = client.post("/api/ai/ingest", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    r = client.post("/api/ai/placement/plan", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413  # before routing: any path
    assert 'reason="payload_too_large"' in client.get("/metrics").text


def test_chunked_body_under_the_limit_still_reaches_the_route(client):
    body = json.dumps({"records": _now_records(3)}).encode()
    r = client.post("/api/ai/ingest", content=(body[i:i + 100] for i in range(0, len(body), 100)),
                    headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted_samples"] == 3


@pytest.mark.parametrize("path", ["/api/ai/ingest", "/api/ai/features/definitions"])
def test_deeply_nested_json_is_400_not_500(client, path):
    r = client.post(path, content=b"[" * 9_000 + b"]" * 9_000, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "json_too_deep"


def test_unbounded_values_in_history_are_422(client):
    client.post("/api/ai/ingest", json={"records": _now_records(5)})
    now = time.time()
    for params in ({"start": now - 60, "end": now, "step": "0s"}, {"start": now - 60, "end": now, "step": "0"},
                   {"start": "nan", "end": now}, {"start": now - 60, "end": "inf"}, {"start": "-inf", "end": "inf"}):
        r = client.get("/api/ai/features/host-0001/history", params=params)
        assert r.status_code == 422, (params, r.text)
    assert client.get("/api/ai/features/host-0001", params={"window": "0s"}).status_code == 422


def test_future_and_stale_samples_are_rejected_with_their_reason(client):
    future = {"target_id": "host-0002", "ts": 4_070_908_800.0, "metrics": {"cpu_utilization": 0.9}}  # 2099
    stale = {"target_id": "host-0002", "ts": time.time() - 30 * 86400, "metrics": {"cpu_utilization": 0.9}}
    r = client.post("/api/ai/ingest", json={"records": _now_records(1, "host-0002") + [future, stale]})
    assert r.status_code == 200 and r.json()["accepted_samples"] == 1
    assert [x["reason"].split(" (")[0] for x in r.json()["rejected"]] == ["ts too far in the future", "ts too old"]
    assert client.get("/api/ai/features/host-0002").json()["as_of"] < time.time() + 1  # the clock is not pinned
    metrics = client.get("/metrics").text
    assert 'reason="ts_in_future"' in metrics and 'reason="ts_too_old"' in metrics
    r = client.post("/api/ai/ingest", json={"records": [future]})
    assert r.status_code == 422 and r.json()["rejected_records"] == 1


@pytest.mark.parametrize("how", ["header", "field"])
def test_a_retried_batch_is_stored_once(client, how):
    records = _now_records(4, "host-0003")
    kw = ({"json": {"records": records}, "headers": {"Idempotency-Key": "batch-0001"}} if how == "header"
          else {"json": {"records": records, "batch_id": "batch-0001"}})
    first, retry = client.post("/api/ai/ingest", **kw), client.post("/api/ai/ingest", **kw)
    assert first.status_code == retry.status_code == 200
    assert first.json()["accepted_samples"] == 4 and not first.json()["duplicate"]
    assert retry.json()["accepted_samples"] == 0 and retry.json()["duplicate"]
    assert client.get("/api/ai/targets").json()["targets"][0]["points"] == 4
    other = client.post("/api/ai/ingest", json={"records": _now_records(2, "host-0003")}, headers={"Idempotency-Key": "batch-0002"})
    assert other.json()["accepted_samples"] == 2  # a new id stores


def test_bad_batch_ids_are_422(client):
    body = {"records": _now_records(1)}
    assert client.post("/api/ai/ingest", json=body, headers={"Idempotency-Key": "a/b"}).status_code == 422
    assert client.post("/api/ai/ingest", json={**body, "batch_id": 7}).status_code == 422
    r = client.post("/api/ai/ingest", json={**body, "batch_id": "x1"}, headers={"Idempotency-Key": "x2"})
    assert r.status_code == 422 and "differ" in r.json()["message"]
