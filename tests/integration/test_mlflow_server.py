"""The registry against a real MLflow tracking server (production's shape): artefacts proxied by the server,
versions numbered by it, aliases visible through its REST API (what `mlflow ui` reads)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from aiops.failure.errors import UnsafeArtefact
from aiops.failure.registry import CHALLENGER, CHAMPION, ModelRegistry
from tests.conftest import free_port
from tests.integration.helpers import try_call, wait_for

pytestmark = pytest.mark.integration
NAME = "fleet-failure"


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    # its own process group (uvicorn runs in a child), torn down as one; no job-executor consumers (huey)
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path}/srv.db",
                             "--artifacts-destination", str(tmp_path / "srv-artefacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], start_new_session=True,
                            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: try_call(lambda: httpx.get(f"{url}/health", timeout=5).status_code == 200), 240, every=2,
                 what="the MLflow server")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _folder(tmp: Path, tag: str) -> Path:
    folder = tmp / f"model-{tag}"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"tag": tag}))
    return folder


def test_register_promote_rollback_and_fetch_through_a_tracking_server(mlflow_server, tmp_path):
    reg = ModelRegistry(mlflow_server, cache_dir=tmp_path / "cache")
    reg.register(NAME, _folder(tmp_path, "0"), {"pr_auc": 0.5}, ["a"], "fp0")
    got: dict[str, str] = {}

    def one(tag: str) -> None:  # each with its own client, like two training jobs
        got[tag] = ModelRegistry(mlflow_server, cache_dir=tmp_path / tag).register(
            NAME, _folder(tmp_path, tag), {"pr_auc": 0.6}, ["a"], tag).version

    threads = [threading.Thread(target=one, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(got.values()) == ["v0002", "v0003"] and reg.versions(NAME) == ["v0001", "v0002", "v0003"]

    assert reg.promote(NAME, "v0001", "pr_auc", 0.1).promoted and reg.promote(NAME, got["b"], "pr_auc", 0.1).promoted
    served = ModelRegistry(mlflow_server, cache_dir=tmp_path / "replica")  # what a serving replica sees
    assert served.production(NAME).version == got["b"]
    assert json.loads((served.fetch(NAME, got["b"]) / "model.json").read_text()) == {"tag": "b"}

    rest = httpx.get(f"{mlflow_server}/api/2.0/mlflow/registered-models/get", params={"name": NAME}, timeout=30).json()
    aliases = {a["alias"]: a["version"] for a in rest["registered_model"].get("aliases", [])}
    number = lambda v: str(int(v[1:]))  # noqa: E731 - v0003 is MLflow's version 3
    assert aliases[CHAMPION] == number(got["b"]) and aliases.get(CHALLENGER) in (None, number(got["a"]))
    runs = httpx.post(f"{mlflow_server}/api/2.0/mlflow/runs/search", timeout=30,
                      json={"experiment_ids": [reg.experiment_id()]}).json()["runs"]
    assert len(runs) == 3 and all(r["data"]["tags"] for r in runs)

    assert reg.rollback(NAME) == "v0001" and served.production(NAME).version == "v0001"
    assert reg.rollback(NAME) is None and served.production(NAME) is None

    mv = reg.get(NAME, "v0001")  # the chain of trust holds with proxied artefacts too
    reg.client.log_text(mv.meta["mlflow"]["run_id"], '{"artefacts": {}}', "meta.json")  # overwrite meta.json
    with pytest.raises(UnsafeArtefact, match="meta.json does not match"):
        ModelRegistry(mlflow_server, cache_dir=tmp_path / "fresh").fetch(NAME, "v0001")
