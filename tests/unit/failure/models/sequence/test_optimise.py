import copy

import numpy as np
import pytest
import torch

from aiops.failure.models import optimise as O
from aiops.failure.models import FailureModel
from aiops.failure.models.sequence_nets import LSTMNet, TransformerNet

KINDS = ["lstm", "transformer"]


@pytest.mark.parametrize("kind", KINDS)
def test_quantised_model_still_predicts_and_is_smaller(trained, order_data, kind, tmp_path):
    m = trained[kind]
    Wt, yt = order_data["test"]
    q = O.quantize_model(m)
    assert q.quantized and q.device.type == "cpu"
    assert any("quantized.dynamic" in type(mod).__module__ for mod in q.net.modules())
    p, pq = m.predict_windows(Wt), q.predict_windows(Wt)
    assert np.corrcoef(p, pq)[0, 1] > 0.98
    assert O.serialized_bytes(q.net)[0] < O.serialized_bytes(m.net)[0]
    # IG still works (on the dequantised twin) and saving / loading keeps the int8 network
    assert q.contributions_windows(Wt[:8]).shape == (8, 2)
    back = FailureModel.load(q.save(tmp_path / "q"))
    assert back.quantized and back.variant == "int8_dynamic"
    np.testing.assert_allclose(back.predict_windows(Wt), pq, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_pruned_model_has_30pct_zeros_permanently(trained, order_data, kind, tmp_path):
    m = trained[kind]
    Wt, _ = order_data["test"]
    pm = O.prune_model(m, 0.3)
    assert abs(O.sparsity(pm.net) - 0.3) < 0.01
    assert O.sparsity(m.net) < 0.01                       # the original is untouched
    assert not any(n.endswith("_orig") for n, _ in pm.net.named_parameters())   # prune.remove applied
    assert np.corrcoef(m.predict_windows(Wt), pm.predict_windows(Wt))[0, 1] > 0.9
    back = FailureModel.load(pm.save(tmp_path / "p"))
    assert abs(O.sparsity(back.net) - 0.3) < 0.01
    np.testing.assert_allclose(back.predict_windows(Wt), pm.predict_windows(Wt), rtol=1e-5, atol=1e-7)


def test_pruning_really_zeroes_the_weights_the_lstm_uses(trained, order_data):
    m = trained["lstm"]
    Wt, _ = order_data["test"]
    pm = O.prune_model(m, 0.3)
    # rebuild the same network by hand: copy weights, zero the same entries; outputs must agree
    ref = copy.deepcopy(m.net)
    ref.load_state_dict(pm.net.state_dict())
    x = torch.from_numpy(m.scaler.transform(Wt[:32]))
    with torch.no_grad():
        torch.testing.assert_close(pm.net(x), ref(x))
        assert not torch.allclose(pm.net(x), m.net(x))


@pytest.mark.parametrize("net_cls", [LSTMNet, TransformerNet])
def test_int8_checkpoint_is_much_smaller_at_realistic_width(net_cls):
    net = net_cls(n_features=10, window=14, hidden=64, layers=2, heads=4)
    raw_f, _ = O.serialized_bytes(net)
    raw_q, _ = O.serialized_bytes(O.quantize_network(net))
    assert raw_q < 0.45 * raw_f


def test_gate_rejects_a_variant_that_loses_more_than_one_point(trained, order_data):
    m = trained["lstm"]
    Wt, yt = order_data["test"]

    def blunt(model):
        """Destroy the ranking: zero the output layer, every window gets the same score."""
        v = O.prune_model(model, 0.0)
        with torch.no_grad():
            v.net.out.weight.zero_()
        return v

    def identity(model):
        return O.prune_model(model, 0.0)

    rep = O.optimise(m, Wt, yt, variants={"identity": identity, "blunt": blunt}, repeats=3)
    by = {r.name: r for r in rep.results}
    assert by["identity"].kept and by["identity"].drops["pr_auc"] == pytest.approx(0.0, abs=1e-9)
    assert not by["blunt"].kept and by["blunt"].drops["pr_auc"] > 0.01
    assert rep.best("size").name != "blunt"
    assert set(rep.to_json()["results"][0]) >= {"name", "kept", "metrics", "size_bytes", "latency"}


def test_gate_threshold_is_one_point():
    base = {"pr_auc": 0.50, "accuracy": 0.90}
    assert O.gate(base, {"pr_auc": 0.491, "accuracy": 0.90})[0]
    assert not O.gate(base, {"pr_auc": 0.489, "accuracy": 0.90})[0]
    assert not O.gate(base, {"pr_auc": 0.60, "accuracy": 0.88})[0]
    assert not O.gate(base, {"pr_auc": float("nan"), "accuracy": 0.90})[0]


def test_default_variants_report_size_and_latency(trained, order_data):
    Wt, yt = order_data["test"]
    rep = O.optimise(trained["transformer"], Wt, yt, repeats=3)
    names = [r.name for r in rep.results]
    assert names == ["float32", "int8_dynamic", "pruned30", "pruned30+int8"]
    for r in rep.results:
        assert r.size_bytes > 0 and r.latency["p50_ms"] > 0 and np.isfinite(r.metrics["pr_auc"])
    assert rep.results[1].size_bytes < rep.results[0].size_bytes
