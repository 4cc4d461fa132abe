"""The torch parts of the sequence failure models: networks, device choice, integrated gradients,
and the INT8 (de)quantisation both the models and the optimiser need (one module, so neither imports the other).
"""
from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_CLIP = 8.0

__all__ = ["WindowScaler", "resolve_device", "LSTMNet", "TransformerNet", "integrated_gradients", "cpu_state", "quantize_network",
           "dequantized_copy"]


# ---------------------------------------------------------------- scaling
@dataclass
class WindowScaler:
    """Signed log1p then standardisation fitted on training windows; NaN becomes the mean (0)."""

    mean: np.ndarray
    std: np.ndarray
    log: bool

    @classmethod
    def fit(cls, W: np.ndarray, log: bool) -> "WindowScaler":
        v = W.reshape(-1, W.shape[-1]).astype(np.float64)
        if log:
            v = np.sign(v) * np.log1p(np.abs(v))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nan_to_num(np.nanmean(v, axis=0))
            std = np.nan_to_num(np.nanstd(v, axis=0))
        return cls(mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32), log)

    def transform(self, W: np.ndarray) -> np.ndarray:
        v = W.astype(np.float32, copy=True)
        if self.log:
            v = np.sign(v) * np.log1p(np.abs(v))
        v = (v - self.mean) / self.std
        return np.clip(np.nan_to_num(v, nan=0.0, posinf=_CLIP, neginf=-_CLIP), -_CLIP, _CLIP).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "log": self.log}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "WindowScaler":
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32), bool(d["log"]))


def resolve_device(spec: str) -> torch.device:
    """"auto" picks cuda when available; an explicit cuda request without CUDA is an error, not a silent CPU run."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {spec!r} requested but CUDA is not available (use 'cpu' or 'auto')")
    return dev


# ---------------------------------------------------------------- networks
class LSTMNet(nn.Module):
    """LSTM over the window; the last hidden state feeds a small MLP head giving the failure logit."""

    def __init__(self, n_features: int, window: int, hidden: int = 64, layers: int = 1, dropout: float = 0.1, **_: Any):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.fc1 = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)
        return self.out(self.drop(F.relu(self.fc1(h[:, -1])))).squeeze(-1)


class _EncoderBlock(nn.Module):
    """Pre-norm self-attention block built from plain ``nn.Linear`` layers.

    ``nn.TransformerEncoderLayer`` hides its attention projections inside ``MultiheadAttention``
    (a raw parameter plus a non-quantisable Linear), so dynamic INT8 quantisation would skip most
    of its matrix multiplies; with explicit Linears every projection can be quantised and pruned.
    """

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        if d % heads:
            raise ValueError(f"hidden size {d} is not divisible by {heads} heads")
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 2 * d)
        self.ff2 = nn.Linear(2 * d, d)
        self.drop = nn.Dropout(dropout)
        self.p = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.ln2(x))))))


def _sinusoid(window: int, d: int) -> torch.Tensor:
    """Fixed-frequency position codes (Vaswani et al.) as the learnable positions' starting point.

    Small random starts leave position almost invisible next to the input projection, and with a
    few thousand windows the model never learns order; unit-scale codes make order usable at once.
    """
    pos = torch.arange(window, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10_000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(window, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : d // 2]
    return pe


class TransformerNet(nn.Module):
    """Input projection + learned positions + encoder blocks; reads out the newest step and the window mean."""

    def __init__(self, n_features: int, window: int, hidden: int = 64, layers: int = 2, heads: int = 4,
                 dropout: float = 0.1, **_: Any):
        super().__init__()
        self.inp = nn.Linear(n_features, hidden)
        self.pos = nn.Parameter(_sinusoid(window, hidden))
        self.blocks = nn.ModuleList([_EncoderBlock(hidden, heads, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x) + self.pos[-x.shape[1]:]
        for blk in self.blocks:
            h = blk(h)
        h = self.norm(h)
        z = torch.cat([h[:, -1], h.mean(dim=1)], dim=-1)
        return self.out(F.gelu(self.fc1(z))).squeeze(-1)


# ---------------------------------------------------------------- integrated gradients
def _no_cudnn_rnn(x: torch.Tensor):
    """cuDNN refuses RNN backward in eval mode; IG needs input gradients from the eval-mode net."""
    return torch.backends.cudnn.flags(enabled=False) if x.is_cuda else contextlib.nullcontext()


def integrated_gradients(net: nn.Module, x: torch.Tensor, baseline: torch.Tensor | None = None,
                         steps: int = 32, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """IG attributions [n, T, F] of the logit and the completeness gap per row.

    The gap is ``sum(attr) - (f(x) - f(baseline))``; it shrinks as ``steps`` grows and should be
    small next to ``|f(x) - f(baseline)|`` — a large gap means too few steps for this model.
    """
    net.eval()
    base = torch.zeros_like(x) if baseline is None else baseline.expand_as(x).to(x)
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps   # midpoint rule
    attrs, gaps = [], []
    with _no_cudnn_rnn(x):
        for s in range(0, len(x), chunk):
            xc, bc = x[s:s + chunk], base[s:s + chunk]
            diff = xc - bc
            grad_sum = torch.zeros_like(xc)
            for a in alphas:
                xi = (bc + a * diff).detach().requires_grad_(True)
                (g,) = torch.autograd.grad(net(xi).sum(), xi)
                grad_sum += g
            attr = diff * grad_sum / steps
            with torch.no_grad():
                gap = attr.sum(dim=(1, 2)) - (net(xc) - net(bc))
            attrs.append(attr.detach())
            gaps.append(gap)
    return torch.cat(attrs), torch.cat(gaps)


def cpu_state(net: nn.Module) -> dict[str, Any]:
    """state_dict on CPU, keeping its ``_metadata`` (quantised modules read their version from it)."""
    state = net.state_dict()
    meta = getattr(state, "_metadata", None)
    out = type(state)((k, v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in state.items())
    if meta is not None:
        out._metadata = meta
    return out


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.ao.quantization warns that it will move to torchao; the eager API still works in this torch."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"(?s).*quantize_per_tensor.*deprecated")
        yield


def quantize_network(net: nn.Module) -> nn.Module:
    """Dynamic INT8 copy of a float network (Linear and LSTM layers), on CPU."""
    from torch.ao.quantization import quantize_dynamic
    with _quiet():
        return quantize_dynamic(copy.deepcopy(net).cpu().eval(), {nn.Linear, nn.LSTM}, dtype=torch.qint8)


def dequantized_copy(qnet: nn.Module, float_net: nn.Module) -> nn.Module:
    """Float network holding a dynamic-INT8 network's (rounded) weights, for gradient-based attribution."""
    from torch.ao.nn.quantized import dynamic as nnqd
    q_state = qnet.state_dict()
    f_state = float_net.state_dict()
    float_net.load_state_dict({k: v for k, v in q_state.items() if k in f_state}, strict=False)
    for name, mod in qnet.named_modules():
        if isinstance(mod, nnqd.Linear):
            tgt = float_net.get_submodule(name)
            tgt.weight.data.copy_(mod.weight().dequantize())
            if mod.bias() is not None:
                tgt.bias.data.copy_(mod.bias())
        elif isinstance(mod, nnqd.LSTM):
            tgt = float_net.get_submodule(name)
            wb = mod._weight_bias()
            for k, w in {**wb["weight"], **wb["bias"]}.items():
                getattr(tgt, k).data.copy_(w.dequantize() if w.is_quantized else w)
    return float_net
