"""configs/serve.yaml is a valid Ray Serve config for the engine's application, and the RayService's serveConfigV2
is exactly what `python -m jobs.kuberay_manifests` makes of it (the CRD check is in test_kuberay_manifests.py)."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema

from actors.deploy import settings_from_args
from actors.names import INGRESS_NAME, PREDICTOR_NAME
from jobs.kuberay_manifests import (RAYJOB, RAYSERVICE, SERVE_CONFIG, main, project_runtime_env, render,
                                    serve_config_v2)

KUBERAY = RAYSERVICE.parent


def _serve_yaml() -> dict[str, Any]:
    return yaml.safe_load(SERVE_CONFIG.read_text())


def _service_v2() -> dict[str, Any]:
    doc = yaml.safe_load(RAYSERVICE.read_text())
    assert doc["kind"] == "RayService"
    return yaml.safe_load(doc["spec"]["serveConfigV2"])


@pytest.mark.parametrize("config", [_serve_yaml, _service_v2], ids=["serve.yaml", "serveConfigV2"])
def test_config_validates_against_ray_serves_own_schema(config):
    cfg = config()
    ServeDeploySchema.model_validate(cfg)
    for application in cfg["applications"]:
        ServeApplicationSchema.model_validate(application)


@pytest.mark.parametrize("config", [_serve_yaml, _service_v2], ids=["serve.yaml", "serveConfigV2"])
def test_every_deployment_bounds_its_queue_and_takes_a_fractional_cpu(config):
    (application,) = config()["applications"]
    deployments = {d["name"]: d for d in application["deployments"]}
    assert set(deployments) == {INGRESS_NAME, PREDICTOR_NAME}  # names the builder's deployments carry
    for name, d in deployments.items():
        assert d["max_ongoing_requests"] >= 1 and d["max_queued_requests"] >= 1, name
        assert 0 < d["ray_actor_options"]["num_cpus"] < 1, name
    module, attr = application["import_path"].split(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_the_application_args_make_the_settings_it_is_served_with():
    cfg = _serve_yaml()
    (application,) = cfg["applications"]
    settings = settings_from_args(application["args"], environ={})
    assert application["name"] == settings.serve.app_name  # the failure monitor finds the predictor by it
    assert (cfg["http_options"]["host"], cfg["http_options"]["port"]) == (settings.serve.host, settings.serve.port)
    assert application["route_prefix"] == "/"


def test_rayservice_is_generated_from_serve_yaml_and_reads_the_configmap_and_secret(tmp_path: Path):
    assert RAYSERVICE.read_text() == render(), "run python -m jobs.kuberay_manifests"
    v2 = _service_v2()
    assert v2 == serve_config_v2(_serve_yaml(), project_runtime_env(yaml.safe_load(RAYJOB.read_text())))
    config_map = next(d for d in yaml.safe_load_all((KUBERAY / "aiops-config.yaml").read_text()) if d["kind"] == "ConfigMap")
    (application,) = v2["applications"]
    mounted = tmp_path / "aiops.yaml"
    mounted.write_text(config_map["data"]["aiops.yaml"])
    settings = settings_from_args({**application["args"], "config": str(mounted)},
                                  environ={"AIOPS_REDIS_URL": "redis://redis.example:6379/0"})
    assert application["args"]["config"] == "/etc/aiops/aiops.yaml"
    assert settings.redis.url == "redis://redis.example:6379/0" and settings.nats.url  # Secret, then ConfigMap
    assert (v2["http_options"]["host"], v2["http_options"]["port"]) == (settings.serve.host, settings.serve.port)
    assert application["name"] == settings.serve.app_name


def test_check_mode_catches_a_drifted_manifest(tmp_path: Path, capsys):
    out = tmp_path / "rayservice.yaml"
    assert main(["--out", str(out)]) == 0 and main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text().replace("num_replicas: 1", "num_replicas: 3", 1))
    assert main(["--check", "--out", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
