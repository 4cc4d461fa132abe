"""Smaller / faster variants of the torch failure models, kept only when accuracy holds.

Two standard post-training techniques:

- dynamic INT8 quantisation (``torch.ao.quantization.quantize_dynamic`` on Linear and LSTM layers):
  weights stored as int8, activations quantised on the fly; CPU only. It shrinks the weights ~4x
  and usually speeds up the matrix multiplies on x86 (fbgemm) kernels;
- 30 % global magnitude pruning (``torch.nn.utils.prune.global_unstructured`` with L1 norm over every
  Linear/LSTM weight matrix, then ``prune.remove`` so the zeros are baked in). Unstructured zeros do
  not shrink a dense checkpoint nor speed up dense kernels; they show up in the compressed size, and
  they compose with quantisation.

Every variant is scored on held-out windows and compared with the float model; it is *kept* only if
no gate metric (PR-AUC and accuracy at p = 0.5 by default) drops by more than ``tolerance`` (1 point
= 0.01). Size (serialized ``state_dict`` bytes, raw and gzip) and CPU latency per batch are reported
before and after, measured in the same process.
"""
from __future__ import annotations

import copy
import gzip
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from aiops.failure.evaluation.metrics import recall_at_fpr
from aiops.failure.models.sequence import SequenceFailureModel
from aiops.failure.models.sequence_nets import cpu_state, quantize_network

GATE_METRICS: tuple[str, ...] = ("pr_auc", "accuracy")


def prunable_weights(net: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every weight matrix of Linear and LSTM layers (biases and norms are tiny and left dense)."""
    out: list[tuple[nn.Module, str]] = []
    for mod in net.modules():
        if isinstance(mod, nn.Linear):
            out.append((mod, "weight"))
        elif isinstance(mod, nn.LSTM):
            out.extend((mod, n) for n, _ in mod.named_parameters() if n.startswith("weight_"))
    return out


def prune_network(net: nn.Module, amount: float = 0.3) -> nn.Module:
    """Copy with the ``amount`` smallest-magnitude weights (global across layers) set to zero, permanently."""
    pnet = copy.deepcopy(net).cpu().eval()
    targets = prunable_weights(pnet)
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    for mod, name in targets:
        prune.remove(mod, name)
    if hasattr(pnet, "lstm"):
        pnet.lstm.flatten_parameters()
    return pnet


def sparsity(net: nn.Module) -> float:
    """Fraction of zeros among the prunable weights (float networks)."""
    ws = [getattr(m, n).detach() for m, n in prunable_weights(net)]
    tot = sum(w.numel() for w in ws)
    return float(sum(int((w == 0).sum()) for w in ws) / max(tot, 1))


def _variant(model: SequenceFailureModel, net: nn.Module, name: str, quantized: bool) -> SequenceFailureModel:
    m = copy.copy(model)
    m.params = copy.deepcopy(model.params)
    m.net = net
    m.quantized = quantized or model.quantized
    m.variant = name
    m._float_twin = None
    m.last_ig_delta = None
    m.last_ig_steps = None
    if m.quantized:
        m.params.device = "cpu"
    return m


def quantize_model(model: SequenceFailureModel) -> SequenceFailureModel:
    """Dynamic INT8 variant of a fitted sequence model (runs on CPU)."""
    q = _variant(model, quantize_network(model.net), "int8_dynamic", True)
    q.float_source = model.float_source if model.quantized else cpu_state(model.net)
    return q


def prune_model(model: SequenceFailureModel, amount: float = 0.3) -> SequenceFailureModel:
    """Magnitude-pruned variant (float, CPU); pruning is permanent, so it saves and loads like any model."""
    m = _variant(model, prune_network(model.net, amount), f"pruned{int(round(amount * 100))}", False)
    m.params.device = "cpu"
    return m


def prune_then_quantize(model: SequenceFailureModel, amount: float = 0.3) -> SequenceFailureModel:
    p = prune_model(model, amount)
    q = _variant(p, quantize_network(p.net), f"pruned{int(round(amount * 100))}+int8", True)
    q.float_source = cpu_state(p.net)
    return q


# ---------------------------------------------------------------- measurement
def serialized_bytes(net: nn.Module) -> tuple[int, int]:
    """(raw, gzip) size of ``torch.save(state_dict)``: the checkpoint a registry would store."""
    buf = io.BytesIO()
    torch.save(cpu_state(net), buf)
    raw = buf.getvalue()
    return len(raw), len(gzip.compress(raw, compresslevel=6))


def _cpu_net(model: SequenceFailureModel) -> nn.Module:
    net = model.net if model.quantized else copy.deepcopy(model.net).cpu()
    return net.eval()


def cpu_latency_ms(models: Sequence[SequenceFailureModel], W: np.ndarray, batch_size: int = 256,
                   repeats: int = 30, warmup: int = 3) -> list[dict[str, float]]:
    """Per-batch CPU forward latency of each model (network only, scaled windows as input).

    Models are timed round-robin — one batch each per round — so background load on a shared
    machine hits every variant alike and the before/after comparison stays fair.
    """
    nets = [_cpu_net(m) for m in models]
    xs = [torch.from_numpy(m.scaler.transform(W[:batch_size])) for m in models]
    times: list[list[float]] = [[] for _ in models]
    with torch.inference_mode():
        for r in range(warmup + repeats):
            for i, (net, x) in enumerate(zip(nets, xs)):
                t0 = time.perf_counter()
                net(x)
                if r >= warmup:
                    times[i].append((time.perf_counter() - t0) * 1e3)
    return [{"p50_ms": float(np.median(t)), "p90_ms": float(np.quantile(t, 0.9)), "min_ms": float(np.min(t)),
             "batch": int(len(xs[0])),
             "threads": torch.get_num_threads()} for t in times]


def holdout_metrics(p: np.ndarray, y: np.ndarray, fpr: float = 0.01) -> dict[str, float]:
    """PR-AUC, ROC-AUC, accuracy at p = 0.5 and recall at ``fpr`` on held-out windows."""
    from sklearn.metrics import average_precision_score, roc_auc_score
    y = np.asarray(y).astype(int)
    both = 0 < y.sum() < len(y)
    return {"pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
            "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
            "accuracy": float(np.mean((p > 0.5) == (y > 0))),
            f"recall_at_{fpr:g}_fpr": float(recall_at_fpr(p, y, fpr)) if both else float("nan")}


def gate(base: dict[str, float], variant: dict[str, float], tolerance: float = 0.01,
         metrics: Sequence[str] = GATE_METRICS) -> tuple[bool, dict[str, float]]:
    """Keep a variant only if no gate metric drops by more than ``tolerance`` (absolute; 0.01 = 1 point)."""
    drops = {m: float(base[m] - variant[m]) for m in metrics}
    ok = all(np.isfinite(d) and d <= tolerance + 1e-12 for d in drops.values())
    return ok, drops


@dataclass
class VariantResult:
    name: str
    kept: bool
    metrics: dict[str, float]
    drops: dict[str, float]
    size_bytes: int
    size_gzip_bytes: int
    sparsity: float | None
    latency: dict[str, float]
    model: SequenceFailureModel | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("model")
        return d


VariantBuilder = Callable[[SequenceFailureModel], SequenceFailureModel]
DEFAULT_VARIANTS: dict[str, VariantBuilder] = {
    "int8_dynamic": quantize_model,
    "pruned30": lambda m: prune_model(m, 0.3),
    "pruned30+int8": lambda m: prune_then_quantize(m, 0.3),
}


@dataclass
class OptimisationReport:
    model_kind: str
    tolerance: float
    gate_metrics: list[str]
    results: list[VariantResult]

    @property
    def baseline(self) -> VariantResult:
        return self.results[0]

    def kept(self) -> list[VariantResult]:
        return [r for r in self.results[1:] if r.kept]

    def best(self, objective: str = "size") -> VariantResult:
        """The kept variant to deploy: smallest (gzip) for ``size``, fastest for ``latency``.

        A variant slower than the float model is not chosen for ``latency``; the float model is
        returned when nothing else passes the accuracy gate.
        """
        cands = self.kept()
        if objective == "latency":
            cands = [r for r in cands if r.latency["p50_ms"] < self.baseline.latency["p50_ms"]]
            return min(cands, key=lambda r: r.latency["p50_ms"], default=self.baseline)
        if objective != "size":
            raise ValueError("objective must be 'size' or 'latency'")
        return min(cands, key=lambda r: (r.size_gzip_bytes, r.latency["p50_ms"]), default=self.baseline)

    def to_json(self) -> dict[str, Any]:
        return {"model_kind": self.model_kind, "tolerance": self.tolerance, "gate_metrics": self.gate_metrics,
                "best_by_size": self.best("size").name,
                "best_by_latency": self.best("latency").name, "results": [r.to_json() for r in self.results]}


def optimise(model: SequenceFailureModel, W_holdout: np.ndarray, y_holdout: np.ndarray, tolerance: float = 0.01,
             variants: dict[str, VariantBuilder] | None = None, gate_metrics: Sequence[str] = GATE_METRICS,
             batch_size: int = 256, repeats: int = 30) -> OptimisationReport:
    """Build each variant, score it on the same held-out windows, gate it, and measure size and latency.

    The float baseline is measured on CPU too (a copy, if the model lives on a GPU) so latency compares
    like with like.
    """
    if model.net is None:
        raise RuntimeError("model is not fitted")
    base_model = model
    if model.device.type != "cpu":
        base_model = _variant(model, copy.deepcopy(model.net).cpu(), model.variant, False)
        base_model.params.device = "cpu"
    built = {"float32": base_model}
    built.update({name: build(base_model) for name, build in (variants or DEFAULT_VARIANTS).items()})
    lat = cpu_latency_ms(list(built.values()), W_holdout, batch_size, repeats)
    results: list[VariantResult] = []
    base_metrics: dict[str, float] | None = None
    for (name, m), latency in zip(built.items(), lat):
        metrics = holdout_metrics(m.predict_windows(W_holdout), y_holdout)
        if base_metrics is None:
            base_metrics = metrics
            kept, drops = True, {k: 0.0 for k in gate_metrics}
        else:
            kept, drops = gate(base_metrics, metrics, tolerance, gate_metrics)
        raw, gz = serialized_bytes(m.net)
        results.append(VariantResult(name, kept, metrics, drops, raw, gz,
                                     None if m.quantized else sparsity(m.net), latency, m))
    return OptimisationReport(model.kind, tolerance, list(gate_metrics), results)
