"""cluster.yaml is a valid Ray cluster-launcher config and syncs sources only (no venv, outputs or data)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "cluster.yaml").read_text())
MOUNT = "/opt/novacron-aiops"


def test_validates_against_rays_autoscaler_schema() -> None:
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(CONFIG)]
    assert not errors, errors


def test_ray_up_would_accept_it() -> None:
    """What `ray up` runs on the file before it contacts any node (fills the local provider's node types)."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(json.loads(json.dumps(CONFIG)))
    validate_config(prepared)
    workers = prepared["available_node_types"]["local.cluster.node"]
    assert workers["min_workers"] == workers["max_workers"] == len(CONFIG["provider"]["worker_ips"])


def test_the_mount_is_the_repository_and_setup_installs_from_it() -> None:
    assert CONFIG["file_mounts"] == {MOUNT: "."}
    setup = " && ".join(CONFIG["setup_commands"])
    assert f"pip install -q {MOUNT}" in setup and "torch==2.13.0" in setup
    every_command = CONFIG["setup_commands"] + CONFIG["head_start_ray_commands"] + CONFIG["worker_start_ray_commands"]
    assert not [c for c in every_command if f"{MOUNT}/.venv" in c]  # nothing runs from a synced venv
    assert any("--port=6380" in c for c in CONFIG["head_start_ray_commands"])  # 6379 is Redis


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync not installed")
def test_rsync_with_these_options_moves_sources_only(tmp_path: Path) -> None:
    """Run rsync (dry run) with the arguments Ray's SSH command runner builds from rsync_exclude/rsync_filter."""
    from ray.autoscaler._private.command_runner import SSHCommandRunner

    src = tmp_path / "repo"
    files = ["aiops/settings.py", "aiops/configs/aiops.yaml", "aiops/configs/rules/r.yml", "jobs/cli.py",
             "pyproject.toml", "tests/data/sample.log",
             ".venv/bin/python", ".venv/lib/python3.11/site-packages/x.py", "results/tune/trial.json",
             "runs/r1/log", "models/registry/v1/model.json", "data/backblaze.csv", "build/lib/aiops/x.py",
             "novacron_aiops.egg-info/PKG-INFO", "aiops/__pycache__/settings.cpython-311.pyc", ".git/HEAD",
             ".pytest_cache/v/x"]
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        (src / f).write_text("x")
    shutil.copy(ROOT / ".gitignore", src / ".gitignore")
    (src / "configs").symlink_to("aiops/configs")
    args = SSHCommandRunner._create_rsync_filter_args(None, {"rsync_exclude": CONFIG["rsync_exclude"],
                                                             "rsync_filter": CONFIG["rsync_filter"]})
    out = subprocess.run(["rsync", "-avzn", *args, f"{src}/", str(tmp_path / "node")], check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout
    sent = {line.split(" -> ")[0].rstrip("/") for line in out.splitlines()}
    assert {"aiops/settings.py", "aiops/configs/aiops.yaml", "aiops/configs/rules/r.yml", "jobs/cli.py",
            "pyproject.toml", "tests/data/sample.log", "configs"} <= sent
    leaked = sorted(p for p in sent if p.split("/")[0] in {".venv", "results", "runs", "models", "data", "build", ".git",
                                                          ".pytest_cache", "novacron_aiops.egg-info"}
                    or "__pycache__" in p)
    assert not leaked, leaked
