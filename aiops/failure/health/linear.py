"""Standardised PCA as a per-row anomaly statistic: the linear floor that server metrics reward.

Metrics of one server move together (load drives CPU, network and disk at once), so a row that
breaks the usual correlations leaves a large reconstruction error (SPE, the squared prediction
error outside the principal subspace) even when every metric is inside its own range; a row that
keeps the correlations but goes far along them shows in Hotelling's T^2 inside the subspace.

Guards: a metric's scale is floored at a share of its training range (a near-constant metric's
jitter would otherwise blow up), and a constant metric gets a scale from its level (or 1), so
every statistic stays finite. Missing values sit at the training centre.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    """Fitted centre, scale and principal axes of the standardised training rows."""

    center: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # (k, d) principal axes
    variances: np.ndarray  # (k,) variance along each axis

    @property
    def n_metrics(self) -> int:
        return int(self.center.shape[0])

    def standardise(self, X: np.ndarray) -> np.ndarray:
        """Rows in training units; non-finite values become the centre (0)."""
        Z = (np.asarray(X, dtype=float) - self.center) / self.scale
        return np.where(np.isfinite(Z), Z, 0.0)

    def parts(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-metric residuals (n, d) and per-axis standardised scores (n, k) of standardised rows."""
        P = Z @ self.components.T
        R = Z - P @ self.components
        return R, P / np.sqrt(self.variances)


def fit_linear(X: np.ndarray, variance: float = 0.9, scale_floor: float = 0.05) -> LinearModel:
    """Standardise on `X` (scale floored at `scale_floor` x range) and keep `variance` of it in PCA."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError("need a 2-D training matrix with at least 3 rows")
    with np.errstate(all="ignore"):
        center = np.nanmean(X, axis=0)
        spread = np.nanstd(X, axis=0)
        span = np.nanmax(X, axis=0) - np.nanmin(X, axis=0)
    center = np.where(np.isfinite(center), center, 0.0)
    spread = np.where(np.isfinite(spread), spread, 0.0)
    span = np.where(np.isfinite(span), span, 0.0)
    scale = np.maximum(spread, scale_floor * span)
    # constant metric: a change is measured relative to its level (1 for a zero level)
    scale = np.where(scale > 0, scale, np.maximum(np.abs(center), 1.0))
    model = LinearModel(center, scale, np.zeros((0, X.shape[1])), np.zeros(0))
    Z = model.standardise(X)
    Z = Z - Z.mean(axis=0)
    _, sing, vt = np.linalg.svd(Z, full_matrices=False)
    var = sing**2 / max(len(Z) - 1, 1)
    total = float(var.sum())
    if total <= 0:
        return model
    k = int(np.searchsorted(np.cumsum(var) / total, variance - 1e-12) + 1)
    k = min(k, int((var > 1e-12 * total).sum()))
    return LinearModel(center, scale, vt[:k], var[:k])


def ar_coefficients(Z: np.ndarray) -> np.ndarray:
    """Per-metric lag-1 autoregressive coefficient of standardised rows (least squares, in [-1, 1]).

    The one-step residual ``z[t] - phi z[t-1]`` is the smallest sequence model there is: it sees a
    metric that turns jumpy or noisy while staying inside its usual range and correlations, which
    the linear model (one row at a time) cannot.
    """
    Z = np.asarray(Z, dtype=float)
    num = (Z[1:] * Z[:-1]).sum(axis=0)
    den = (Z[:-1] ** 2).sum(axis=0)
    return np.clip(np.divide(num, den, out=np.zeros_like(num), where=den > 0), -1.0, 1.0)
