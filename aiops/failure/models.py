"""Failure classifiers behind one interface: fit / predict_proba / explain / save / load.

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

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit

UNKNOWN = "__unknown__"


@dataclass(frozen=True)
class Factor:
    """One feature's contribution to a prediction."""

    feature: str
    value: float | str | None
    contribution: float


def _subsample(y: np.ndarray, rate: float, seed: int) -> np.ndarray:
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


class _Schema:
    """Feature names, order and categorical vocabularies captured at fit time."""

    def __init__(self, features: list[str], categories: dict[str, list[str]]):
        self.features = features
        self.categories = categories

    @classmethod
    def from_frame(cls, X: pd.DataFrame) -> "_Schema":
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
    def from_json(cls, d: dict[str, Any]) -> "_Schema":
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
            out.append([Factor(names[j], _plain(row[names[j]]), float(contrib[i, j])) for j in order])
        return out

    def save(self, folder: Path | str) -> Path:
        """Write the model to a folder (meta.json plus the library's own format)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, **self._save_payload(folder)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=_plain))
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


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v if isinstance(v, (int, float, str, type(None))) else str(v)


@dataclass
class XGBoostParams:
    """Hyperparameters; defaults were chosen by drive-grouped CV on the Backblaze sample."""

    n_rounds: int = 400
    eta: float = 0.03
    max_depth: int = 5
    min_child_weight: float = 2.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 5.0
    scale_pos_weight: float = 1.0
    neg_sample_rate: float = 0.1
    n_bags: int = 1
    nthread: int = 2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class XGBoostFailureModel(FailureModel):
    """Gradient-boosted trees; ``n_bags`` > 1 averages boosters over independent negative samples."""

    kind = "xgboost"

    def __init__(self, params: XGBoostParams | None = None, **overrides: Any):
        base = params or XGBoostParams()
        self.params = XGBoostParams(**{**asdict(base), **overrides})
        self.boosters: list[Any] = []
        self.schema: _Schema | None = None

    def _xgb_params(self, bag: int) -> dict[str, Any]:
        p = self.params
        return {"objective": "binary:logistic", "tree_method": "hist", "eta": p.eta, "max_depth": p.max_depth,
                "min_child_weight": p.min_child_weight, "subsample": p.subsample,
                "colsample_bytree": p.colsample_bytree, "lambda": p.reg_lambda,
                "scale_pos_weight": p.scale_pos_weight, "nthread": p.nthread, "seed": p.seed + bag,
                "max_cat_to_onehot": 1, **p.extra}

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "XGBoostFailureModel":
        import xgboost as xgb
        y = np.asarray(y).astype(np.float32)
        self.schema = _Schema.from_frame(X)
        Xc = self.schema.conform(X)
        self.boosters = []
        for bag in range(self.params.n_bags):
            idx = _subsample(y, self.params.neg_sample_rate, self.params.seed + 1000 * bag)
            d = xgb.DMatrix(Xc.iloc[idx], y[idx], enable_categorical=True)
            self.boosters.append(xgb.train(self._xgb_params(bag), d, self.params.n_rounds))
        return self

    def _dmatrix(self, X: pd.DataFrame):
        import xgboost as xgb
        if self.schema is None:
            raise RuntimeError("model is not fitted")
        return xgb.DMatrix(self.schema.conform(X), enable_categorical=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        d = self._dmatrix(X)
        # Average in log-odds space: bags differ mostly in offset, and this keeps ranking stable.
        margin = np.mean([b.predict(d, output_margin=True) for b in self.boosters], axis=0)
        p = expit(margin)
        return prior_correct(p, self.params.neg_sample_rate / max(self.params.scale_pos_weight, 1e-12))

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        d = self._dmatrix(X)
        c = np.mean([b.predict(d, pred_contribs=True) for b in self.boosters], axis=0)
        return c[:, :-1], list(self.schema.features)  # last column is the bias term

    @property
    def feature_names(self) -> list[str]:
        return list(self.schema.features) if self.schema else []

    def feature_importance(self) -> dict[str, float]:
        """Mean total gain per feature across bags (for reports)."""
        tot: dict[str, float] = {}
        for b in self.boosters:
            for k, v in b.get_score(importance_type="total_gain").items():
                tot[k] = tot.get(k, 0.0) + v / len(self.boosters)
        return dict(sorted(tot.items(), key=lambda kv: -kv[1]))

    def _save_payload(self, folder: Path) -> dict[str, Any]:
        files = []
        for i, b in enumerate(self.boosters):
            name = f"booster_{i}.ubj"
            b.save_model(str(folder / name))
            files.append(name)
        return {"params": asdict(self.params), "schema": self.schema.to_json(), "boosters": files}

    @classmethod
    def _load_payload(cls, folder: Path, meta: dict[str, Any]) -> "XGBoostFailureModel":
        import xgboost as xgb
        m = cls(XGBoostParams(**meta["params"]))
        m.schema = _Schema.from_json(meta["schema"])
        m.boosters = []
        for name in meta["boosters"]:
            b = xgb.Booster()
            b.load_model(str(folder / name))
            m.boosters.append(b)
        return m


@dataclass
class ForestParams:
    n_estimators: int = 300
    min_samples_leaf: int = 5
    max_features: str | float = "sqrt"
    max_depth: int | None = None
    neg_sample_rate: float = 0.1
    n_jobs: int = 2
    seed: int = 0


class RandomForestFailureModel(FailureModel):
    """Random forest on ordinal-coded categoricals; missing values go to sklearn's native NaN splits."""

    kind = "random_forest"

    def __init__(self, params: ForestParams | None = None, **overrides: Any):
        base = params or ForestParams()
        self.params = ForestParams(**{**asdict(base), **overrides})
        self.forest: Any = None
        self.schema: _Schema | None = None

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        if self.schema is None:
            raise RuntimeError("model is not fitted")
        Xc = self.schema.conform(X)
        for c in self.schema.categories:
            Xc[c] = Xc[c].cat.codes.astype(np.float32)
        return Xc.to_numpy(dtype=np.float32)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "RandomForestFailureModel":
        from sklearn.ensemble import RandomForestClassifier
        y = np.asarray(y).astype(int)
        self.schema = _Schema.from_frame(X)
        idx = _subsample(y, self.params.neg_sample_rate, self.params.seed)
        M = self._matrix(X.iloc[idx])
        self.forest = RandomForestClassifier(
            n_estimators=self.params.n_estimators, min_samples_leaf=self.params.min_samples_leaf,
            max_features=self.params.max_features, max_depth=self.params.max_depth,
            n_jobs=self.params.n_jobs, random_state=self.params.seed, class_weight="balanced_subsample")
        self.forest.fit(M, y[idx])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.forest.predict_proba(self._matrix(X))[:, 1]

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        import shap
        sv = shap.TreeExplainer(self.forest).shap_values(self._matrix(X), check_additivity=False)
        sv = np.asarray(sv)
        if sv.ndim == 3:  # (rows, features, classes) in recent shap; take the failure class
            sv = sv[..., 1] if sv.shape[-1] == 2 else sv[1]
        return sv, list(self.schema.features)

    @property
    def feature_names(self) -> list[str]:
        return list(self.schema.features) if self.schema else []

    def _save_payload(self, folder: Path) -> dict[str, Any]:
        import joblib
        joblib.dump(self.forest, folder / "forest.joblib", compress=3)
        return {"params": asdict(self.params), "schema": self.schema.to_json(), "forest": "forest.joblib"}

    @classmethod
    def _load_payload(cls, folder: Path, meta: dict[str, Any]) -> "RandomForestFailureModel":
        import joblib
        m = cls(ForestParams(**meta["params"]))
        m.schema = _Schema.from_json(meta["schema"])
        m.forest = joblib.load(folder / meta["forest"])
        return m


def make_model(kind: str, **params: Any) -> FailureModel:
    """Build a registered model kind with keyword hyperparameters (from configs/failure.yaml)."""
    cls = FailureModel.registry.get(kind)
    if cls is None:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(FailureModel.registry)}")
    return cls(**params)
