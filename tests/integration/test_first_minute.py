"""Predictions from the first minute: with the simulator and no promoted model the failure endpoints answer 200
from the label-free health model; a promotion switches to the supervised model, a rollback back, no restart."""
from __future__ import annotations

import time

import httpx
import pytest

from aiops.failure.registry import ModelRegistry
from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings, register_test_model, system_factory, wait_for  # noqa: F401

pytestmark = pytest.mark.integration

AUTH = API_HEADERS
FIRST_ANSWER_S = 120.0  # the bound from `aiops up` starting


def _settings(reg_dir, **extra):
    # the default simulator speed (30x) and a small fleet: the fallback must fit on what a young engine holds
    return make_settings(**{"failure.registry_uri": str(reg_dir), "failure.refresh_s": 1.0,
                            "failure.registry_poll_s": 1.0, "simulator.speedup": 30.0, **extra})


def _prediction(client: httpx.Client, target: str = "host-0003") -> dict | None:
    try:
        r = client.get(f"/api/ai/predictions/failures/{target}")
    except httpx.TimeoutException:  # a 2-core machine under load: ask again
        return None
    return r.json() if r.status_code == 200 else None


def test_engine_without_a_model_answers_200_from_the_unsupervised_model_in_bounded_time(system_factory, tmp_path):  # noqa: F811
    t0 = time.monotonic()
    system = system_factory(_settings(tmp_path / "registry"))
    client = httpx.Client(base_url=system.url, timeout=10, headers=AUTH)
    got = wait_for(lambda: _prediction(client), FIRST_ANSWER_S - (time.monotonic() - t0), every=1.0,
                   what="a 200 failure prediction with no promoted model")
    assert time.monotonic() - t0 < FIRST_ANSWER_S
    assert got["model_version"].startswith("unsupervised-health-") and got["time_to_failure"] is None
    lo, hi = got["confidence_interval"]
    assert 0 <= lo <= got["failure_probability"] <= hi <= 1
    info = client.get("/api/ai/models/failure-prediction").json()
    assert info["supervised"] is False and "not a probability" in info["description"]
    assert info["version"] == got["model_version"] or info["version"].startswith("unsupervised-health-")
    batch = client.post("/api/ai/predictions/failures/batch", json={"target_ids": ["host-0001", "ghost"]}).json()
    assert [p["target_id"] for p in batch["predictions"]] == ["host-0001"] and batch["not_found"] == ["ghost"]


def test_promotion_while_serving_unsupervised_switches_without_restart_and_rollback_returns(system_factory, tmp_path):  # noqa: F811
    reg_dir = tmp_path / "registry"
    system = system_factory(_settings(reg_dir))
    client = httpx.Client(base_url=system.url, timeout=10, headers=AUTH)
    first = wait_for(lambda: _prediction(client), FIRST_ANSWER_S, every=1.0, what="the unsupervised answer")
    assert first["model_version"].startswith("unsupervised-health-")
    replica = client.get("/api/ai/models/failure-prediction").json()["performance_metrics"]["replica"]

    reg = ModelRegistry(str(reg_dir))
    v1 = register_test_model(reg, tmp_path, 1)
    try:
        got = wait_for(lambda: (p := _prediction(client)) and p["model_version"] == v1 and p, 60, what=f"serving {v1}")
    except AssertionError as exc:
        import ray
        raise AssertionError(f"{exc}; monitor: {ray.get(system.collectors['failure-monitor'].stats.remote())}; "
                             f"last answer: {_prediction(client)}") from None
    assert got["failure_probability"] >= 0
    info = client.get("/api/ai/models/failure-prediction").json()
    assert info["version"] == v1 and info["supervised"] is True
    assert info["performance_metrics"]["replica"] == replica  # same replica process: no restart

    assert reg.rollback("fleet-failure") is None  # back to nothing promoted: the label-free model again
    back = wait_for(lambda: (p := _prediction(client)) and p["model_version"].startswith("unsupervised-health-") and p,
                    30, what="the unsupervised model after the rollback")
    assert back["time_to_failure"] is None
    assert client.get("/api/ai/models/failure-prediction").json()["performance_metrics"]["replica"] == replica
