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
