"""Validated configuration for failure prediction: configs/failure.yaml (Backblaze evaluation) and
configs/train_failure.yaml (the fleet model's training job)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiops.config_io import CONFIG_DIR, config_path, load_config_file

DEFAULT_FAILURE_CONFIG = CONFIG_DIR / "failure.yaml"
DEFAULT_TRAIN_CONFIG = CONFIG_DIR / "train_failure.yaml"


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
    p = config_path(path, Path.cwd()) if path else DEFAULT_FAILURE_CONFIG
    return load_config_file(FailureConfig, p, "failure configuration")


# ---- configs/train_failure.yaml -------------------------------------------------------------------------------------
class DatasetConfig(_Strict):
    """The simulated fleet the model learns from."""
    hosts: int = Field(40, ge=4)
    vms_per_host: int = Field(2, ge=0)
    days: float = Field(16.0, gt=1)
    step_s: float = Field(600.0, gt=0)
    interval_s: float = Field(30.0, gt=0)
    scenario_rate_per_day: float = Field(0.15, ge=0)
    seed: int = 7
    horizon_s: float = Field(8 * 3600.0, gt=0)
    # failure kind (from the event's reason) -> label horizon in seconds, at most horizon_s; others use horizon_s
    label_horizon_s: dict[str, float] = Field(default_factory=dict)


class TuneConfig(_Strict):
    """The hyperparameter search (ASHA over host-grouped CV)."""
    num_samples: int = Field(8, ge=1)
    max_rounds: int = Field(300, ge=25)
    rounds_per_report: int = Field(50, ge=5)
    grace_reports: int = Field(2, ge=1)
    cv_folds: int = Field(3, ge=2)
    cpus_per_trial: float = Field(1.0, gt=0)


class AcceptanceConfig(_Strict):
    """What a candidate must reach on held-out episodes before it may be promoted."""
    min_recall: float = Field(0.9, ge=0, le=1)
    min_precision: float = Field(0.8, ge=0, le=1)
    min_median_lead_min: float = Field(30.0, ge=0)
    # a failure counts as caught only by an alert at least this long before it (an operator needs time to act)
    min_alert_lead_min: float = Field(0.0, ge=0)
    # each validation fold's alert threshold: the highest recall at this episode precision on out-of-fold scores
    # of its own training period, with the training hosts in this many groups
    threshold_precision: float = Field(0.75, gt=0, le=1)
    threshold_inner_folds: int = Field(5, ge=2)
    promote_metric: str = "pr_auc"


class TrainConfig(_Strict):
    """configs/train_failure.yaml: data, search and acceptance for the fleet failure model."""
    model_name: str = "fleet-failure"
    dataset: DatasetConfig = DatasetConfig()
    tune: TuneConfig = TuneConfig()
    acceptance: AcceptanceConfig = AcceptanceConfig()
    outer_folds: int = Field(4, ge=2)
    cutoff_frac: float = Field(0.5, gt=0.1, lt=0.9)


def load_train_config(path: Path | str | None = None) -> TrainConfig:
    """Read and validate configs/train_failure.yaml (or ``path``); defaults when neither is given nor present."""
    if path is None and not DEFAULT_TRAIN_CONFIG.exists():
        return TrainConfig()
    return load_config_file(TrainConfig, config_path(path, Path.cwd()) if path else DEFAULT_TRAIN_CONFIG, "training configuration")
