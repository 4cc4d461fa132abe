"""Factor catalog (``configs/factors.yaml``): schema, validation on load, and the engine
that turns it into a nodes × factors matrix.

Each factor names a registered vectorised calculator plus params; loading checks the
calculator exists and accepts those params, so a typo fails at start-up with the
factor's id and the offending key rather than at the first request.
"""
from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiops.placement.factors.builtin import get_calculator
from aiops.placement.factors.registry import FactorContext
from aiops.config_io import CONFIG_DIR, config_path, load_yaml, validate_config

DEFAULT_CATALOG = CONFIG_DIR / "factors.yaml"

Category = Literal["resource_utilization", "performance", "cost", "reliability", "security",
                   "network", "storage", "compliance", "energy", "geographic"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
IMPORTANCE_BOUNDS: dict[str, tuple[float, float]] = {
    # learning may move a weight within [lo, hi] × its catalog weight
    "critical": (0.8, 1.5), "high": (0.6, 2.0), "medium": (0.4, 2.5), "low": (0.25, 3.0),
}
_FREQ = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_FREQ_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalculatorRef(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class Normalization(_Strict):
    """Fixed bounds for min-max scaling; without them the candidates' own range is used."""

    lo: float
    hi: float

    @model_validator(mode="after")
    def _order(self) -> "Normalization":
        if not self.hi > self.lo:
            raise ValueError(f"normalize.hi ({self.hi}) must exceed normalize.lo ({self.lo})")
        return self


class FactorSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=3)
    category: Category
    weight: float = Field(ge=0, le=100)
    importance: Literal["critical", "high", "medium", "low"]
    scope: Literal["node", "cluster", "global"]
    update_frequency: str
    direction: Literal["higher_is_better", "higher_is_worse"]
    description: str = Field(min_length=10)
    unit: str = ""
    calculator: CalculatorRef
    normalize: Normalization | None = None

    @field_validator("update_frequency")
    @classmethod
    def _freq(cls, v: str) -> str:
        if not _FREQ.match(v.strip()):
            raise ValueError(f"update_frequency {v!r} must look like '30s', '5m', '1h' or '1d'")
        return v.strip()

    @property
    def update_seconds(self) -> float:
        num, unit = _FREQ.match(self.update_frequency).groups()  # type: ignore[union-attr]
        return float(num) * _FREQ_S[unit]

    @model_validator(mode="after")
    def _calculator(self) -> "FactorSpec":
        try:
            calc = get_calculator(self.calculator.name)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        calc.validate_params(self.calculator.params)
        return self


class CategorySpec(_Strict):
    description: str
    weight: float = Field(1.0, ge=0, le=10, description="multiplier applied to the category's factor weights")


class FactorCatalog(_Strict):
    version: int = Field(ge=1)
    categories: dict[Category, CategorySpec]
    factors: list[FactorSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "FactorCatalog":
        seen: set[str] = set()
        for f in self.factors:
            if f.id in seen:
                raise ValueError(f"duplicate factor id {f.id!r}")
            seen.add(f.id)
        missing = {f.category for f in self.factors} - set(self.categories)
        if missing:
            raise ValueError(f"factors use categories not declared under 'categories': {sorted(missing)}")
        return self

    def by_id(self) -> dict[str, FactorSpec]:
        return {f.id: f for f in self.factors}


def parse_catalog(data: Any, origin: str = "<factors>") -> FactorCatalog:
    """Validate a mapping as a catalog; ConfigError lists every problem with its factor id."""
    factors = (data.get("factors") or []) if isinstance(data, dict) else []

    def with_factor_id(loc: list[Any]) -> list[Any]:
        if len(loc) >= 2 and loc[0] == "factors" and isinstance(loc[1], int) and loc[1] < len(factors):
            fid = factors[loc[1]].get("id", "?") if isinstance(factors[loc[1]], dict) else "?"
            loc[1] = f"{loc[1]}({fid})"
        return loc

    return validate_config(FactorCatalog, data, origin, "factor catalog", with_factor_id)


def load_catalog(path: Path | str | None = None) -> FactorCatalog:
    p = config_path(path, Path.cwd()) if path else DEFAULT_CATALOG
    return parse_catalog(load_yaml(p), str(p))


def normalise_rows(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, higher_better: np.ndarray,
                   fill: np.ndarray | None = None) -> np.ndarray:
    """Min-max scale each row of a factor-major matrix to [0, 1], 1 = good, as one fused
    affine pass. NaN (unknown) becomes ``fill`` (normalised units) or the row's median."""
    span = hi - lo
    flat = ~(span > 1e-12)
    inv = np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, span))
    a = np.where(higher_better, inv, -inv)
    b = np.where(flat, 0.5, np.where(higher_better, -lo * inv, 1.0 + lo * inv))
    xn = x * a[:, None]
    xn += b[:, None]
    np.clip(xn, 0.0, 1.0, out=xn)
    nan_rows = np.flatnonzero(np.isnan(xn).any(axis=1)) if xn.size else np.zeros(0, dtype=np.int64)
    for r in nan_rows:
        row = xn[r]
        miss = np.isnan(row)
        if fill is not None:
            row[miss] = fill[r]
        else:
            row[miss] = np.median(row[~miss]) if (~miss).any() else 0.5
    return xn


def row_bounds(x: np.ndarray, fixed: np.ndarray, lo_fixed: np.ndarray, hi_fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Catalog bounds where fixed, else each row's own finite min and max."""
    if x.shape[1] == 0:
        return lo_fixed.copy(), hi_fixed.copy()
    lo = x.min(axis=1)
    hi = x.max(axis=1)
    for r in np.flatnonzero(np.isnan(lo)):
        fin = x[r][np.isfinite(x[r])]
        lo[r], hi[r] = (fin.min(), fin.max()) if fin.size else (0.0, 0.0)
    return np.where(fixed, lo_fixed, lo), np.where(fixed, hi_fixed, hi)


@dataclass
class StaticBlock:
    """Snapshot-only factors for every node of one inventory snapshot, normalised against
    the whole fleet, with per-weight-vector partial scores cached (few distinct vectors)."""

    raw: np.ndarray                       # S × N
    xn: np.ndarray                        # S × N in [0, 1], 1 = good
    lo: np.ndarray                        # S fleet (or fixed) bounds
    hi: np.ndarray
    fill: np.ndarray                      # S normalised value used for unknowns (fleet median)
    unc: dict[int, np.ndarray]            # row -> per-node calculator uncertainty
    raw_mean: np.ndarray                  # S fleet mean of the raw values (explanations)
    xn_mean: np.ndarray                   # S fleet mean of the normalised values
    partials: dict[bytes, np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def partial(self, w_static: np.ndarray) -> np.ndarray:
        """Weighted sum of the static rows for every node (cached per weight vector)."""
        key = w_static.tobytes()
        got = self.partials.get(key)
        if got is None:
            got = np.einsum("f,fn->n", w_static, self.xn)
            with self._lock:
                if len(self.partials) >= 16:
                    self.partials.pop(next(iter(self.partials)))
                self.partials[key] = got
        return got


@dataclass(frozen=True)
class FactorMatrix:
    """Factor values for one candidate set: the snapshot block (all nodes) plus the
    request-dependent rows for the candidates only."""

    idx: np.ndarray                           # candidate node indices (k,)
    static: StaticBlock
    dynamic: np.ndarray                       # D × k raw values, NaN = unknown
    calc_uncertainty: dict[int, np.ndarray]   # dynamic engine row -> (k,) std from its calculator
    feature_age_s: np.ndarray                 # (k,)

    def raw(self, cols: np.ndarray) -> np.ndarray:
        """Raw values of every factor (engine order) for candidate columns ``cols``."""
        return np.vstack([self.static.raw[:, self.idx[cols]], self.dynamic[:, cols]])


class FactorEngine:
    """Compiled catalog: evaluates every factor for a set of candidate nodes.

    Rows follow ``self.ids``: snapshot-only ("static") factors first, then the
    request-dependent ones. Static factors are computed once per inventory snapshot
    for all nodes and normalised against the fleet; request-dependent factors are
    computed per request for the candidates and normalised against them.
    """

    def __init__(self, catalog: FactorCatalog):
        self.catalog = catalog
        static_first = sorted(catalog.factors, key=lambda f: not get_calculator(f.calculator.name).static)
        self.specs = static_first
        self.ids = [f.id for f in self.specs]
        self._calls = [(get_calculator(f.calculator.name).fn, dict(f.calculator.params)) for f in self.specs]
        self.inputs = [get_calculator(f.calculator.name).input_addresses(f.calculator.params) for f in self.specs]
        self.base_weights = np.array([f.weight for f in self.specs], dtype=float)
        self.higher_better = np.array([f.direction == "higher_is_better" for f in self.specs])
        norm = [f.normalize for f in self.specs]
        self.fixed = np.array([n is not None for n in norm])
        self.lo = np.array([n.lo if n else 0.0 for n in norm])
        self.hi = np.array([n.hi if n else 1.0 for n in norm])
        self.categories = np.array([f.category for f in self.specs], dtype=object)
        self.uses_features = np.array([any(a.startswith("feature.") for a in ins) for ins in self.inputs])
        self.period_s = np.array([f.update_seconds for f in self.specs])
        self.n_static = int(sum(get_calculator(f.calculator.name).static for f in self.specs))
        self.static_rows = np.arange(self.n_static)
        self.dynamic_rows = np.arange(self.n_static, self.n_factors)
        self._key = f"static_factors:{uuid.uuid4().hex}"

    @property
    def n_factors(self) -> int:
        return len(self.specs)

    def static_block(self, ctx: FactorContext) -> StaticBlock:
        """The snapshot's static block, built on first use and kept with the snapshot."""

        def build() -> StaticBlock:
            every = np.arange(ctx.inv.n_nodes)
            s = self.n_static
            raw = np.empty((s, every.size))
            unc: dict[int, np.ndarray] = {}
            for j in range(s):
                fn, params = self._calls[j]
                out = fn(ctx, every, **params)
                if isinstance(out, tuple):
                    raw[j], unc[j] = out
                else:
                    raw[j] = out
            sl = slice(0, s)
            lo, hi = row_bounds(raw, self.fixed[sl], self.lo[sl], self.hi[sl])
            xn = normalise_rows(raw, lo, hi, self.higher_better[sl])
            fill = np.array([np.median(xn[j][np.isfinite(raw[j])]) if np.isfinite(raw[j]).any() else 0.5
                             for j in range(s)]) if s else np.zeros(0)
            with np.errstate(invalid="ignore"):
                raw_mean = np.array([raw[j][np.isfinite(raw[j])].mean() if np.isfinite(raw[j]).any() else np.nan
                                     for j in range(s)]) if s else np.zeros(0)
            return StaticBlock(raw, xn, lo, hi, fill, unc, raw_mean, xn.mean(axis=1) if s else np.zeros(0))

        return ctx.inv.derived(self._key, build)

    def compute(self, ctx: FactorContext, idx: np.ndarray) -> FactorMatrix:
        """Factor values for candidates ``idx``: the static block plus one vectorised call
        per request-dependent factor."""
        block = self.static_block(ctx)
        dyn = np.empty((self.n_factors - self.n_static, idx.shape[0]))
        unc: dict[int, np.ndarray] = {}
        for r, j in enumerate(self.dynamic_rows):
            fn, params = self._calls[j]
            out = fn(ctx, idx, **params)
            if isinstance(out, tuple):
                dyn[r], unc[int(j)] = out
            else:
                dyn[r] = out
        return FactorMatrix(idx, block, dyn, unc, ctx.inv.feature["feature_age_s"][idx])

    def raw_values(self, ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
        """All factors' raw values (engine order × candidates), e.g. for tests and audits."""
        fm = self.compute(ctx, idx)
        return fm.raw(np.arange(idx.shape[0]))

    def uncertainty(self, fm: FactorMatrix, cols: np.ndarray) -> np.ndarray:
        """Std (normalised units, 0..0.5) of each factor for candidate columns ``cols``:
        the calculator's own uncertainty, staleness of feature-store inputs relative to
        the factor's update period, and full uncertainty where the value was unknown."""
        u = np.zeros((self.n_factors, cols.shape[0]))
        nodes = fm.idx[cols]
        for j, arr in fm.static.unc.items():
            u[j] = arr[nodes]
        for j, arr in fm.calc_uncertainty.items():
            u[j] = arr[cols]
        age = fm.feature_age_s[cols]
        age = np.where(np.isfinite(age), age, np.inf)
        stale = 0.5 * np.clip(age[None, :] / (3.0 * self.period_s[self.uses_features][:, None]), 0, 1)
        u[self.uses_features] = np.maximum(u[self.uses_features], stale)
        u[np.isnan(fm.raw(cols))] = 0.5
        return u
