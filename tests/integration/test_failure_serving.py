"""Failure predictions through Serve: model replica, hot swap on promotion, error codes."""
from __future__ import annotations

import time

import httpx
import pytest
import ray

from aiops.failure.registry import ModelRegistry
from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings as _settings, register_test_model, system_factory, wait_for as _wait  # noqa: F401

pytestmark = pytest.mark.integration


_register = register_test_model


def test_predictions_follow_promotions_without_restart(system_factory, tmp_path):  # noqa: F811
    reg_dir = tmp_path / "registry"
    settings = _settings(**{"failure.registry_uri": str(reg_dir), "failure.refresh_s": 1.0, "failure.registry_poll_s": 1.0,
                            "failure.unsupervised.enabled": False})  # the label-free fallback: test_first_minute.py
    system = system_factory(settings)
    client = httpx.Client(base_url=system.url, timeout=10, headers=API_HEADERS)
    _wait(lambda: client.get("/api/ai/features/host-0002").status_code == 200, 60, what="features")
    r = client.get("/api/ai/predictions/failures/host-0002")
    assert r.status_code == 503 and "no failure model" in r.json()["message"], r.text[:3000]
    assert "Traceback" not in r.text and "ray::" not in r.text and r.headers.get("Retry-After")  # no remote traceback

    reg = ModelRegistry(str(reg_dir))
    v1 = _register(reg, tmp_path, 1)

    def answers(version):
        r = client.get("/api/ai/predictions/failures/host-0002")
        return r.json() if r.status_code == 200 and r.json()["model_version"] == version else None

    first = _wait(lambda: answers(v1), 60, what=f"predictions from {v1}")
    for key in ("target_id", "target_type", "failure_probability", "time_to_failure", "confidence_interval", "severity",
                "contributing_factors", "recommendations", "model_version", "last_updated"):
        assert key in first
    replica_before = client.get("/api/ai/models/failure-prediction").json()["performance_metrics"]["replica"]
    v2 = _register(reg, tmp_path, 2, threshold=0.42)
    _wait(lambda: answers(v2), 60, what=f"predictions from {v2} after promotion")
    import ray

    monitor = system.collectors["failure-monitor"]  # alerts at the promoted model's operating point
    mon = _wait(lambda: (st := ray.get(monitor.stats.remote()))["model_version"] == v2 and st, 30, what="monitor on v2")
    assert mon["alert_threshold"] == 0.42 and mon["errors"] == 0, mon
    info = client.get("/api/ai/models/failure-prediction").json()
    assert info["performance_metrics"]["replica"] == replica_before  # same replica process: swapped in place
    assert info["version"] == v2 and info["precision"] == 0.8 and len(info["features"]) > 10

    batch = client.post("/api/ai/predictions/failures/batch",
                        json={"target_ids": ["host-0001", "host-0002", "ghost"], "time_horizon": "1h"}).json()
    assert {p["target_id"] for p in batch["predictions"]} == {"host-0001", "host-0002"} and batch["not_found"] == ["ghost"]
    assert client.get("/api/ai/predictions/failures/ghost").status_code == 404
    assert client.post("/api/ai/predictions/failures/batch", json={"target_ids": []}).status_code == 422
    bad = client.post("/api/ai/predictions/failures/batch", json={"target_ids": ["host-0001"], "time_horizon": "-3h"})
    assert bad.status_code == 422 and "duration" in bad.json()["message"]
    assert client.post("/api/ai/predictions/failures/batch", json={"target_ids": ["h"], "time_horizon": "90d"}).status_code == 422
    text = client.get("/metrics").text
    assert f'aiops_failure_model_accuracy{{version="{v2}"}} 0.9' in text
    assert 'aiops_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/api/ai/predictions/failures/{target_id}",status="200"}' in text
    m = client.post("/api/ai/predictions/failures/host-0002/mitigations", json={"action": "drained", "comment": "moved VMs"})
    assert m.status_code == 201 and m.json()["action"] == "drained"


def test_training_job_registers_and_serving_follows_without_restart(system_factory, tmp_path):  # noqa: F811
    """The real job (Tune search, validation, MLflow registry, promotion), twice: the endpoint follows each version,
    then the `champion` alias moved back in MLflow (as an operator would in `mlflow ui`), without a restart."""
    from jobs import train_failure

    reg_dir = tmp_path / "registry"
    cfg = tmp_path / "train.yaml"
    cfg.write_text("dataset: {hosts: 8, vms_per_host: 1, days: 3, scenario_rate_per_day: 0.5}\n"
                   "tune: {num_samples: 1, max_rounds: 50, rounds_per_report: 25, grace_reports: 1, cv_folds: 2}\n"
                   "acceptance: {min_recall: 0.0, min_precision: 0.0, min_median_lead_min: 0}\nouter_folds: 2\n")
    settings = _settings(**{"failure.registry_uri": str(reg_dir), "failure.refresh_s": 1.0, "failure.registry_poll_s": 1.0,
                            "failure.unsupervised.enabled": False})  # its refits compete with the job for 2 cores
    system = system_factory(settings)
    client = httpx.Client(base_url=system.url, timeout=30, headers=API_HEADERS)
    args = ["--config", str(cfg), "--registry", str(reg_dir), "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "out.json"), "--force-promote"]
    assert train_failure.main(args) == 0
    replica = None
    for version in ("v0001", "v0002"):
        if version == "v0002":
            assert train_failure.main(args) == 0  # retrained: a new version, promoted by force
        got = _wait(lambda: (r := client.get("/api/ai/predictions/failures/host-0001")).status_code == 200
                    and r.json()["model_version"] == version and r.json(), 90, what=f"serving {version}")
        assert got["time_to_failure"] is None or got["time_to_failure"] > 0
        info = client.get("/api/ai/models/failure-prediction").json()
        assert info["version"] == version and "ttf_interval_coverage" in info["performance_metrics"]
        replica = replica or info["performance_metrics"]["replica"]
        assert info["performance_metrics"]["replica"] == replica  # same replica, no restart

    # what `mlflow ui --backend-store-uri <store>` shows: each job's Tune trials and its registered run, one experiment
    ml = ModelRegistry(str(reg_dir)).client
    runs = ml.search_runs([ml.get_experiment_by_name("aiops-failure").experiment_id])
    trials = [r for r in runs if r.data.tags.get("aiops.kind") == "tune-trial"]
    registered = [r for r in runs if r.data.tags.get("aiops.model") == "fleet-failure"]
    assert len(trials) == 2 and len(registered) == 2 and all("pr_auc" in r.data.metrics for r in trials + registered)
    assert {r.data.tags["aiops.job"] for r in trials} == {r.data.tags["aiops.job"] for r in registered}  # linked by job
    assert {k: str(v) for k, v in ml.get_registered_model("fleet-failure").aliases.items()} == {"champion": "2"}
    ml.set_registered_model_alias("fleet-failure", "champion", "1")  # rollback by moving the alias
    _wait(lambda: (r := client.get("/api/ai/predictions/failures/host-0001")).status_code == 200
          and r.json()["model_version"] == "v0001", 60, what="serving v0001 after the alias moved back")
    assert client.get("/api/ai/models/failure-prediction").json()["performance_metrics"]["replica"] == replica
