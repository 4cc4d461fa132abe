"""LSTM and Transformer failure classifiers over windows of the last T feature vectors per entity.

They implement :class:`aiops.failure.models.FailureModel`, so they train, score, explain, save and
load exactly like the tree models. The difference is the input: ``X`` is a *long* frame with the
entity and time columns (``params.entity`` / ``params.time``) plus numeric features, one row per
entity and step; each row is scored from its own window (that row and the T-1 before it of the
same entity, see :mod:`aiops.failure.training.sequence_data`), so the answer for a row never depends on
later rows. To score "now", pass at least the last T steps of each target.

Inputs are put on one scale with a signed log1p (SMART counters span eight orders of magnitude)
followed by standardisation on the training windows; missing values become 0, i.e. the training
mean, which is also the integrated-gradients baseline.

Class imbalance: negatives may be subsampled (``neg_sample_rate``) and positives are up-weighted in
the loss (``pos_weight``, default n_neg/n_pos of the training sample); ``predict_proba`` undoes both
with the same prior correction as the tree models, so probabilities refer to the full population.

Explanations are integrated gradients (Sundararajan et al. 2017) of the failure logit, computed
directly: a midpoint Riemann sum over ``ig_steps`` points on the straight path from the baseline
to the input, attributions summed over the time axis per feature. They satisfy completeness —
per row, the attributions add up to logit(x) - logit(baseline) up to the Riemann error, which is
recorded in ``last_ig_delta``; rows whose gap exceeds ``0.01 + ig_tolerance * |f(x) - f(b)|``
(saturated, confident predictions) are recomputed with 4x more steps, up to ``ig_max_steps``.
Units are log-odds, like the XGBoost contributions.
"""
from __future__ import annotations

import copy
import io
import math
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from aiops.failure.errors import RETRAIN_HINT, UnsafeArtefact
from aiops.failure.models.base import FailureModel, prior_correct
from aiops.failure.models.sequence_nets import (LSTMNet, TransformerNet, WindowScaler, cpu_state, dequantized_copy,
                                                 integrated_gradients, quantize_network, resolve_device)
from aiops.failure.training.sequence_data import index_frame, sample_rows, windows_from_index

LABEL_LIKE = frozenset({"label", "failure", "failed", "tte", "follow_up", "censored"})
_PREDICT_CHUNK = 32_768


@dataclass
class SequenceParams:
    """Hyperparameters shared by both architectures (``layers``/``heads`` read per architecture)."""

    window: int = 14
    hidden: int = 64
    layers: int = 1
    heads: int = 4
    dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    pos_weight: float | None = None          # None: n_neg / n_pos of the training sample
    max_pos_weight: float = 200.0
    neg_sample_rate: float = 1.0
    val_fraction: float = 0.15
    patience: int = 6
    max_seconds: float | None = None
    log_transform: bool = True
    entity: str = "serial_number"
    time: str = "date"
    features: list[str] | None = None
    device: str = "cpu"                      # "cpu", "cuda", "cuda:N" or "auto" (cuda when available)
    ig_steps: int = 32
    ig_tolerance: float = 0.02               # refine rows whose completeness gap > 0.01 + tol * |f(x) - f(b)|
    ig_max_steps: int = 512
    threads: int = 2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score
    return float(average_precision_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


# ---------------------------------------------------------------- the model
class SequenceFailureModel(FailureModel):
    """Shared training, scoring, IG and persistence; subclasses pick the network."""

    kind: ClassVar[str] = ""
    net_cls: ClassVar[type[nn.Module]]
    default_layers: ClassVar[int] = 1

    def __init__(self, params: SequenceParams | None = None, **overrides: Any):
        base = params or SequenceParams(layers=self.default_layers)
        known = {f.name for f in fields(SequenceParams)}
        extra = {k: v for k, v in overrides.items() if k not in known}
        if extra:
            raise TypeError(f"unknown sequence-model parameters {sorted(extra)}")
        self.params = SequenceParams(**{**asdict(base), **overrides})
        self.net: nn.Module | None = None
        self.scaler: WindowScaler | None = None
        self.features: list[str] = []
        self.quantized = False
        self.variant = "float32"
        self.train_info: dict[str, Any] = {}
        self.last_ig_delta: np.ndarray | None = None
        self.last_ig_steps: np.ndarray | None = None
        self._float_twin: nn.Module | None = None
        self.float_source: dict[str, Any] | None = None  # INT8 models: the float weights they were quantised from

    # ---- plumbing
    @property
    def device(self) -> torch.device:
        return torch.device("cpu") if self.quantized else resolve_device(self.params.device)

    def _threads(self) -> None:
        if self.device.type == "cpu" and torch.get_num_threads() > self.params.threads:
            torch.set_num_threads(self.params.threads)

    def _arch(self) -> dict[str, Any]:
        p = self.params
        return {"n_features": len(self.features), "window": p.window, "hidden": p.hidden, "layers": p.layers,
                "heads": p.heads, "dropout": p.dropout}

    def build_net(self) -> nn.Module:
        """A fresh float network with this model's architecture (used by load and optimisation)."""
        return self.net_cls(**self._arch())

    def _feature_list(self, X: pd.DataFrame) -> list[str]:
        p = self.params
        if p.features is not None:
            return list(p.features)
        return [c for c in X.columns if c not in (p.entity, p.time) and c not in LABEL_LIKE
                and pd.api.types.is_numeric_dtype(X[c])]

    # ---- array API
    def fit_windows(self, W: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
                    features: list[str] | None = None) -> "SequenceFailureModel":
        """Train on prebuilt raw windows [N, T, F]; ``groups`` keeps an entity out of both train and validation."""
        p = self.params
        self._threads()
        torch.manual_seed(p.seed)
        rng = np.random.default_rng(p.seed)
        if W.ndim != 3 or W.shape[1] != p.window:
            raise ValueError(f"windows must be [N, {p.window}, F], got {W.shape}")
        self.features = list(features) if features is not None else (self.features or [f"f{i}" for i in range(W.shape[2])])
        if len(self.features) != W.shape[2]:
            raise ValueError("feature names do not match the window width")
        y = np.asarray(y).astype(np.float32)
        if y.sum() == 0 or y.sum() == len(y):
            raise ValueError("training data needs both classes")
        tr, va = self._val_split(y, groups, rng)
        self.scaler = WindowScaler.fit(W[tr], p.log_transform)
        dev = self.device
        Xt = torch.from_numpy(self.scaler.transform(W[tr])).to(dev)
        yt = torch.from_numpy(y[tr]).to(dev)
        Xv = torch.from_numpy(self.scaler.transform(W[va])) if len(va) else None
        n_pos = float(y[tr].sum())
        pw = p.pos_weight if p.pos_weight is not None else min((len(tr) - n_pos) / max(n_pos, 1.0), p.max_pos_weight)
        self.net = self.build_net().to(dev)
        self._float_twin = None
        opt = torch.optim.AdamW(self.net.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(p.epochs, 1))
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw, device=dev))
        best = (-math.inf, math.inf)
        best_state, bad, t0, epochs_run = None, 0, time.perf_counter(), 0
        history = []
        for epoch in range(p.epochs):
            self.net.train()
            perm = torch.from_numpy(rng.permutation(len(tr))).to(dev)
            tot = 0.0
            for s in range(0, len(perm), p.batch_size):
                b = perm[s:s + p.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(self.net(Xt[b]), yt[b])
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                tot += loss.detach().item() * len(b)
            sched.step()
            epochs_run = epoch + 1
            if Xv is not None:
                logits = self._logits(Xv)
                yv = y[va]
                vloss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(logits), torch.from_numpy(yv)))
                ap = _average_precision(yv, logits)
                score = (ap if not math.isnan(ap) else -vloss, -vloss)
                history.append({"epoch": epochs_run, "train_loss": tot / len(tr), "val_loss": vloss, "val_ap": ap})
                if score > best:
                    best, bad = score, 0
                    best_state = copy.deepcopy(self.net.state_dict())
                else:
                    bad += 1
                    if bad >= p.patience:
                        break
            if p.max_seconds is not None and time.perf_counter() - t0 > p.max_seconds:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        self.train_info = {"epochs_run": epochs_run, "pos_weight": pw, "n_train": int(len(tr)), "n_val": int(len(va)),
                           "n_pos_train": int(n_pos), "best_val_ap": None if best[0] == -math.inf else best[0],
                           "seconds": round(time.perf_counter() - t0, 2), "history": history[-5:]}
        return self

    def _val_split(self, y: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = len(y)
        if self.params.val_fraction <= 0:
            return np.arange(n), np.arange(0)
        if groups is None:
            groups = np.arange(n)
        codes, uniq = pd.factorize(np.asarray(groups))
        has_pos = np.zeros(len(uniq), bool)
        has_pos[codes[y > 0]] = True
        is_val = np.zeros(len(uniq), bool)
        for mask in (has_pos, ~has_pos):          # stratify by "group has a positive"
            ids = np.flatnonzero(mask)
            k = int(round(len(ids) * self.params.val_fraction))
            if 0 < k < len(ids):
                is_val[rng.choice(ids, k, replace=False)] = True
        va = np.flatnonzero(is_val[codes])
        tr = np.flatnonzero(~is_val[codes])
        if y[va].sum() == 0 or y[tr].sum() == 0:
            return np.arange(n), np.arange(0)
        return tr, va

    def _logits(self, Xs: torch.Tensor | np.ndarray, batch: int = 8192) -> np.ndarray:
        """Raw network logits for already-scaled windows."""
        if self.net is None:
            raise RuntimeError("model is not fitted")
        self._threads()
        self.net.eval()
        dev = self.device
        Xs = torch.as_tensor(Xs)
        out = []
        with torch.inference_mode():
            for s in range(0, len(Xs), batch):
                out.append(self.net(Xs[s:s + batch].to(dev)).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    def _correction(self) -> float:
        pw = float(self.train_info.get("pos_weight", 1.0))
        return self.params.neg_sample_rate / max(pw, 1e-12)

    def predict_windows(self, W: np.ndarray) -> np.ndarray:
        """Population-calibrated failure probability per raw window [N, T, F]."""
        if self.scaler is None:
            raise RuntimeError("model is not fitted")
        z = self._logits(self.scaler.transform(W))
        return prior_correct(1.0 / (1.0 + np.exp(-z.astype(np.float64))), self._correction())

    def contributions_windows(self, W: np.ndarray) -> np.ndarray:
        """IG attributions per feature (summed over time) for raw windows; sets ``last_ig_delta``."""
        if self.scaler is None:
            raise RuntimeError("model is not fitted")
        self._threads()
        net = self.explainer_net()
        dev = next(net.parameters()).device
        x = torch.from_numpy(self.scaler.transform(W)).to(dev)
        p = self.params
        steps = p.ig_steps
        attr, gap = integrated_gradients(net, x, steps=steps)
        used = torch.full((len(x),), steps, dtype=torch.int32)
        # Saturated logits (confident predictions) curve sharply along the path; the Riemann sum then
        # misses part of f(x) - f(b). Completeness tells us which rows, and only those are recomputed finer.
        span = (attr.sum(dim=(1, 2)) - gap).abs()
        bad = gap.abs() > 0.01 + p.ig_tolerance * span
        while bool(bad.any()) and steps < p.ig_max_steps:
            steps = min(steps * 4, p.ig_max_steps)
            rows = torch.nonzero(bad).squeeze(1)
            a2, g2 = integrated_gradients(net, x[rows], steps=steps)
            attr[rows], gap[rows] = a2, g2
            used[rows.cpu()] = steps
            bad = gap.abs() > 0.01 + p.ig_tolerance * span
        self.last_ig_delta = gap.cpu().numpy()
        self.last_ig_steps = used.numpy()
        return attr.sum(dim=1).cpu().numpy().astype(np.float64)

    def explainer_net(self) -> nn.Module:
        """The float network IG differentiates: the model itself, or for INT8 models a dequantised twin.

        Dynamic-quantised kernels have no input gradients; the twin carries the same int8-rounded
        weights in float, so attributions explain the weights actually served.
        """
        if not self.quantized:
            return self.net
        if self._float_twin is None:
            self._float_twin = dequantized_copy(self.net, self.build_net()).eval()
        return self._float_twin

    # ---- FailureModel API (long frame)
    def _windows_for(self, X: pd.DataFrame) -> tuple[Any, np.ndarray]:
        idx = index_frame(X, self.features, self.params.entity, self.params.time)
        inv = np.empty(idx.n, dtype=np.int64)
        inv[idx.order] = np.arange(idx.n)
        return idx, inv

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "SequenceFailureModel":
        """Train from a long frame: every row becomes a window of its entity's last T rows."""
        p = self.params
        self.features = self._feature_list(X)
        if not self.features:
            raise ValueError("no numeric feature columns besides the entity and time columns")
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError("y must align with the rows of X")
        idx, inv = self._windows_for(X)
        rows = sample_rows(y, p.neg_sample_rate, p.seed)
        W = windows_from_index(idx, p.window, inv[rows])
        groups = X[p.entity].to_numpy()[rows]
        return self.fit_windows(W, y[rows], groups, self.features)

    def _chunked(self, X: pd.DataFrame, fn) -> np.ndarray:
        idx, inv = self._windows_for(X)
        parts = [fn(windows_from_index(idx, self.params.window, inv[s:s + _PREDICT_CHUNK]))
                 for s in range(0, len(X), _PREDICT_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._chunked(X, self.predict_windows)

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        idx, inv = self._windows_for(X)
        c = self.contributions_windows(windows_from_index(idx, self.params.window, inv))
        return c, list(self.features)

    @property
    def feature_names(self) -> list[str]:
        return list(self.features)

    def to(self, device: str) -> "SequenceFailureModel":
        """Move a float model to another device (e.g. load on CPU, serve on cuda)."""
        if self.quantized and device != "cpu":
            raise ValueError("dynamic INT8 models run on CPU only")
        self.params.device = device
        if self.net is not None:
            self.net.to(resolve_device(device))
        return self

    # ---- persistence
    def _save_payload(self, folder: Path) -> dict[str, Any]:
        if self.net is None:
            raise RuntimeError("model is not fitted")
        if self.quantized and self.float_source is None:
            raise RuntimeError("an INT8 model is saved as the float weights it was quantised from; this one has none")
        buf = io.BytesIO()
        torch.save(self.float_source if self.quantized else cpu_state(self.net), buf)
        (folder / "network.pt").write_bytes(buf.getvalue())
        return {"params": asdict(self.params), "features": self.features, "scaler": self.scaler.to_json(),
                "quantized": self.quantized, "quantize_on_load": self.quantized, "variant": self.variant,
                "network": "network.pt", "train_info": self.train_info}

    @classmethod
    def _load_payload(cls, folder: Path, meta: dict[str, Any]) -> "SequenceFailureModel":
        params = SequenceParams(**meta["params"])
        if params.device != "cpu" and params.device != "auto" and not torch.cuda.is_available():
            params.device = "cpu"                 # trained on a GPU, loaded on a CPU replica
        m = cls(params)
        m.features = list(meta["features"])
        m.scaler = WindowScaler.from_json(meta["scaler"])
        m.train_info = dict(meta.get("train_info", {}))
        m.variant = meta.get("variant", "float32")
        if meta.get("quantized") and not meta.get("quantize_on_load"):
            raise UnsafeArtefact(f"{folder.name}: an INT8 checkpoint in the older pickled format; {RETRAIN_HINT}")
        # Always weights-only: INT8 models are stored as their float source and quantised again here
        # (dynamic quantisation is deterministic), since packed INT8 LSTM weights need full unpickling.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated")
            state = torch.load(io.BytesIO((folder / meta["network"]).read_bytes()), map_location="cpu",
                               weights_only=True)
        net = m.build_net()
        net.load_state_dict(state)
        if meta.get("quantized"):
            m.float_source, net, m.quantized = state, quantize_network(net), True
        m.net = net.to(m.device).eval()
        return m


class LSTMFailureModel(SequenceFailureModel):
    """Order-aware recurrent model: sees each step in sequence, so trends and jumps are learnable."""

    kind = "lstm"
    net_cls = LSTMNet
    default_layers = 1


class TransformerFailureModel(SequenceFailureModel):
    """Self-attention over the window with learned positions: any step can weigh any other."""

    kind = "transformer"
    net_cls = TransformerNet
    default_layers = 2
