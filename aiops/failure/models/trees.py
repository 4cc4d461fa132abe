"""Tree-based failure classifiers: bagged XGBoost and a random forest, plus ``make_model``.

Class imbalance is handled as the interface describes (negative subsampling, prior correction);
explanations are XGBoost's exact TreeSHAP contributions and SHAP's TreeExplainer for the forest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from aiops.failure.errors import RETRAIN_HINT, UnsafeArtefact
from aiops.failure.models.base import FailureModel, Schema, prior_correct, subsample_negatives

__all__ = ["XGBoostParams", "XGBoostFailureModel", "ForestParams", "RandomForestFailureModel", "load_forest",
           "make_model"]


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
        self.schema: Schema | None = None

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
        self.schema = Schema.from_frame(X)
        Xc = self.schema.conform(X)
        self.boosters = []
        for bag in range(self.params.n_bags):
            idx = subsample_negatives(y, self.params.neg_sample_rate, self.params.seed + 1000 * bag)
            d = xgb.DMatrix(Xc.iloc[idx], y[idx], enable_categorical=True)
            self.boosters.append(xgb.train(self._xgb_params(bag), d, self.params.n_rounds))
        return self

    def _dmatrix(self, X: pd.DataFrame):
        import xgboost as xgb
        if self.schema is None:
            raise RuntimeError("model is not fitted")
        return xgb.DMatrix(self.schema.conform(X), enable_categorical=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_proba_members(X)[0]

    def predict_proba_members(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Combined probability and, with two or more bags, each bag's probability, from one booster pass
        (serving's confidence interval needs both; predicting twice would double the cost)."""
        d = self._dmatrix(X)
        margins = np.stack([b.predict(d, output_margin=True) for b in self.boosters])
        rate = self.params.neg_sample_rate / max(self.params.scale_pos_weight, 1e-12)
        # Average in log-odds space: bags differ mostly in offset, and this keeps ranking stable.
        p = prior_correct(expit(np.mean(margins, axis=0)), rate)
        if len(self.boosters) < 2:
            return p, None
        members = 1.0 / (1.0 + np.exp(-margins))
        return p, np.stack([prior_correct(row, rate) for row in members])

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
        m.schema = Schema.from_json(meta["schema"])
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
        self.schema: Schema | None = None

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
        self.schema = Schema.from_frame(X)
        idx = subsample_negatives(y, self.params.neg_sample_rate, self.params.seed)
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
        import skops.io as sio
        sio.dump(self.forest, folder / "forest.skops")
        return {"params": asdict(self.params), "schema": self.schema.to_json(), "forest": "forest.skops"}

    @classmethod
    def _load_payload(cls, folder: Path, meta: dict[str, Any]) -> "RandomForestFailureModel":
        m = cls(ForestParams(**meta["params"]))
        m.schema = Schema.from_json(meta["schema"])
        m.forest = load_forest(folder / str(meta["forest"]), len(m.schema.features))
        return m


_FOREST_TYPES = ["sklearn.tree._tree.Tree"]  # skops asks to trust it explicitly: node indices are not checked


def load_forest(path: Path, n_features: int) -> Any:
    """A random forest from a skops file (no pickle), with every tree's node indices bounds-checked,
    which skops leaves to the caller for ``sklearn.tree._tree.Tree``."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException
    if path.suffix != ".skops":
        raise UnsafeArtefact(f"{path.name} is a pickle-based model from an older version: {RETRAIN_HINT}")
    try:
        forest = sio.load(path, trusted=_FOREST_TYPES)
    except UntrustedTypesFoundException as exc:
        raise UnsafeArtefact(f"{path.name} holds types that are not allowed ({exc}); {RETRAIN_HINT}") from None
    if type(forest).__name__ != "RandomForestClassifier":
        raise UnsafeArtefact(f"{path.name} holds a {type(forest).__name__}, not a random forest")
    for est in forest.estimators_:
        t = est.tree_
        n = t.node_count
        kids = np.concatenate([t.children_left, t.children_right])
        leaf = t.children_left < 0
        if (kids < -1).any() or (kids >= n).any() or (t.feature[~leaf] < 0).any() or (t.feature >= n_features).any():
            raise UnsafeArtefact(f"{path.name} holds a tree with out-of-range node or feature indices")
    return forest


def make_model(kind: str, **params: Any) -> FailureModel:
    """Build a registered model kind with keyword hyperparameters (from configs/failure.yaml)."""
    cls = FailureModel.registry.get(kind)
    if cls is None:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(FailureModel.registry)}")
    return cls(**params)
