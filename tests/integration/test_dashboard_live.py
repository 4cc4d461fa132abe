"""Every metric the Grafana dashboard queries is on a live engine's /metrics (all engines, a model served)."""
from __future__ import annotations

import json

import httpx
import pytest

from aiops.failure.registry import ModelRegistry
from aiops.settings import PROJECT_ROOT
from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings, register_test_model, system_factory, wait_for  # noqa: F401
from tests.promql import dashboard_exprs, missing_metrics

pytestmark = pytest.mark.integration


def test_every_dashboard_metric_is_on_live_metrics(system_factory, tmp_path):  # noqa: F811
    registry = str(tmp_path / "registry")
    register_test_model(ModelRegistry(registry), tmp_path, seed=1)  # model-quality gauges need a served model
    settings = make_settings(**{"failure.registry_uri": registry, "failure.refresh_s": 1.0, "failure.registry_poll_s": 1.0,
                                "simulator.attack_rate_per_day": 48.0, "simulator.speedup": 600.0})
    system = system_factory(settings)
    client = httpx.Client(base_url=system.url, timeout=10, headers=API_HEADERS)
    exprs = dashboard_exprs(json.loads((PROJECT_ROOT / "deploy" / "grafana" / "aiops.json").read_text()))
    wait_for(lambda: client.get("/api/ai/predictions/failures/host-0001").status_code == 200, 90, what="a served prediction")
    client.post("/api/ai/placement/plan", json={})  # a placement request (any status) fills the plan panels' series

    last: dict[str, list[str]] = {}

    def nothing_missing() -> bool:
        nonlocal last
        last = missing_metrics(exprs, client.get("/metrics").text)
        return not last

    try:
        wait_for(nothing_missing, 120, every=2, what="every dashboard metric on /metrics (incident latency needs an incident)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing: {sorted(last)}") from None
    text = client.get("/metrics").text
    assert 'aiops_failure_model_deployed{version="v' in text and "aiops_security_incident_latency_seconds{" in text
