"""Pydantic schemas of the platform API (the engines add their own beside these)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["ErrorBody", "TargetInfo", "TargetList", "FeatureVector", "HistoricalFeatures", "RejectedRecord",
           "IngestResponse", "IngestRequest", "ComponentHealth", "Health"]


class ErrorBody(BaseModel):
    error: str = Field(description="short machine-readable code, e.g. not_found")
    message: str
    status: int
    details: Any | None = None


class TargetInfo(BaseModel):
    target_id: str
    target_type: Literal["host", "vm"]
    shard: int
    last_ts: float
    metrics: list[str]
    points: int


class TargetList(BaseModel):
    total: int
    targets: list[TargetInfo]


class FeatureVector(BaseModel):
    target_id: str
    target_type: str
    shard: int
    as_of: float = Field(description="time of the newest sample used (unix seconds)")
    window_s: float | None = Field(description="window override; null = each feature's own window")
    features: dict[str, float | None]


class HistoricalFeatures(BaseModel):
    target_id: str
    target_type: str
    rows: list[dict[str, float | None]]


class RejectedRecord(BaseModel):
    index: int
    reason: str


class IngestResponse(BaseModel):
    accepted_records: int
    accepted_samples: int
    rejected_records: int
    rejected: list[RejectedRecord] = Field(description="first 100 rejections with reasons")
    duplicate: bool = Field(False, description="true when this batch id was already stored (a retry): nothing stored again")


class IngestRequest(BaseModel):
    """Documented shape of POST /api/ai/ingest (validated per record, not as a whole)."""

    model_config = {"json_schema_extra": {"examples": [
        {"records": [{"target_id": "host-0001", "target_type": "host", "ts": 1767225600.0,
                      "metrics": {"cpu_utilization": 0.42, "temperature_c": 61.5}}]},
        {"batch_id": "edge-7:000123", "records": [{"target_id": "vm-000101", "target_type": "vm", "ts": 1767225600.0,
                                                   "metrics": {"cpu_utilization": 0.9}}]}]}}

    records: list[dict[str, Any]] = Field(description="one target's metrics at one time each")
    batch_id: str | None = Field(None, description="a retry with the same id stores once (or the Idempotency-Key header)")


class ComponentHealth(BaseModel):
    ok: bool
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]
