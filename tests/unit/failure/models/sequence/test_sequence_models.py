import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from aiops.failure.models import FailureModel, make_model
from aiops.failure.models.sequence import LSTMFailureModel, TransformerFailureModel
from aiops.failure.models.sequence_nets import integrated_gradients, resolve_device
from tests.unit.failure.models.sequence.conftest import SMALL
from tests.unit.failure.models.sequence.synthetic_sequences import trend_frame

KINDS = ["lstm", "transformer"]


def _order_blind_auc(order_data) -> float:
    """Per-window sorted values per feature: everything except the order of the steps."""
    (W, y), (Wt, yt) = order_data["train"], order_data["test"]
    f = lambda A: np.sort(A, axis=1).reshape(len(A), -1)
    clf = LogisticRegression(max_iter=2000).fit(f(W), y)
    return roc_auc_score(yt, clf.predict_proba(f(Wt))[:, 1])


@pytest.mark.parametrize("kind", KINDS)
def test_learns_a_pattern_only_order_reveals(trained, order_data, kind):
    Wt, yt = order_data["test"]
    auc = roc_auc_score(yt, trained[kind].predict_windows(Wt))
    blind = _order_blind_auc(order_data)
    assert blind < 0.65, "the synthetic task leaks through order-free statistics"
    assert auc > 0.95, f"{kind} failed to learn the time order (AUC {auc:.3f})"


def test_registry_and_interface():
    assert FailureModel.registry["lstm"] is LSTMFailureModel
    assert FailureModel.registry["transformer"] is TransformerFailureModel
    m = make_model("lstm", window=4, hidden=8)
    assert m.params.window == 4 and m.params.device == "cpu"
    with pytest.raises(TypeError):
        make_model("transformer", not_a_param=1)


def test_cuda_request_without_cuda_is_an_error_and_auto_falls_back():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(RuntimeError, match="CUDA"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(trained, order_data, kind, tmp_path):
    m = trained[kind]
    Wt, _ = order_data["test"]
    m.save(tmp_path / kind)
    back = FailureModel.load(tmp_path / kind)
    assert type(back) is type(m) and back.feature_names == ["ramp", "noise"]
    np.testing.assert_allclose(back.predict_windows(Wt), m.predict_windows(Wt), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(back.contributions_windows(Wt[:10]), m.contributions_windows(Wt[:10]), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_integrated_gradients_complete_and_point_at_the_ramp(trained, order_data, kind):
    m = trained[kind]
    Wt, yt = order_data["test"]
    c = m.contributions_windows(Wt[:64])
    x = torch.from_numpy(m.scaler.transform(Wt[:64]))
    with torch.no_grad():
        delta_f = (m.net(x) - m.net(torch.zeros_like(x))).numpy()
    # completeness: attributions add up to f(x) - f(baseline) up to the 32-step Riemann error
    np.testing.assert_allclose(c.sum(axis=1), delta_f, atol=0.05 + 0.02 * np.abs(delta_f).max())
    assert np.abs(m.last_ig_delta).max() < 0.05 + 0.02 * np.abs(delta_f).max()
    # the ramp feature carries the signal, the noise feature almost none
    assert np.abs(c[:, 0]).mean() > 3 * np.abs(c[:, 1]).mean()


def test_integrated_gradients_exact_for_a_linear_net():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 1), torch.nn.Flatten(0))
    x = torch.randn(5, 3, 2)
    attr, gap = integrated_gradients(net, x, steps=32)
    w = net[1].weight.detach().view(3, 2)
    torch.testing.assert_close(attr, x * w)          # IG of a linear map is weight * (x - 0)
    assert gap.abs().max() < 1e-5


def test_long_frame_api_scores_every_row_in_caller_order():
    df, y = trend_frame(80, seed=3)
    m = LSTMFailureModel(**{**SMALL, "window": 6, "epochs": 10}, entity="entity", time="t").fit(df, y)
    assert m.feature_names == ["f0", "f1"]           # entity/time excluded
    p = m.predict_proba(df)
    assert p.shape == (len(df),) and np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(y, p) > 0.9
    # the same row scored alone with its own history gives the same answer (order-independent input)
    one = df[df["entity"] == df.loc[0, "entity"]]
    np.testing.assert_allclose(m.predict_proba(one), p[one.index.to_numpy()], rtol=1e-5)
    factors = m.explain(df.iloc[:3], top_k=2)
    assert len(factors) == 3 and {f.feature for f in factors[0]} <= {"f0", "f1"}
    assert m.train_info["pos_weight"] > 1.0          # imbalance handled by the loss weight


def test_label_columns_are_never_used_as_features():
    df, y = trend_frame(30, steps=6, seed=4)
    df["label"] = y
    df["failure"] = y
    m = LSTMFailureModel(window=3, hidden=8, epochs=1, entity="entity", time="t").fit(df, y)
    assert m.feature_names == ["f0", "f1"]


def test_integrated_gradients_refine_rows_whose_completeness_fails(trained, order_data):
    m = trained["transformer"]
    Wt, _ = order_data["test"]
    coarse = TransformerFailureModel(m.params, ig_steps=2, ig_max_steps=2)
    fine = TransformerFailureModel(m.params, ig_steps=2, ig_max_steps=128)
    for v in (coarse, fine):
        v.net, v.scaler, v.features, v.train_info = m.net, m.scaler, m.features, m.train_info
    coarse.contributions_windows(Wt[:64])
    fine.contributions_windows(Wt[:64])
    assert (fine.last_ig_steps > 2).any()
    assert np.abs(fine.last_ig_delta).max() < np.abs(coarse.last_ig_delta).max()
    # rows that were not refined kept the coarse answer; refined ones now meet the tolerance or hit the cap
    assert np.all(np.abs(fine.last_ig_delta) <= np.abs(coarse.last_ig_delta) + 1e-6)
