#!/usr/bin/env python
"""GPU smoke check for the torch failure models (LSTM, Transformer): run from the repo root.

    python scripts/gpu_check.py            # ~30-60 s on one GPU, always < 2 min
    python scripts/gpu_check.py --cpu-dry-run   # same checks on CPU, smaller data (tests the script itself)

For each model it trains a few epochs *on cuda* on synthetic order-only sequences, runs an explicit
forward/backward pass, scores a batch, computes integrated gradients (cuDNN RNN backward needs a
workaround in eval mode), saves and reloads the model, and compares GPU and CPU predictions. It
asserts that parameters, gradients and outputs live on the GPU, prints the device name and timings,
and ends with one JSON line (``GPU_CHECK {...}``).

Exit codes: 0 all checks passed, 1 a check failed, 3 CUDA is not available (nothing was run).
"""
from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:
    import numpy as np
    import torch
except ImportError as exc:  # pragma: no cover - environment problem, reported plainly
    print(f"gpu_check: cannot import numpy/torch ({exc}); install the project's dependencies first")
    sys.exit(1)

N_FEATURES, WINDOW, BATCH = 10, 14, 4096


def order_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rising ramps (positive) vs the same ramps reversed (negative): only order separates them."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 1.0, (n, 1, N_FEATURES))
    slope = np.zeros((n, 1, N_FEATURES))
    slope[:, 0, 0] = np.abs(rng.normal(0.4, 0.1, n))
    W = base + slope * np.arange(WINDOW)[None, :, None] + rng.normal(0.0, 0.15, (n, WINDOW, N_FEATURES))
    y = (rng.random(n) < 0.3).astype(int)
    W[y == 0] = W[y == 0][:, ::-1]
    return W.astype(np.float32), y


DEVICE = "cuda"


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _on(t: torch.Tensor) -> bool:
    return t.device.type == DEVICE


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """Rank AUC without sklearn (Mann-Whitney)."""
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    pos = y > 0
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def check_kind(cls, extra: dict, W: np.ndarray, y: np.ndarray, Wt: np.ndarray, yt: np.ndarray) -> dict:
    from aiops.failure.models import FailureModel
    try:
        import sklearn  # noqa: F401  (validation AP during training)
        val = 0.15
    except ImportError:
        val = 0.0
    out: dict = {}
    m = cls(window=WINDOW, hidden=64, epochs=4, batch_size=512, lr=3e-3, device=DEVICE, log_transform=False,
            val_fraction=val, seed=0, **extra)
    _sync(); t = time.perf_counter()
    m.fit_windows(W, y)
    _sync(); out["fit_s"] = round(time.perf_counter() - t, 3)
    params = list(m.net.parameters())
    assert params and all(_on(p) for p in params), f"parameters are not on {DEVICE} after fit"

    # explicit forward/backward on the GPU
    x = torch.from_numpy(m.scaler.transform(W[:BATCH])).to(DEVICE)
    tgt = torch.from_numpy(y[:BATCH].astype(np.float32)).to(DEVICE)
    m.net.train()
    m.net.zero_grad(set_to_none=True)
    _sync(); t = time.perf_counter()
    logits = m.net(x)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, tgt)
    loss.backward()
    _sync(); out["fwd_bwd_ms_batch4096"] = round((time.perf_counter() - t) * 1e3, 3)
    m.net.eval()
    assert _on(logits), f"forward output is not on {DEVICE}"
    grads = [p.grad for p in params if p.grad is not None]
    assert grads and all(_on(g) and torch.isfinite(g).all() for g in grads), "gradients missing, off-device or non-finite"

    # batch of predictions (warm, then timed)
    m.predict_windows(Wt[:BATCH])
    _sync(); t = time.perf_counter()
    p = m.predict_windows(Wt)
    _sync(); out["predict_ms"] = round((time.perf_counter() - t) * 1e3, 3)
    out["predict_rows"] = int(len(Wt))
    with torch.inference_mode():
        raw = m.net(torch.from_numpy(m.scaler.transform(Wt[:256])).to(DEVICE))
    assert _on(raw), f"prediction logits are not on {DEVICE}"
    assert p.shape == (len(Wt),) and np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    out["auc_order_task"] = round(_auc(yt, p), 4)
    assert out["auc_order_task"] > 0.8, f"model did not learn the order task on GPU (AUC {out['auc_order_task']})"

    # integrated gradients on the GPU (LSTM needs cuDNN disabled for eval-mode backward)
    _sync(); t = time.perf_counter()
    c = m.contributions_windows(Wt[:256])
    _sync(); out["ig_ms_256rows_32steps"] = round((time.perf_counter() - t) * 1e3, 3)
    x256 = torch.from_numpy(m.scaler.transform(Wt[:256])).to(DEVICE)
    with torch.no_grad():
        span = float((m.net(x256) - m.net(torch.zeros_like(x256))).abs().max())
    gap = float(np.abs(m.last_ig_delta).max())
    out["ig_completeness_gap_max"] = round(gap, 5)
    out["ig_abs_delta_f_max"] = round(span, 3)
    out["ig_rows_refined"] = int((m.last_ig_steps > m.params.ig_steps).sum())
    assert c.shape == (256, N_FEATURES) and gap < 0.05 + 0.02 * span, f"IG completeness gap {gap:.4f} too large"

    # save / load keeps the model on the GPU and the predictions
    with tempfile.TemporaryDirectory() as d:
        back = FailureModel.load(m.save(Path(d) / cls.kind))
    assert all(_on(q) for q in back.net.parameters()), f"reloaded model is not on {DEVICE}"
    out["reload_max_abs_diff"] = float(np.abs(back.predict_windows(Wt[:2048]) - p[:2048]).max())
    assert out["reload_max_abs_diff"] < 1e-5

    # GPU vs CPU agreement (cuDNN / TF32 may differ in the last digits only)
    cpu = copy.copy(m)
    cpu.params = copy.deepcopy(m.params)
    cpu.net = copy.deepcopy(m.net)
    cpu.to("cpu")
    out["cpu_gpu_max_abs_diff"] = float(np.abs(cpu.predict_windows(Wt[:2048]) - p[:2048]).max())
    assert out["cpu_gpu_max_abs_diff"] < 1e-3, "GPU and CPU predictions disagree"
    out["pos_weight"] = round(float(m.train_info["pos_weight"]), 3)
    return out


def main(argv: list[str]) -> int:
    global DEVICE
    t0 = time.perf_counter()
    n_train, n_test = 16_384, 32_768
    if "--cpu-dry-run" in argv:
        DEVICE, n_train, n_test = "cpu", 2_048, 4_096
    elif not torch.cuda.is_available():
        msg = f"CUDA is not available (torch {torch.__version__}, built for cuda {torch.version.cuda}); GPU check not run"
        print(f"gpu_check: {msg}")
        print("GPU_CHECK " + json.dumps({"ok": False, "skipped": True, "reason": msg}))
        return 3
    from aiops.failure.models.sequence import LSTMFailureModel, TransformerFailureModel
    torch.set_num_threads(2 if DEVICE == "cuda" else 1)
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu (dry run)"
    print(f"gpu_check: torch {torch.__version__} cuda {torch.version.cuda} cudnn {torch.backends.cudnn.version()} "
          f"on {name}")
    W, y = order_windows(n_train, seed=1)
    Wt, yt = order_windows(n_test, seed=2)
    report: dict = {"ok": True, "device": name, "torch": torch.__version__, "cuda": torch.version.cuda, "models": {}}
    for cls, extra in ((LSTMFailureModel, {"layers": 2}), (TransformerFailureModel, {"layers": 2, "heads": 4})):
        try:
            r = check_kind(cls, extra, W, y, Wt, yt)
            r["ok"] = True
        except Exception as exc:  # keep going so the JSON shows every model's outcome
            traceback.print_exc()
            r = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            report["ok"] = False
        report["models"][cls.kind] = r
        print(f"  {cls.kind:<12} " + ", ".join(f"{k}={v}" for k, v in r.items()))
    if DEVICE == "cuda":
        report["max_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    report["wall_s"] = round(time.perf_counter() - t0, 2)
    print("GPU_CHECK " + json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
