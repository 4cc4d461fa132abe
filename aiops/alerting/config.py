"""Alerting settings: where alerts go (Alertmanager, the JetStream alert stream), how long a sent alert
stays valid without a re-send, which severities are pushed, and the retry bounds."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiops.alerting.severity import Severity

__all__ = ["AlertingSettings"]


class AlertingSettings(BaseModel):
    """Composed into `aiops.settings.Settings` as `alerting`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alertmanager_url: str | None = Field(
        None, description="Alertmanager base URL (http://am:9093) or its /api/v2/alerts endpoint; null: not sent there")
    external_url: str | None = Field(
        None, description="base of each alert's generatorURL (how a receiver reaches this API); null: http://serve.host:serve.port")
    stream: str | None = Field("AIOPS_ALERTS", pattern=r"^[A-Za-z0-9_-]+$",
                               description="JetStream stream (file storage) holding <nats.subject_prefix>.alerts.>; "
                                           "null: not published (also when nats.url is null)")
    stream_max_age_s: float = Field(7 * 86_400.0, gt=0, description="how long the stream keeps an alert event")
    evaluate_s: float = Field(10.0, gt=0, description="how often open security incidents are evaluated and re-sent")
    ends_after_intervals: float = Field(
        4.0, ge=2, description="an active alert's endsAt is now + this many evaluation intervals, so Alertmanager "
                               "resolves it by itself only when the engine stops re-sending it")
    failure_min_severity: Severity = Field("low", description="failure alerts at or above this severity are pushed")
    incident_min_severity: Severity = Field("high", description="security incidents at or above this severity are pushed")
    retry_initial_s: float = Field(0.5, gt=0, description="first back-off after a failed delivery (doubles each time)")
    retry_max_s: float = Field(30.0, gt=0, description="longest back-off between delivery attempts")
    request_timeout_s: float = Field(5.0, gt=0, description="per Alertmanager POST / JetStream publish ack")
    max_pending: int = Field(10_000, ge=10, description="alerts held for delivery per sink; beyond, the oldest are "
                                                       "dropped and counted")

    @field_validator("alertmanager_url", "external_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") if v else v

    @property
    def alerts_endpoint(self) -> str | None:
        """The v2 endpoint alerts are POSTed to."""
        url = self.alertmanager_url
        if url is None:
            return None
        return url if url.endswith("/api/v2/alerts") else f"{url}/api/v2/alerts"
