"""The online policies the trace replays share: baseline node scoring and the replay's result record."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["POLICIES", "choose_node", "ReplayResult"]

POLICIES = ("FirstFit", "BestFit", "DotProduct", "kube-MostAllocated", "kube-LeastAllocated")


def choose_node(policy: str, fits: np.ndarray, load: np.ndarray, cap: np.ndarray, dem: np.ndarray) -> int:
    """Pick among fitting nodes (indices ``fits``) by policy; scores use normalised resources."""
    if policy == "FirstFit":
        return int(fits[0])
    capf = cap[fits]
    with np.errstate(divide="ignore", invalid="ignore"):
        after = np.where(capf > 0, (load[fits] + dem) / np.where(capf > 0, capf, 1), 0.0)
        resid = np.where(capf > 0, (capf - load[fits]) / np.where(capf > 0, capf, 1), 0.0)
        dn = np.where(capf > 0, dem / np.where(capf > 0, capf, 1), 0.0)
    if policy == "BestFit":
        return int(fits[int(np.argmin((1 - after).sum(axis=1)))])
    if policy == "DotProduct":
        return int(fits[int(np.argmax((resid * dn).sum(axis=1)))])
    if policy == "kube-MostAllocated":
        return int(fits[int(np.argmax(after.mean(axis=1)))])
    if policy == "kube-LeastAllocated":
        return int(fits[int(np.argmin(after.mean(axis=1)))])
    raise ValueError(f"unknown policy {policy!r}")


@dataclass
class ReplayResult:
    policy: str
    placed: int
    failed: int
    peak_nodes: int
    mean_nodes: float
    stranded_pct: list[float]  # time-averaged free capacity on nodes in use, % of their capacity, per dim
    seconds: float
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

