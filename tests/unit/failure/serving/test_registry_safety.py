"""The registry never loads what it did not pin: hashes checked, names checked, pickles refused."""
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from aiops.errors import InvalidRequestError, UnavailableError
from aiops.failure.errors import UnsafeArtefact
from aiops.failure.models import FailureModel, XGBoostFailureModel
from aiops.failure.models.trees import RandomForestFailureModel
from aiops.failure.registry import InvalidModelName, ModelRegistry

RAN: list[str] = []


class _Payload:
    def __reduce__(self):
        return (RAN.append, ("unpickled",))


def _frame(seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    return X, (X["a"] > 0.8).astype(int).to_numpy()


def _stored(tmp, mv, rel):
    """Where the local MLflow store keeps a version's artefact (beside mlflow.db, under mlartifacts/)."""
    return tmp / "reg" / "mlartifacts" / mv.meta["mlflow"]["run_id"] / "artifacts" / rel


@pytest.fixture()
def reg_v1(tmp_path, reg_root):
    X, y = _frame()
    folder = XGBoostFailureModel(n_rounds=10, neg_sample_rate=1.0, nthread=1).fit(X, y).save(tmp_path / "m1")
    reg = ModelRegistry(reg_root, cache_dir=tmp_path / "cache")
    mv = reg.register("m", folder, {"pr_auc": 0.6}, ["a", "b", "c"], "fp")
    return reg, mv, tmp_path


def test_artefact_hashes_are_pinned_and_a_swapped_artefact_is_refused(reg_v1):
    reg, mv, tmp = reg_v1
    assert set(mv.meta["artefacts"]) == {"meta.json", "booster_0.ubj"}
    assert all(len(h) == 64 for h in mv.meta["artefacts"].values())
    FailureModel.load(reg.fetch("m", mv.version))  # the untouched artefact loads
    stored = _stored(tmp, mv, "model/booster_0.ubj")
    X, y = _frame(1)
    other = XGBoostFailureModel(n_rounds=3, neg_sample_rate=1.0, nthread=1).fit(X, y).save(tmp / "m2")
    stored.write_bytes((other / "booster_0.ubj").read_bytes())
    reg.cache = tmp / "cache2"  # a fresh replica downloads the swapped file
    with pytest.raises(UnsafeArtefact, match="SHA-256 of \\['booster_0.ubj'\\] does not match"):
        reg.fetch("m", mv.version)
    assert isinstance(UnsafeArtefact("x"), UnavailableError)


def test_a_tampered_cache_and_an_extra_file_are_refused(reg_v1):
    reg, mv, _ = reg_v1
    local = reg.fetch("m", mv.version)
    (local / "booster_0.ubj").write_bytes(b"\x00" * 16)
    with pytest.raises(UnsafeArtefact, match="does not match"):
        reg.fetch("m", mv.version)
    (local / "booster_0.ubj").unlink()
    (local / "evil.pkl").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(UnsafeArtefact, match="unexpected \\['evil.pkl'\\], missing \\['booster_0.ubj'\\]"):
        reg.fetch("m", mv.version)


@pytest.mark.parametrize("bad", ["../../x", "..", "a/b", "v1/../../etc", "", "x" * 65, ".hidden", "a\\b", None, 7])
def test_bad_version_and_model_names_are_refused(reg_v1, bad):
    reg, mv, tmp = reg_v1
    with pytest.raises(InvalidModelName):
        reg.get("m", bad)
    with pytest.raises(InvalidModelName):
        reg.fetch(bad, mv.version)
    assert issubclass(InvalidModelName, InvalidRequestError)  # a 422 at the API


def test_a_swapped_meta_json_is_refused_by_the_hash_pinned_in_the_database(reg_v1):
    reg, mv, tmp = reg_v1
    meta_path = _stored(tmp, mv, "meta.json")
    meta = json.loads(meta_path.read_text())
    meta["artefacts"]["booster_0.ubj"] = "0" * 64  # whoever can write artefacts could re-pin a swapped file
    meta_path.write_text(json.dumps(meta))
    fresh = ModelRegistry(str(tmp / "reg"), cache_dir=tmp / "cache3")  # a new replica: nothing cached
    with pytest.raises(UnsafeArtefact, match="meta.json does not match the SHA-256 pinned"):
        fresh.fetch("m", mv.version)
    with pytest.raises(InvalidModelName):
        fresh.alias("m", "../champion")


def test_versions_registered_without_pins_and_pickles_are_refused_with_a_retrain_message(reg_v1):
    reg, mv, tmp = reg_v1
    RAN.clear()
    legacy = tmp / "legacy"
    legacy.mkdir()
    (legacy / "forest.joblib").write_bytes(pickle.dumps(_Payload()))
    (legacy / "meta.json").write_text(json.dumps({"kind": "random_forest", "params": {}, "forest": "forest.joblib",
                                                  "schema": {"features": ["a"], "categories": {}}}))
    # a version registered straight through MLflow (not by aiops): no hash pinned on it, so never loaded
    run = reg.client.create_run(reg.experiment_id())
    reg.client.log_artifacts(run.info.run_id, str(legacy), "model")
    foreign = reg.client.create_model_version("m", f"{run.info.artifact_uri}/model", run.info.run_id)
    with pytest.raises(UnsafeArtefact, match="without pinned SHA-256.*retrain"):
        reg.fetch("m", f"v{int(foreign.version):04d}")
    with pytest.raises(UnsafeArtefact, match="pickle-based.*retrain"):
        FailureModel.load(legacy)
    with pytest.raises(UnsafeArtefact, match="refusing to register pickle-format"):
        reg.register("m", legacy, {}, ["a"], "fp")
    assert RAN == []


def test_random_forest_round_trips_through_skops_and_a_forged_tree_is_refused(tmp_path):
    X, y = _frame()
    m = RandomForestFailureModel(n_estimators=5, neg_sample_rate=1.0, n_jobs=1).fit(X, y)
    folder = m.save(tmp_path / "rf")
    assert (folder / "forest.skops").exists() and not list(folder.glob("*.joblib"))
    back = FailureModel.load(folder)
    np.testing.assert_allclose(back.predict_proba(X), m.predict_proba(X))
    m.forest.estimators_[0].tree_.children_left[0] = 10**6  # an index sklearn would follow unchecked
    m.save(tmp_path / "forged")
    with pytest.raises(UnsafeArtefact, match="out-of-range"):
        FailureModel.load(tmp_path / "forged")
