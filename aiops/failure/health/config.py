"""Settings of the multivariate health score (``Settings().failure.health``).

Few and principled on purpose: the score is judged on recordings nobody here has seen, so
every number below is a statement about the *kind* of data (per-minute server metrics), not
a value tuned to one machine.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    """How the label-free health score is fitted, thresholded and kept quiet under drift."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variance: float = Field(0.9, gt=0, le=1, description="share of the standardised variance the linear model keeps")
    scale_floor: float = Field(
        0.05, ge=0, lt=1, description="a metric's scale is at least this share of its training range, so a nearly "
                                      "constant metric's tiny jitter does not dominate the score")
    t2_weight: float = Field(
        0.3, ge=0, description="weight of the in-model distance (Hotelling T^2) beside the reconstruction error (SPE), "
                               "each relative to its median on held-back rows")
    residual_norm: bool = Field(
        True, description="divide each metric's reconstruction residual by its mean square on held-back rows, so a "
                          "metric the linear model never explains well does not dominate the score")
    ar_weight: float = Field(
        1.0, ge=0, description="weight of the per-metric one-step autoregressive residual (a metric turning jumpy "
                               "inside its range), relative to its median on held-back rows like SPE; 0 turns it off")
    smoothing: float = Field(
        0.05, gt=0, le=1, description="EWMA weight of the newest row (0.05: ~20-row memory); server anomalies last "
                                      "minutes, single-row spikes are mostly noise")
    false_alarm_rate: float = Field(
        0.01, gt=0, lt=0.5, description="alarm threshold: this share of held-back training rows would alarm")
    calibration_share: float = Field(
        0.25, gt=0, lt=0.9, description="last share of the training rows held back (not fitted) to set the threshold")
    drift_window: int = Field(
        2880, ge=10, description="rows (2880: two days of per-minute rows); when drift_share of the last drift_window "
                                 "rows alarmed, the alarm level is raised by how far the score's median over the "
                                 "latest drift_share x drift_window rows sits above the held-back rows' median (a "
                                 "changed baseline, not an incident); the score itself, and so the ranking, is not "
                                 "moved")
    drift_share: float = Field(0.5, gt=0, le=1, description="share of alarmed rows in drift_window that re-baselines")
    top_causes: int = Field(3, ge=1, le=10, description="metrics blamed per row")


class FleetHealthConfig(BaseModel):
    """The label-free fleet model served until a supervised failure model is promoted
    (``Settings().failure.unsupervised``; the policy is in aiops/failure/serving/fallback.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="serve the health score while no supervised model is promoted")
    step_s: float = Field(60.0, gt=0, description="simulated/telemetry seconds between history rows the score is fitted "
                                                  "on; live rows are smoothed in time at the same rate")
    lookback_s: float = Field(6 * 3600.0, gt=0, description="how far back the shards' history is read at each fit")
    max_rows_per_target: int = Field(60, ge=8, le=2000, description="history rows read per target per fit (the step "
                                                                     "widens beyond lookback_s / this): bounds shard CPU")
    min_rows_per_target: int = Field(8, ge=3, description="a target with fewer usable rows is scored, but not fitted on")
    retry_s: float = Field(10.0, gt=0, description="wall seconds between tries until the first fit succeeds")
    refit_s: float = Field(600.0, gt=0, description="wall seconds between refits once fitted (sooner while the "
                                                    "history is young: the interval doubles from retry_s)")
    concurrency: int = Field(16, ge=1, description="history queries in flight at once")
    alert_threshold: float | None = Field(
        None, gt=0, lt=1, description="the failure monitor alerts on the unsupervised risk at or above this; null (default) "
                                      "= never: the risk is uniform on normal rows, so any level alerts on that share of "
                                      "a healthy fleet every round (0.999 would be a conservative opt-in)")
