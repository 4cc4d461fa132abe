"""The registry on MLflow: atomic version numbers, the champion/challenger aliases, rollback, where the store
lives, and the import of a pre-MLflow registry folder. A real SQLite MLflow store in tmp_path each time."""
from __future__ import annotations

import json
import multiprocessing as mp
import shutil
from pathlib import Path

import pytest

from aiops.failure.registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryError, sha256_file
from aiops.failure.registry_store import default_registry_uri, resolve_store

NAME = "fleet-failure"


def _folder(tmp: Path, tag: str) -> Path:
    folder = tmp / f"model-{tag}"
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_text(json.dumps({"tag": tag}))
    return folder


def _register_in_child(root: str, folder: str, tag: str, out) -> None:
    """One process registering one version (its own client and connection, like two training jobs)."""
    reg = ModelRegistry(root)
    out.put((tag, reg.register(NAME, Path(folder), {"pr_auc": 0.5}, [], tag).version))


def test_two_concurrent_registrations_on_a_new_store_get_distinct_versions(tmp_path):
    """Two processes open a store nobody created yet (tables, experiment, model) and register at once."""
    root = str(tmp_path / "fresh")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_register_in_child, args=(root, str(_folder(tmp_path, t)), t, out)) for t in "ab"]
    for p in procs:
        p.start()
    got = dict(out.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    reg = ModelRegistry(root)
    assert sorted(got.values()) == ["v0001", "v0002"] and reg.versions(NAME) == ["v0001", "v0002"]
    for tag, version in got.items():  # each number holds its own process's files
        assert json.loads((reg.fetch(NAME, version) / "model.json").read_text()) == {"tag": tag}


def test_aliases_move_on_register_promote_and_rollback_and_mlflow_sees_them(tmp_path, reg_root):
    reg = ModelRegistry(reg_root, cache_dir=tmp_path / "cache")
    v1 = reg.register(NAME, _folder(tmp_path, "1"), {"pr_auc": 0.6}, ["a"], "fp1")
    assert v1.version == "v0001" and reg.alias(NAME, CHALLENGER).version == "v0001" and reg.production(NAME) is None
    assert reg.promote(NAME, "v0001", "pr_auc", 0.5).promoted
    assert reg.production(NAME).version == "v0001" and reg.alias(NAME, CHALLENGER) is None  # promoted: no longer a candidate
    v2 = reg.register(NAME, _folder(tmp_path, "2"), {"pr_auc": 0.55}, ["a"], "fp2")
    assert not reg.promote(NAME, v2.version, "pr_auc", 0.5).promoted  # does not beat the champion
    assert reg.alias(NAME, CHALLENGER).version == "v0002" and reg.production(NAME).version == "v0001"
    v3 = reg.register(NAME, _folder(tmp_path, "3"), {"pr_auc": 0.7}, ["a"], "fp3")
    assert reg.promote(NAME, v3.version, "pr_auc", 0.5).promoted and reg.production(NAME).version == "v0003"
    assert reg.alias(NAME, CHALLENGER) is None  # the newest candidate was promoted; v0002 is a plain version
    reg.register(NAME, _folder(tmp_path, "4"), {"pr_auc": 0.1}, ["a"], "fp4")

    client = reg.client  # what `mlflow ui` reads: the registered model's aliases and the versions' runs
    model = client.get_registered_model(NAME)
    assert {k: str(v) for k, v in model.aliases.items()} == {CHAMPION: "3", CHALLENGER: "4"}
    run = client.get_run(client.get_model_version(NAME, "3").run_id)
    assert run.data.metrics["pr_auc"] == 0.7 and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "aiops-failure"

    assert reg.rollback(NAME) == "v0001" and reg.production(NAME).version == "v0001"  # v0003 stays a version
    assert reg.versions(NAME) == ["v0001", "v0002", "v0003", "v0004"]
    assert reg.rollback(NAME) is None and reg.production(NAME) is None  # nothing before v0001: health fallback
    assert reg.rollback(NAME) is None


def test_an_alias_moved_in_mlflow_is_what_production_returns(tmp_path, reg_root):
    """Serving polls production(): an operator moving `champion` in the MLflow UI or client is followed."""
    reg = ModelRegistry(reg_root, cache_dir=tmp_path / "cache")
    for tag in "12":
        reg.promote(NAME, reg.register(NAME, _folder(tmp_path, tag), {"pr_auc": 0.6}, [], tag).version, "pr_auc", 0, force=True)
    other = ModelRegistry(reg_root, cache_dir=tmp_path / "cache2")  # e.g. a serving replica
    assert other.production(NAME).version == "v0002"
    reg.client.set_registered_model_alias(NAME, CHAMPION, "1")
    assert other.production(NAME).version == "v0001"
    assert json.loads((other.fetch(NAME, "v0001") / "model.json").read_text()) == {"tag": "1"}
    assert other.get(NAME, CHAMPION).version == "v0001"  # failure.model_version may name an alias
    with pytest.raises(RegistryError, match="no challenger yet"):
        other.get(NAME, CHALLENGER)


def test_missing_versions_and_foreign_uris_are_clear_errors(tmp_path, reg_root):
    reg = ModelRegistry(reg_root)
    assert reg.versions("nothing") == [] and reg.production("nothing") is None and reg.alias("nothing", CHALLENGER) is None
    with pytest.raises(RegistryError, match="no version"):
        reg.get("nothing", "v0001")
    with pytest.raises(RegistryError, match="does not exist"):
        reg.get(NAME, "latest")
    with pytest.raises(RegistryError, match="artifacts-destination s3://b/p") as err:
        ModelRegistry("s3://b/p?endpoint_override=h:9000&secret_key=hunter2")
    assert "hunter2" not in str(err.value)  # the old registry URIs carried object-store secrets


def test_where_the_store_lives(tmp_path, monkeypatch):
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    assert default_registry_uri(env) == f"sqlite:///{tmp_path}/data/aiops/mlflow.db"
    assert default_registry_uri({**env, "MLFLOW_TRACKING_URI": "http://mlflow:5000"}) == "http://mlflow:5000"
    monkeypatch.setenv("HOME", str(tmp_path))
    uri, artefacts = resolve_store("sqlite:///~/x/mlflow.db")
    assert uri == f"sqlite:///{tmp_path}/x/mlflow.db" and artefacts == (tmp_path / "x" / "mlartifacts").as_uri()
    assert resolve_store(str(tmp_path / "reg"))[0] == f"sqlite:///{tmp_path}/reg/mlflow.db"
    assert resolve_store("http://mlflow:5000") == ("http://mlflow:5000", None)  # the server keeps the artefacts
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://db/mlflow")
    from aiops.settings import Settings

    assert Settings().failure.registry_uri == "postgresql://db/mlflow"


def _old_registry(tmp: Path) -> Path:
    """A registry folder in the pre-MLflow layout: v0001 and v0002 pinned, v0002 in production over v0001, and a
    v0003 from before hashes were pinned."""
    old = tmp / "old"
    for v in ("v0001", "v0002", "v0003"):
        model = old / NAME / "versions" / v / "model"
        model.mkdir(parents=True)
        (model / "model.json").write_text(json.dumps({"tag": v}))
        pins = {} if v == "v0003" else {"artefacts": {"model.json": sha256_file(model / "model.json")}}
        (old / NAME / "versions" / v / "meta.json").write_text(json.dumps(
            {"name": NAME, "version": v, "metrics": {"pr_auc": 0.5}, "features": ["a"], "data_fingerprint": "fp",
             "created_at": 1000.0 + int(v[1:]), "horizon_s": 3600, **pins}))
    (old / NAME / "production.json").write_text(json.dumps({"version": "v0002", "previous": "v0001"}))
    return old


def test_an_old_registry_folder_is_imported_once_with_its_production_pointer(tmp_path, reg_root, caplog):
    from aiops.failure.registry_legacy import import_legacy

    old = _old_registry(tmp_path)
    shutil.copy(Path(reg_root) / "mlflow.db", old / "mlflow.db")  # the same folder may hold both layouts
    with caplog.at_level("WARNING"):
        reg = ModelRegistry(str(old), cache_dir=tmp_path / "cache")
    assert "jobs.import_registry" in caplog.text
    rows = import_legacy(old, reg, log=lambda _: None)
    assert [(r["old"], r["new"]) for r in rows] == [("v0001", "v0001"), ("v0002", "v0002"), ("v0003", None)]
    assert "without pinned SHA-256" in rows[2]["status"]
    prod = reg.production(NAME)
    assert prod.version == "v0002" and prod.meta["created_at"] == 1002.0 and prod.meta["horizon_s"] == 3600
    assert json.loads((reg.fetch(NAME, "v0002") / "model.json").read_text()) == {"tag": "v0002"}
    again = import_legacy(old, reg, log=lambda _: None)
    assert [r["status"] for r in again[:2]] == ["already imported"] * 2 and reg.versions(NAME) == ["v0001", "v0002"]
    assert reg.rollback(NAME) == "v0001"  # the old `previous` is the rollback target


def test_the_import_job_prints_each_version_and_fails_while_one_is_left_behind(tmp_path, reg_root, capsys):
    from jobs import import_registry

    old = _old_registry(tmp_path)
    assert import_registry.main([str(old), "--registry", reg_root]) == 1  # v0003 has no pins: retrain it
    out = capsys.readouterr().out
    assert "v0002    v0002    imported" in out and "v0003    -        skipped" in out and "mlflow ui --backend-store-uri" in out
    assert import_registry.main([str(tmp_path / "nothing-here"), "--registry", reg_root]) == 1
