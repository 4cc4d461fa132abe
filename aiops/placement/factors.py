"""Factor catalog (``configs/factors.yaml``): schema, validation on load, and the engine
that turns it into a nodes × factors matrix.

Each factor names a registered vectorised calculator plus params; loading checks the
calculator exists and accepts those params, so a typo fails at start-up with the
factor's id and the offending key rather than at the first request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiops.placement.factors_registry import FactorContext, get_calculator
from aiops.settings import PROJECT_ROOT, ConfigError, load_yaml

DEFAULT_CATALOG = PROJECT_ROOT / "configs" / "factors.yaml"

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
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: top level must be a mapping")
    try:
        return FactorCatalog.model_validate(data)
    except ValidationError as exc:
        lines = [f"{origin}: invalid factor catalog"]
        factors = data.get("factors") or []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "factors" and isinstance(loc[1], int) and loc[1] < len(factors):
                fid = factors[loc[1]].get("id", "?") if isinstance(factors[loc[1]], dict) else "?"
                loc[1] = f"{loc[1]}({fid})"
            lines.append(f"  {'.'.join(str(p) for p in loc) or '<root>'}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def load_catalog(path: Path | str | None = None) -> FactorCatalog:
    p = Path(path) if path else DEFAULT_CATALOG
    return parse_catalog(load_yaml(p), str(p))


@dataclass(frozen=True)
class FactorMatrix:
    """Raw factor values, factor-major (F × k) so each factor's column is contiguous."""

    values: np.ndarray                   # factors × candidates, raw units, NaN = unknown
    idx: np.ndarray                      # candidate node indices
    calc_uncertainty: dict[int, np.ndarray]  # factor row -> per-candidate std from its calculator
    feature_age_s: np.ndarray            # per candidate, for staleness


class FactorEngine:
    """Compiled catalog: evaluates every factor for a set of candidate nodes."""

    def __init__(self, catalog: FactorCatalog):
        self.catalog = catalog
        self.specs = list(catalog.factors)
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

    @property
    def n_factors(self) -> int:
        return len(self.specs)

    def compute(self, ctx: FactorContext, idx: np.ndarray) -> FactorMatrix:
        """Raw values of every factor for candidates ``idx``: one vectorised call per factor."""
        values = np.empty((self.n_factors, idx.shape[0]))
        unc: dict[int, np.ndarray] = {}
        for j, (fn, params) in enumerate(self._calls):
            out = fn(ctx, idx, **params)
            if isinstance(out, tuple):
                values[j], unc[j] = out
            else:
                values[j] = out
        return FactorMatrix(values, idx, unc, ctx.inv.feature["feature_age_s"][idx])

    def uncertainty(self, fm: FactorMatrix, cols: np.ndarray) -> np.ndarray:
        """Std (normalised units, 0..0.5) of each factor for candidates ``cols``: the
        calculator's own uncertainty, staleness of feature-store inputs relative to the
        factor's update period, and full uncertainty where the value was unknown."""
        u = np.zeros((self.n_factors, cols.shape[0]))
        for j, arr in fm.calc_uncertainty.items():
            u[j] = arr[cols]
        age = fm.feature_age_s[cols]
        age = np.where(np.isfinite(age), age, np.inf)
        stale = 0.5 * np.clip(age[None, :] / (3.0 * self.period_s[self.uses_features][:, None]), 0, 1)
        u[self.uses_features] = np.maximum(u[self.uses_features], stale)
        u[np.isnan(fm.values[:, cols])] = 0.5
        return u
