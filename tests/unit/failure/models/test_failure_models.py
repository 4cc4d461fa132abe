import numpy as np
import pytest

from aiops.failure.training.features import smart_history_features
from aiops.failure.training.labels import LabelSpec, horizon_labels, survival_bounds
from aiops.failure.evaluation.metrics import pr_auc
from aiops.failure.models import FailureModel, make_model, prior_correct
from aiops.failure.training.splits import grouped_folds
from aiops.failure.models.survival import SurvivalModel

from tests.unit.failure.synthetic import synthetic_fleet


@pytest.fixture(scope="module")
def data():
    df = horizon_labels(synthetic_fleet(150, 35, seed=1), LabelSpec(horizon=7))
    X = smart_history_features(df)
    tr, te = next(grouped_folds(df.serial_number.to_numpy(), df.label.to_numpy(), 4, 0))
    return df, X, tr, te


FAST = {"xgboost": {"n_rounds": 40, "eta": 0.2, "neg_sample_rate": 0.5, "n_bags": 2},
        "random_forest": {"n_estimators": 30, "neg_sample_rate": 0.5}}


@pytest.mark.parametrize("kind", ["xgboost", "random_forest"])
def test_models_learn_and_round_trip(kind, data, tmp_path):
    df, X, tr, te = data
    y = df.label.to_numpy()
    m = make_model(kind, **FAST[kind]).fit(X.iloc[tr], y[tr])
    p = m.predict_proba(X.iloc[te])
    assert p.shape == (len(te),) and np.all((p >= 0) & (p <= 1))
    assert pr_auc(p, y[te]) > 3 * y[te].mean()        # far better than the base rate
    loaded = FailureModel.load(m.save(tmp_path / kind))
    assert type(loaded) is type(m)
    np.testing.assert_allclose(loaded.predict_proba(X.iloc[te]), p, rtol=1e-6)


@pytest.mark.parametrize("kind", ["xgboost", "random_forest"])
def test_explain_returns_named_factors_that_add_up(kind, data):
    df, X, tr, te = data
    y = df.label.to_numpy()
    m = make_model(kind, **FAST[kind]).fit(X.iloc[tr], y[tr])
    rows = X.iloc[te].iloc[np.argsort(-m.predict_proba(X.iloc[te]))[:3]]
    facts = m.explain(rows, top_k=4)
    assert len(facts) == 3 and all(len(f) == 4 for f in facts)
    assert all(f.feature in X.columns for row in facts for f in row)
    assert facts[0][0].contribution >= facts[0][-1].contribution
    # The top-scored rows of this fleet are driven by the SMART 5/197 signal it was built with.
    assert any("smart_5" in f.feature or "smart_197" in f.feature or "5_197" in f.feature for f in facts[0])
    contrib, names = m.contributions(rows)
    assert contrib.shape == (3, len(names))


def test_unseen_category_maps_to_unknown(data):
    df, X, tr, te = data
    m = make_model("xgboost", **FAST["xgboost"]).fit(X.iloc[tr], df.label.to_numpy()[tr])
    Z = X.iloc[te[:5]].copy()
    Z["model"] = "NEW MODEL 9000"
    assert np.isfinite(m.predict_proba(Z)).all()


def test_prior_correction_undoes_subsampling():
    assert prior_correct(np.array([0.5]), 0.1)[0] == pytest.approx(0.1 / 1.1)
    assert prior_correct(np.array([0.3]), 1.0)[0] == 0.3


def test_survival_interval_and_ordering(data, tmp_path):
    df, X, tr, te = data
    lo, hi = survival_bounds(df.tte.to_numpy(), df.follow_up.to_numpy())
    m = SurvivalModel(n_rounds=60, neg_sample_rate=0.5).fit(X.iloc[tr], lo[tr], hi[tr])
    pred = m.predict(X.iloc[te])
    assert all(p.lower <= p.median <= p.upper for p in pred)
    near = (df.tte.to_numpy()[te] <= 2)
    far = np.isnan(df.tte.to_numpy()[te])
    med = np.array([p.median for p in pred])
    assert np.median(med[near]) < np.median(med[far])     # imminent failures get shorter times
    again = SurvivalModel.load(m.save(tmp_path / "aft")).predict(X.iloc[te[:3]])
    assert again[0].median == pytest.approx(pred[0].median)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown model kind"):
        make_model("lstm9000")
