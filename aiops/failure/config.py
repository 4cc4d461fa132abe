"""Validated configuration for failure prediction (configs/failure.yaml)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiops.config_io import PROJECT_ROOT, load_config_file

DEFAULT_FAILURE_CONFIG = PROJECT_ROOT / "configs" / "failure.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackblazeConfig(_Strict):
    folder: Path | None = Field(None, description="drive-stats folder; None = <data_dir>/backblaze-2013")
    smart_ids: tuple[int, ...] = (1, 5, 9, 194, 197)
    start: str | None = None
    end: str | None = None
    models: tuple[str, ...] | None = Field(None, description="restrict to these drive models")


class LabelConfig(_Strict):
    horizon_days: float = Field(7.0, gt=0, le=365)
    drop_censored_in_training: bool = False


class FeatureConfig(_Strict):
    counters: tuple[int, ...] = (5, 197)
    gauges: tuple[int, ...] = (1, 194)
    age_id: int | None = 9
    diff_days: tuple[int, ...] = (1, 3, 7)
    window_days: int = Field(7, ge=2, le=90)
    categorical: tuple[str, ...] = ("model", "vendor")


class CVConfig(_Strict):
    n_splits: int = Field(5, ge=2, le=20)
    seed: int = 0
    fpr: float = Field(0.01, gt=0, lt=0.5)


class ModelConfig(_Strict):
    kind: str = Field(pattern="^(xgboost|random_forest)$")
    features: str = Field("history", pattern="^(history|raw)$", description="history = features.py; raw = SMART 1/5/9/194/197 + diffs")
    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class SurvivalConfig(_Strict):
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class FailureConfig(_Strict):
    backblaze: BackblazeConfig = BackblazeConfig()
    labels: LabelConfig = LabelConfig()
    features: FeatureConfig = FeatureConfig()
    cv: CVConfig = CVConfig()
    primary: ModelConfig = ModelConfig(kind="xgboost")
    comparisons: dict[str, ModelConfig] = Field(default_factory=dict)
    survival: SurvivalConfig = SurvivalConfig()


def load_failure_config(path: Path | str | None = None) -> FailureConfig:
    """Read and validate configs/failure.yaml (or ``path``); errors name the offending key."""
    p = Path(path) if path else DEFAULT_FAILURE_CONFIG
    return load_config_file(FailureConfig, p, "failure configuration")
