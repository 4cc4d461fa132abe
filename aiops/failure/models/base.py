"""The failure-classifier interface (fit / predict_proba / explain / save / load) and its shared parts.

Both models take a pandas feature frame (numeric columns plus optional string categoricals
such as the drive model) and keep the category vocabulary seen in training, so scoring a
frame with an unseen model string maps it to "unknown" rather than shifting codes.

Class imbalance: negatives are subsampled for training (``neg_sample_rate``) — with ~1 positive
per 1000 drive-days this costs little signal and makes fitting ~10x cheaper — and the
probabilities are mapped back to the original base rate with the standard prior correction,
so ``predict_proba`` stays calibrated to the full population.

Explanations are real attributions: XGBoost's exact TreeSHAP contributions (``pred_contribs``)
and SHAP's TreeExplainer for the random forest, reported per feature in log-odds (XGBoost) or
probability (forest) units, largest push towards failure first.
"""
from __future__ import annotations

__all__ = ["UNKNOWN", "Factor", "FailureModel", "Schema", "plain_value", "prior_correct", "subsample_negatives"]

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

UNKNOWN = "__unknown__"


@dataclass(frozen=True)
class Factor:
    """One feature's contribution to a prediction."""

    feature: str
    value: float | str | None
    contribution: float


def subsample_negatives(y: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """Indices keeping every positive and a ``rate`` fraction of negatives."""
    if rate >= 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    return np.flatnonzero((y > 0) | (rng.random(len(y)) < rate))


def prior_correct(p: np.ndarray, neg_sample_rate: float) -> np.ndarray:
    """Undo negative subsampling: odds shrink by the sampling rate (Elkan 2001)."""
    if neg_sample_rate >= 1.0:
        return p
    odds = p / np.clip(1.0 - p, 1e-12, None)
    odds *= neg_sample_rate
    return odds / (1.0 + odds)


class Schema:
    """Feature names, order and categorical vocabularies captured at fit time."""

    def __init__(self, features: list[str], categories: dict[str, list[str]]):
        self.features = features
        self.categories = categories

    @classmethod
    def from_frame(cls, X: pd.DataFrame) -> "Schema":
        cats = {}
        for c in X.columns:
            if not pd.api.types.is_numeric_dtype(X[c]):
                vals = sorted({str(v) for v in X[c].dropna().unique()})
                cats[c] = vals + [UNKNOWN]
        return cls(list(X.columns), cats)

    def conform(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise KeyError(f"feature frame lacks {missing}")
        out = X[self.features].copy()
        for c, vocab in self.categories.items():
            s = out[c].astype(str)
            s = s.where(s.isin(vocab), UNKNOWN)
            out[c] = pd.Categorical(s, categories=vocab)
        for c in self.features:
            if c not in self.categories:
                out[c] = pd.to_numeric(out[c], errors="coerce").astype(np.float32)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"features": self.features, "categories": self.categories}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Schema":
        return cls(list(d["features"]), {k: list(v) for k, v in d["categories"].items()})


class FailureModel(ABC):
    """Common contract for failure classifiers; subclasses register under ``kind``."""

    kind: ClassVar[str]
    registry: ClassVar[dict[str, type["FailureModel"]]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if getattr(cls, "kind", None):
            FailureModel.registry[cls.kind] = cls

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "FailureModel": ...

    @abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of failure within the horizon, one per row."""

    @abstractmethod
    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """(n_rows, n_features) attribution matrix and the feature names."""

    @abstractmethod
    def _save_payload(self, folder: Path) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def _load_payload(cls, folder: Path, meta: dict[str, Any]) -> "FailureModel": ...

    @property
    @abstractmethod
    def feature_names(self) -> list[str]: ...

    def explain(self, X: pd.DataFrame, top_k: int = 5) -> list[list[Factor]]:
        """Top factors per row, largest contribution towards failure first."""
        contrib, names = self.contributions(X)
        out = []
        for i in range(len(X)):
            order = np.argsort(-contrib[i])[:top_k]
            row = X.iloc[i]
            out.append([Factor(names[j], plain_value(row[names[j]]), float(contrib[i, j])) for j in order])
        return out

    def save(self, folder: Path | str) -> Path:
        """Write the model to a folder (meta.json plus the library's own format)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, **self._save_payload(folder)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=plain_value))
        return folder

    @staticmethod
    def load(folder: Path | str) -> "FailureModel":
        """Load any registered model kind from a folder written by ``save``."""
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        cls = FailureModel.registry.get(meta.get("kind", ""))
        if cls is None:
            raise ValueError(f"{folder}: unknown model kind {meta.get('kind')!r}")
        return cls._load_payload(folder, meta)


def plain_value(v: Any) -> Any:
    """A JSON-safe scalar for a frame cell (numpy scalars, NaN and NA become plain values or None)."""
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v if isinstance(v, (int, float, str, type(None))) else str(v)
