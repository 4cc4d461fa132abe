"""Failure-prediction endpoints (schemas per the seed API) over an injected service: routing and schemas only;
domain errors (NoModel -> 503, UnknownTarget -> 404) go through the API's error table (`aiops.api.errors`)."""
from __future__ import annotations

from typing import Any, Protocol

import orjson
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiops.alerting.severity import Severity
from aiops.failure.errors import NoModel
from aiops.durations import Duration

MAX_BATCH = 20_000
MAX_HORIZON_S = 30 * 86_400


class ContributingFactor(BaseModel):
    feature: str
    value: float | None
    contribution: float = Field(description="SHAP contribution to the log-odds of failure; for the label-free "
                                            "health model (unsupervised-health-* versions) the metric's share of the score")
    description: str


class FailurePrediction(BaseModel):
    target_id: str
    target_type: str
    failure_probability: float = Field(ge=0, le=1, description=(
        "supervised models: P(failure within the horizon); the label-free health model (model_version "
        "unsupervised-health-*): a calibrated risk, the share of held-back normal rows scoring lower, not a probability"))
    time_to_failure: float | None = Field(description="median seconds to failure under a constant hazard; null when negligible")
    time_to_failure_interval: tuple[float, float] | None = Field(None, description="10-90% interval, seconds")
    confidence_interval: tuple[float, float] = Field(description="10-90% spread of the probability across bagged members")
    severity: Severity
    contributing_factors: list[ContributingFactor]
    recommendations: list[str]
    model_version: str
    features_as_of: float
    last_updated: float


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"target_ids": ["host-0001", "host-0002"]},
        {"target_ids": ["host-0003"], "time_horizon": "PT24H", "include_recommendations": False}]})
    target_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    time_horizon: Duration = Field(7200.0, description="seconds, or 30m, 2h, 7d, PT24H, P1D")
    include_recommendations: bool = True

    @field_validator("time_horizon")
    @classmethod
    def _horizon(cls, v: float) -> float:
        if v > MAX_HORIZON_S:
            raise ValueError(f"time_horizon at most {MAX_HORIZON_S // 86400} days")
        return v


class BatchResponse(BaseModel):
    predictions: list[FailurePrediction]
    not_found: list[str]
    time_horizon_s: float
    model_version: str | None


class ModelInfo(BaseModel):
    id: str
    type: str
    version: str
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1_score: float | None
    last_trained: float | None
    training_data_size: int | None
    features: list[str]
    performance_metrics: dict[str, Any]
    supervised: bool = Field(True, description="false for the label-free health model served until one is promoted")
    description: str | None = Field(None, description="what the served score means (set for the label-free model)")


class MitigationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "drained", "comment": "evacuated after the SMART warnings"}]})
    action: str = Field(pattern="^(drained|migrated|repaired|replaced|restarted|other)$")
    comment: str = Field("", max_length=2000)


class FailureApi(Protocol):
    """Predictions come back as dicts, or as already-serialised JSON (bytes) from a cache; `predict` raises
    UnknownTarget for a target without telemetry and NoModel while no model is deployed."""

    async def predict(self, target_id: str) -> dict[str, Any] | bytes: ...
    async def predict_many(self, target_ids: list[str], horizon_s: float,
                           include_recommendations: bool) -> tuple[list[dict[str, Any] | bytes], list[str], str | None]: ...
    async def model_info(self) -> dict[str, Any] | None: ...
    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]: ...


def make_router(service: FailureApi) -> APIRouter:
    r = APIRouter(tags=["failure prediction"])

    @r.get("/predictions/failures/{target_id}", response_model=FailurePrediction)
    async def one(target_id: str) -> Any:
        pred = await service.predict(target_id)  # UnknownTarget -> 404, NoModel -> 503 (the error table)
        if isinstance(pred, (bytes, bytearray)):
            return Response(pred, media_type="application/json")  # validated when it was made
        return pred

    @r.post("/predictions/failures/batch", response_model=BatchResponse)
    async def batch(req: BatchRequest) -> Any:
        horizon = req.time_horizon
        preds, missing, version = await service.predict_many(list(dict.fromkeys(req.target_ids)), horizon,
                                                             req.include_recommendations)
        if preds and any(isinstance(p, (bytes, bytearray)) for p in preds):
            body = b'{"predictions":[' + b",".join(p if isinstance(p, (bytes, bytearray)) else orjson.dumps(p) for p in preds)
            body += b'],"not_found":' + orjson.dumps(missing) + b',"time_horizon_s":' + orjson.dumps(horizon)
            body += b',"model_version":' + orjson.dumps(version) + b"}"
            return Response(body, media_type="application/json")
        return {"predictions": preds, "not_found": missing, "time_horizon_s": horizon, "model_version": version}

    @r.get("/models/failure-prediction", response_model=ModelInfo)
    async def model() -> Any:
        info = await service.model_info()
        if info is None:
            raise NoModel()
        return info

    @r.post("/predictions/failures/{target_id}/mitigations", status_code=201)
    async def mitigate(target_id: str, req: MitigationRequest) -> dict[str, Any]:
        return await service.record_mitigation(target_id, req.action, req.comment)

    return r
