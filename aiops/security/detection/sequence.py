"""A small torch sequence model over per-host flow sequences.

Why a sequence model next to the IsolationForest: the forest scores each flow alone, so a
flow that is ordinary fleet-wide but out of character *for this host right now* (a burst to a
new port, an upload after a quiet run) looks normal to it. A GRU reads the host's last
``seq_len`` flows and predicts the next flow's bytes out (Gaussian mean/variance) and its
destination-port class; the anomaly score is the negative log-likelihood of what happened,
turned into ``1 − p`` by split-conformal calibration on held-out hosts' sequences, exactly as
the forest's. Training is a few CPU seconds on the warm-up window.
"""
from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiops.security.correlation.entities import EntityResolver, is_external
from aiops.security.correlation.signals import Signal
from aiops.security.detection.common import conformal_p, flow_port
from aiops.security.events import SecurityEvent

PORT_CLASSES = (22, 53, 80, 443, 3389, 445, 5432, 6379, 8080)  # last class = other


def _port_class(p: int) -> int:
    try:
        return PORT_CLASSES.index(p)
    except ValueError:
        return len(PORT_CLASSES)


def _vec(e: SecurityEvent) -> tuple[list[float], int, float]:
    f = e.fields
    lo = math.log1p(max(float(f.get("bytes_out") or f.get("orig_bytes") or 0), 0.0))
    li = math.log1p(max(float(f.get("bytes_in") or f.get("resp_bytes") or 0), 0.0))
    pc = _port_class(flow_port(e))
    onehot = [0.0] * (len(PORT_CLASSES) + 1)
    onehot[pc] = 1.0
    return [lo / 20.0, li / 20.0, 1.0 if is_external(e.dst_ip) else 0.0, *onehot], pc, lo


@dataclass
class SequenceConfig:
    seq_len: int = 16
    hidden: int = 32
    epochs: int = 6
    lr: float = 3e-3
    seed: int = 0
    max_train_windows: int = 6_000
    threads: int = 1  # the box is shared; one intra-op thread is also fastest for a model this small


class FlowSequenceDetector:
    """GRU next-flow model per host; fit on warm-up flows, then score flows as they arrive."""

    def __init__(self, config: SequenceConfig | None = None, resolver: EntityResolver | None = None) -> None:
        self.cfg = config or SequenceConfig()
        self.resolver = resolver or EntityResolver()
        self.model: Any = None
        self.calib: np.ndarray | None = None
        self._hist: dict[str, deque[list[float]]] = defaultdict(lambda: deque(maxlen=self.cfg.seq_len))
        self.train_seconds = 0.0

    def _windows(self, flows: list[SecurityEvent]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        by_host: dict[str, list[tuple[list[float], int, float]]] = defaultdict(list)
        for e in flows:
            if e.host:
                by_host[e.host].append(_vec(e))
        X, yl, yp, host_id = [], [], [], []
        L = self.cfg.seq_len
        for hi, (h, rows) in enumerate(sorted(by_host.items())):
            for k in range(L, len(rows)):
                X.append([r[0] for r in rows[k - L:k]])
                yl.append(rows[k][2] / 20.0)
                yp.append(rows[k][1])
                host_id.append(hi)
        return (np.asarray(X, np.float32), np.asarray(yl, np.float32), np.asarray(yp, np.int64), np.asarray(host_id))

    def _net(self) -> Any:
        import torch
        from torch import nn

        d = 3 + len(PORT_CLASSES) + 1

        class Net(nn.Module):
            def __init__(self, hidden: int) -> None:
                super().__init__()
                self.gru = nn.GRU(d, hidden, batch_first=True)
                self.head = nn.Linear(hidden, 2 + len(PORT_CLASSES) + 1)

            def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
                _, h = self.gru(x)
                o = self.head(h[-1])
                return o[:, 0], o[:, 1].clamp(-6, 4), o[:, 2:]

        return Net(self.cfg.hidden)

    def _nll(self, x: np.ndarray, yl: np.ndarray, yp: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            mu, logv, logits = self.model(torch.from_numpy(x))
            yl_t, yp_t = torch.from_numpy(yl), torch.from_numpy(yp)
            g = 0.5 * (logv + (yl_t - mu) ** 2 / logv.exp())
            c = torch.nn.functional.cross_entropy(logits, yp_t, reduction="none")
            return (g + c).numpy()

    def fit(self, flows: list[SecurityEvent]) -> dict[str, float]:
        """Train on half of the hosts, calibrate on the other half (split conformal across hosts)."""
        import time

        import torch

        t0 = time.perf_counter()
        torch.set_num_threads(self.cfg.threads)
        torch.manual_seed(self.cfg.seed)
        X, yl, yp, hid = self._windows(flows)
        if len(X) < 50:
            raise ValueError(f"too few per-host windows to train ({len(X)})")
        cal_mask = hid % 2 == 1
        tr = np.flatnonzero(~cal_mask)
        rng = np.random.default_rng(self.cfg.seed)
        if tr.size > self.cfg.max_train_windows:
            tr = rng.choice(tr, self.cfg.max_train_windows, replace=False)
        self.model = self._net()
        opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        xt, ylt, ypt = torch.from_numpy(X[tr]), torch.from_numpy(yl[tr]), torch.from_numpy(yp[tr])
        for _ in range(self.cfg.epochs):
            perm = torch.randperm(len(tr))
            for b in range(0, len(tr), 256):
                i = perm[b:b + 256]
                mu, logv, logits = self.model(xt[i])
                loss = (0.5 * (logv + (ylt[i] - mu) ** 2 / logv.exp())).mean() + \
                    torch.nn.functional.cross_entropy(logits, ypt[i])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model.eval()
        cal = np.flatnonzero(cal_mask)
        self.calib = np.sort(self._nll(X[cal], yl[cal], yp[cal]))
        for e in flows:
            if e.host:
                self._hist[e.host].append(_vec(e)[0])
        self.train_seconds = time.perf_counter() - t0
        return {"train_windows": float(tr.size), "calib_windows": float(cal.size), "seconds": self.train_seconds}

    def score(self, evs: list[SecurityEvent], min_score: float = 0.0, learn: bool = True) -> list[Signal | None]:
        """One entry per flow (None when the host has too little history or the score is below min_score)."""
        assert self.model is not None and self.calib is not None
        L = self.cfg.seq_len
        idx, X, yl, yp = [], [], [], []
        vecs = []
        for k, e in enumerate(evs):
            v, pc, lo = _vec(e)
            vecs.append(v)
            h = self._hist.get(e.host) if e.host else None
            if h is not None and len(h) == L:
                idx.append(k)
                X.append(list(h))
                yl.append(lo / 20.0)
                yp.append(pc)
            if learn and e.host:
                self._hist[e.host].append(v)  # after capture: a later flow in the batch sees this one
        out: list[Signal | None] = [None] * len(evs)
        if not idx:
            return out
        nll = self._nll(np.asarray(X, np.float32), np.asarray(yl, np.float32), np.asarray(yp, np.int64))
        p = conformal_p(self.calib, nll)
        for j, k in enumerate(idx):
            s = 1.0 - float(p[j])
            if s < min_score:
                continue
            e = evs[k]
            ents, edges = self.resolver.nodes(e)
            out[k] = Signal(ts=e.timestamp, kind="sequence", name="flow_sequence_anomaly", score=s, entities=ents, edges=edges,
                            severity="high" if s >= 0.999 else "medium",
                            summary=f"flow out of character for {e.host} (NLL {nll[j]:.2f})",
                            detail={"nll": float(nll[j]), "p": float(p[j])})
        return out
