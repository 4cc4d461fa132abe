"""Feature definitions: what to compute from which metric over which window.

Loaded from configs/features.yaml and validated as a set (unknown aggregations,
dangling or cyclic dependencies are errors that name the feature).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiops.durations import parse_duration  # re-exported: the one duration parser
from aiops.errors import InvalidRequestError
from aiops.features.aggregations import AGGREGATIONS, DERIVED
from aiops.config_io import ConfigError, load_yaml

__all__ = ["DefinitionError", "FeatureDefinition", "parse_duration", "order_definitions", "parse_definitions",
           "parse_definition", "check_definition_set", "load_definitions"]



class DefinitionError(ConfigError, InvalidRequestError):
    """A feature definition (or set) is invalid: a configuration error at start-up, a 422 over HTTP."""


class FeatureDefinition(BaseModel):
    """One windowed feature over one metric (or derived from other features)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"name": "cpu_utilization_p99_15m", "source": "cpu_utilization", "aggregation": "p99", "window": "15m"},
        {"name": "disk_io_latency_trend_1h", "source": "disk_io_latency_ms", "aggregation": "trend", "window": "PT1H"}]})

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    type: str = Field("float", pattern="^(float|int)$")
    source: str = Field("", description="metric name; empty for derived features")
    aggregation: str
    window: str | float = Field("5m", description="seconds, Go-style (5m, 1h30m) or ISO 8601 (PT5M)")
    update_frequency: str | float = Field("10s", description="seconds, Go-style (10s) or ISO 8601 (PT10S)")
    importance: float = Field(0.5, ge=0, le=1)
    dependencies: tuple[str, ...] = ()
    params: dict[str, float | bool] = Field(default_factory=dict)
    target_types: tuple[str, ...] = ("host", "vm")
    description: str = ""

    @field_validator("window", "update_frequency")
    @classmethod
    def _duration(cls, v: str | float) -> str | float:
        parse_duration(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "FeatureDefinition":
        if self.aggregation in DERIVED:
            if len(self.dependencies) != 2:
                raise ValueError(f"{self.aggregation} needs exactly two dependencies")
        elif self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.aggregation!r}; one of {sorted(AGGREGATIONS) + list(DERIVED)}")
        elif not self.source:
            raise ValueError("source metric is required")
        return self

    @property
    def window_s(self) -> float:
        return parse_duration(self.window)

    @property
    def derived(self) -> bool:
        return self.aggregation in DERIVED


def order_definitions(defs: Iterable[FeatureDefinition]) -> list[FeatureDefinition]:
    """Topological order so dependencies compute first; errors name the culprit."""
    by_name: dict[str, FeatureDefinition] = {}
    for d in defs:
        if d.name in by_name:
            raise DefinitionError(f"feature {d.name}: defined twice")
        by_name[d.name] = d
    ordered: list[FeatureDefinition] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise DefinitionError(f"feature {name}: dependency cycle {' -> '.join(chain + (name,))}")
        state[name] = 1
        for dep in by_name[name].dependencies:
            if dep not in by_name:
                raise DefinitionError(f"feature {name}: depends on unknown feature {dep!r}")
            visit(dep, chain + (name,))
        state[name] = 2
        ordered.append(by_name[name])

    for n in by_name:
        visit(n, ())
    return ordered


def parse_definitions(items: Any, origin: str) -> list[FeatureDefinition]:
    if not isinstance(items, list):
        raise DefinitionError(f"{origin}: 'features' must be a list")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(FeatureDefinition.model_validate(item))
        except ValidationError as exc:
            name = item.get("name", f"#{i}") if isinstance(item, dict) else f"#{i}"
            msgs = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'feature'}: {e['msg']}" for e in exc.errors())
            raise DefinitionError(f"{origin}: feature {name}: {msgs}") from None
    return order_definitions(out)


def load_definitions(path: Path) -> list[FeatureDefinition]:
    """Load and validate configs/features.yaml."""
    data = load_yaml(path)
    if not isinstance(data, dict) or "features" not in data:
        raise DefinitionError(f"{path}: expected a mapping with a 'features' list")
    return parse_definitions(data["features"], str(path))


def parse_definition(body: Any) -> FeatureDefinition:
    """Validate one definition sent by a client; the error lists each bad field ('window: ...')."""
    try:
        return FeatureDefinition.model_validate(body)
    except ValidationError as exc:
        raise DefinitionError("; ".join(f"{'.'.join(map(str, e['loc'])) or 'definition'}: {e['msg']}"
                                        for e in exc.errors())) from None


def check_definition_set(current: Iterable[Any], new: FeatureDefinition) -> None:
    """Check that `new` fits the current set (as dicts or models; a same-named one is replaced)."""
    kept = [d if isinstance(d, FeatureDefinition) else parse_definition(d) for d in current]
    order_definitions([*(d for d in kept if d.name != new.name), new])
