import numpy as np
import pandas as pd
import pytest

from aiops.failure.models import FailureModel, XGBoostFailureModel
from aiops.features.definitions import load_definitions
from aiops.failure.serving.alerts import AlertBook, failure_alert_specs
from aiops.failure.serving.horizon import rescale_horizon, severity, time_to_failure
from aiops.failure.serving.predictor import FailurePredictorCore
from aiops.failure.registry import ModelRegistry, RegistryError, data_fingerprint
from aiops.settings import PROJECT_ROOT
from tests.unit.failure.serving.models import FEATURES, small_model


def test_registry_versions_promotion_rules_and_fetch(tmp_path, reg_root):
    reg = ModelRegistry(reg_root, cache_dir=tmp_path / "cache")
    assert reg.production("m") is None and reg.versions("m") == []
    model, X, y = small_model()
    folder = model.save(tmp_path / "m1")
    v1 = reg.register("m", folder, {"pr_auc": 0.6}, FEATURES, data_fingerprint(X, y), {"horizon_s": 7200})
    assert v1.version == "v0001"
    assert not reg.promote("m", "v0001", "pr_auc", minimum=0.7).promoted  # below acceptance
    d = reg.promote("m", "v0001", "pr_auc", minimum=0.5)
    assert d.promoted and reg.production("m").version == "v0001"
    v2 = reg.register("m", folder, {"pr_auc": 0.55}, FEATURES, "x")
    worse = reg.promote("m", v2.version, "pr_auc", minimum=0.5)
    assert not worse.promoted and "does not beat" in worse.reason
    v3 = reg.register("m", folder, {"pr_auc": 0.8}, FEATURES, "x")
    assert reg.promote("m", v3.version, "pr_auc", minimum=0.5).promoted
    assert reg.production("m").version == "v0003" and reg.versions("m") == ["v0001", "v0002", "v0003"]
    loaded = FailureModel.load(reg.fetch("m", "v0003"))
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(RegistryError):
        reg.get("m", "v0009")


def test_data_fingerprint_changes_with_data():
    a = np.arange(10.0)
    assert data_fingerprint(a) == data_fingerprint(a.copy()) != data_fingerprint(a + 1)


def test_alert_book_dedupes_and_rearms():
    book = AlertBook(0.7, 0.5)
    p = lambda t, x: {"target_id": t, "failure_probability": x, "severity": severity(x), "last_updated": 1.0}  # noqa: E731
    assert [a["target_id"] for a in book.update([p("h1", 0.8), p("h2", 0.2)])] == ["h1"]
    assert book.update([p("h1", 0.9)]) == []  # still the same episode
    assert book.update([p("h1", 0.6)]) == []  # hysteresis: not re-armed yet
    assert book.update([p("h1", 0.4)]) == []  # re-armed
    assert len(book.update([p("h1", 0.75)])) == 1
    book.mitigated("h1")
    assert len(book.update([p("h1", 0.75)])) == 1
    book.update([{**p("h1/x", 0.75), "contributing_factors": [{"description": "disk rising"}]}])
    spec = failure_alert_specs(book.active.values(), "http://api")[1]
    assert spec.name == "FailurePredicted" and spec.severity == "high" and spec.starts_at == 1.0
    assert spec.generator_url == "http://api/api/ai/predictions/failures/h1%2Fx" and spec.annotations["factors"] == "disk rising"
    with pytest.raises(ValueError):
        AlertBook(0.5, 0.7)


def test_hazard_helpers():
    assert rescale_horizon(np.array([0.5]), 3600, 3600)[0] == pytest.approx(0.5)
    assert rescale_horizon(np.array([0.5]), 3600, 7200)[0] == pytest.approx(0.75)
    med, (lo, hi) = time_to_failure(0.5, 3600)
    assert med == pytest.approx(3600) and lo < med < hi
    assert time_to_failure(0.0, 3600) == (None, None)
    assert severity(0.95) == "critical" and severity(0.1) == "low"


def test_core_predictions_explain_and_recommend():
    model, X, _ = small_model()
    defs = load_definitions(PROJECT_ROOT / "configs" / "features.yaml")
    core = FailurePredictorCore(model, "v0007", 7200, defs, vms_on_host=lambda h: 3)
    risky = {"target_id": "host-0017", "target_type": "host", "as_of": 5.0,
             "features": {"disk_io_latency_trend_1h": 4.0, "temperature_max_5m": 0.0, "cpu_utilization_mean_5m": None}}
    calm = {"target_id": "vm-000001", "target_type": "vm", "as_of": 5.0,
            "features": {"disk_io_latency_trend_1h": -2.0, "temperature_max_5m": 0.0, "cpu_utilization_mean_5m": 0.1}}
    hi, lo = core.predict([risky, calm])
    assert hi.failure_probability > 0.7 > 0.3 > lo.failure_probability
    assert hi.confidence_interval[0] <= hi.failure_probability <= hi.confidence_interval[1]
    assert hi.contributing_factors[0]["feature"] == "disk_io_latency_trend_1h"
    assert hi.contributing_factors[0]["description"] == "disk_io_latency_ms rising"
    assert hi.recommendations[0].startswith("drain host host-0017: disk_io_latency_ms rising") and "3 VMs to move" in hi.recommendations[0]
    assert lo.recommendations == [] and hi.model_version == "v0007" and hi.severity in ("high", "critical")
    longer = core.predict([risky], horizon_s=4 * 7200)[0]
    assert longer.failure_probability >= hi.failure_probability


def test_core_feeds_target_type_as_a_categorical():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 2)), columns=FEATURES[:2])
    X["target_type"] = np.where(rng.random(400) < 0.5, "host", "vm")
    y = ((X["target_type"] == "host") & (X[FEATURES[0]] > 0.5)).astype(int).to_numpy()
    model = XGBoostFailureModel(n_rounds=40, eta=0.3, neg_sample_rate=1.0, nthread=1).fit(X, y)
    core = FailurePredictorCore(model, "v1", 3600, load_definitions(PROJECT_ROOT / "configs" / "features.yaml"))
    feats = {FEATURES[0]: 2.0, FEATURES[1]: 0.0}
    host, vm = core.predict([{"target_id": "h", "target_type": "host", "features": feats},
                             {"target_id": "v", "target_type": "vm", "features": feats}])
    assert host.failure_probability > 0.8 > 0.2 > vm.failure_probability


def test_at_horizon_restates_probability_and_severity():
    from aiops.failure.serving.horizon import at_horizon

    pred = {"failure_probability": 0.5, "confidence_interval": (0.4, 0.6), "severity": "medium", "target_id": "h"}
    longer = at_horizon(pred, 3600, 7200)
    assert longer["failure_probability"] == pytest.approx(0.75) and longer["severity"] == "high"
    assert longer["confidence_interval"][0] == pytest.approx(0.64) and longer["target_id"] == "h"


def test_core_takes_time_to_failure_from_the_survival_model():
    from aiops.failure.models.survival import SurvivalModel

    model, X, y = small_model()
    rng = np.random.default_rng(3)
    t = np.where(X[FEATURES[0]] > 1.2, 3600.0, 40_000.0) * rng.uniform(0.8, 1.2, len(X))
    surv = SurvivalModel(neg_sample_rate=1.0, nthread=1, n_rounds=200, eta=0.3).fit(X, t / 3600, t / 3600)  # hours
    core = FailurePredictorCore(model, "v1", 7200, load_definitions(PROJECT_ROOT / "configs" / "features.yaml"),
                                survival=surv)
    risky = {"target_id": "h", "target_type": "host", "features": {FEATURES[0]: 4.0, FEATURES[1]: 0.0, FEATURES[2]: 0.0}}
    calm = {"target_id": "c", "target_type": "host", "features": {FEATURES[0]: -2.0, FEATURES[1]: 0.0, FEATURES[2]: 0.0}}
    hi, lo = core.predict([risky, calm])
    assert 1000 < hi.time_to_failure < 10_000
    assert hi.time_to_failure_interval[0] <= hi.time_to_failure <= hi.time_to_failure_interval[1]
    assert lo.time_to_failure is None  # negligible risk: no time to failure is claimed


def test_survival_bounds_censor_at_the_horizon():
    from aiops.failure.training.pipeline import survival_bounds

    frame = pd.DataFrame({"ts": [0.0, 0.0, 0.0], "next_failure_ts": [1800.0, 50 * 3600.0, np.nan]})
    lower, upper = survival_bounds(frame, 8 * 3600.0)
    assert lower.tolist() == [0.5, 8.0, 8.0] and upper[0] == 0.5 and np.isinf(upper[1:]).all()


def test_alerts_follow_the_models_operating_point_unless_configured():
    from aiops.failure.serving.alerts import alert_thresholds

    assert alert_thresholds(None, 0.5, 0.42) == (0.42, pytest.approx(0.336))  # the model's threshold, re-arm below it
    assert alert_thresholds(None, 0.5, None) == (0.7, 0.5)
    assert alert_thresholds(0.9, 0.5, 0.42) == (0.9, 0.5)  # an operator's setting wins
    book = AlertBook(0.7, 0.5)
    p = lambda t, x: {"target_id": t, "failure_probability": x, "severity": "high"}  # noqa: E731
    assert book.update([p("h1", 0.5)]) == []
    book.set_thresholds(*alert_thresholds(None, 0.5, 0.42))
    assert len(book.update([p("h1", 0.5)])) == 1
