"""KubeRay manifests validate against KubeRay's CRD schemas (strictly: an unknown field fails, as with
`kubectl apply --validate=strict`), install the project through runtimeEnv, and stay consistent with the code."""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops.config_io import load_config_file
from aiops.settings import PROJECT_ROOT, Settings

KUBERAY = PROJECT_ROOT / "deploy" / "kuberay"
SCHEMAS = PROJECT_ROOT.parent / "shared" / "schemas" / "kuberay"
IMAGE = re.compile(r"^rayproject/ray:(?P<ray>\d+\.\d+\.\d+)-py(?P<py>3\d+)(-cpu)?$")


def _docs() -> list[dict[str, Any]]:
    return [d for p in sorted(KUBERAY.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


def _ray_docs() -> list[dict[str, Any]]:
    return [d for d in _docs() if d["apiVersion"].startswith("ray.io/")]


def _strict(schema: Any) -> Any:
    """Objects with listed properties accept no others (unless the schema keeps unknown fields)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    return schema


@pytest.fixture(scope="module")
def validators() -> dict[tuple[str, str], Any]:
    if not SCHEMAS.is_dir():
        pytest.skip(f"KubeRay CRD schemas not found at {SCHEMAS} (../shared/schemas/kuberay)")
    from jsonschema import Draft7Validator

    out = {}
    for path in SCHEMAS.glob("ray.io_*.yaml"):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            out[(f"ray.io/{version['name']}", crd["spec"]["names"]["kind"])] = Draft7Validator(schema)
    return out


def _errors(validators: dict, doc: dict) -> list[str]:
    v = validators[(doc["apiVersion"], doc["kind"])]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def _job_spec(doc: dict) -> dict:
    return doc["spec"]["jobTemplate"] if doc["kind"] == "RayCronJob" else doc["spec"]


def _job_docs() -> list[dict[str, Any]]:
    return [d for d in _ray_docs() if d["kind"] in ("RayJob", "RayCronJob")]


def _cluster(doc: dict) -> dict:
    """The Ray cluster of a RayJob, RayCronJob (rayClusterSpec) or RayService (rayClusterConfig)."""
    return doc["spec"]["rayClusterConfig"] if doc["kind"] == "RayService" else _job_spec(doc)["rayClusterSpec"]


def _runtime_envs(doc: dict) -> list[dict]:
    """The runtime environments that install the project: the job's, or each Serve application's."""
    if doc["kind"] == "RayService":
        return [a["runtime_env"] for a in yaml.safe_load(doc["spec"]["serveConfigV2"])["applications"]]
    return [yaml.safe_load(_job_spec(doc)["runtimeEnvYAML"])]


def test_every_ray_manifest_validates_against_its_crd(validators):
    kinds = [d["kind"] for d in _ray_docs()]
    assert {"RayJob", "RayCronJob", "RayService"} <= set(kinds)
    for doc in _ray_docs():
        assert _errors(validators, doc) == [], doc["metadata"]["name"]


def test_strict_validation_catches_a_misspelt_or_mistyped_field(validators):
    job = next(d for d in _ray_docs() if d["kind"] == "RayJob")
    typo = copy.deepcopy(job)
    typo["spec"]["entryPoint"] = typo["spec"].pop("entrypoint")
    assert any("entryPoint" in e for e in _errors(validators, typo))
    wrong = copy.deepcopy(job)
    wrong["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "two"
    assert _errors(validators, wrong)


def test_cron_job_runs_exactly_the_training_job():
    job = next(d for d in _job_docs() if d["kind"] == "RayJob")
    cron = next(d for d in _job_docs() if d["kind"] == "RayCronJob")
    assert cron["spec"]["jobTemplate"] == job["spec"] and len(cron["spec"]["schedule"].split()) == 5


def test_project_comes_through_runtime_env_on_the_official_image():
    from ray.runtime_env import RuntimeEnv

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    ray_pin = next(d for d in project["dependencies"] if d.startswith("ray[")).split("==")[1]
    py = re.search(r">=3\.(\d+)", project["requires-python"]).group(1)
    for doc in _ray_docs():
        for env in _runtime_envs(doc):
            RuntimeEnv(**env)  # Ray's own validation of the runtime environment
            archive = env["working_dir"]
            assert archive.startswith("https://") and archive.endswith(".zip")
            assert f"{project['name']} @ {archive}" in env["pip"]["packages"], "pip installs the same archive"
        cluster = _cluster(doc)
        assert cluster["rayVersion"] == ray_pin
        groups = [cluster["headGroupSpec"]] + cluster["workerGroupSpecs"]
        for c in (c for g in groups for c in g["template"]["spec"]["containers"]):
            m = IMAGE.match(c["image"])
            assert m and m["ray"] == ray_pin and m["py"] == f"3{py}", c["image"]


def test_pods_get_settings_and_secrets_and_sane_resources():
    docs = _docs()
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert set(secret["stringData"]) == {"AIOPS_REDIS_URL", "AIOPS_API_TOKEN"}
    for doc in _ray_docs():
        cluster = _cluster(doc)
        for g in [cluster["headGroupSpec"]] + cluster["workerGroupSpecs"]:
            pod = g["template"]["spec"]
            assert {"name": "aiops-settings", "configMap": {"name": config["metadata"]["name"]}} in pod["volumes"]
            for c in pod["containers"]:
                assert {"secretRef": {"name": secret["metadata"]["name"]}} in c["envFrom"]
                assert any(m["mountPath"] == "/etc/aiops" for m in c["volumeMounts"])
                req, lim = c["resources"]["requests"], c["resources"]["limits"]
                assert _cpu(req["cpu"]) <= _cpu(lim["cpu"]) and req["memory"] == lim["memory"], c["name"]
                assert int(g["rayStartParams"]["num-cpus"]) <= _cpu(lim["cpu"])
            assert g["rayStartParams"]["metrics-export-port"] == "8080"
        if doc["kind"] != "RayService":
            assert 0 < _job_spec(doc)["entrypointNumCpus"] < 1 <= int(cluster["headGroupSpec"]["rayStartParams"]["num-cpus"])


def _cpu(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def test_settings_and_entrypoint_are_what_the_code_reads(tmp_path: Path):
    from jobs.train_failure import parse_args

    config = next(d for d in _docs() if d["kind"] == "ConfigMap")
    (tmp_path / "aiops.yaml").write_text(config["data"]["aiops.yaml"])
    settings = load_config_file(Settings, tmp_path / "aiops.yaml")
    assert settings.nats.url and settings.failure.registry_uri.startswith("http://mlflow.")
    for doc in _job_docs():
        argv = _job_spec(doc)["entrypoint"].split()
        assert argv[:3] == ["python", "-m", "jobs.train_failure"]
        assert parse_args(argv[3:]).settings == "/etc/aiops/aiops.yaml"
