"""HTTP layer: routing, request/response schemas and the one error table (no domain logic here).

Names resolve on first use (FastAPI loads only when the app is built). The engines' routers live
in their own modules (`aiops.api.failure`, `aiops.api.placement*`, `aiops.api.security*`).
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = [
    "create_app", "PlatformService", "MetricSource", "ops_router", "platform_router", "MAX_HISTORY_ROWS",
    "STATUS_CODES", "ERROR_TABLE", "RETRY_AFTER_S", "error_response", "status_of", "domain_error_response",
    "validation_message", "install_error_handlers", "ErrorBody", "TargetInfo", "TargetList", "FeatureVector",
    "HistoricalFeatures", "RejectedRecord", "IngestResponse", "IngestRequest", "ComponentHealth", "Health",
    "LATENCY_BUCKETS", "ApiMetrics", "route_template", "TimingAndLimits",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "create_app": ".app",
    "PlatformService": ".app",
    "MetricSource": ".app",
    "ops_router": ".platform",
    "platform_router": ".platform",
    "MAX_HISTORY_ROWS": ".platform",
    "STATUS_CODES": ".errors",
    "ERROR_TABLE": ".errors",
    "RETRY_AFTER_S": ".errors",
    "error_response": ".errors",
    "status_of": ".errors",
    "domain_error_response": ".errors",
    "validation_message": ".errors",
    "install_error_handlers": ".errors",
    "ErrorBody": ".schemas",
    "TargetInfo": ".schemas",
    "TargetList": ".schemas",
    "FeatureVector": ".schemas",
    "HistoricalFeatures": ".schemas",
    "RejectedRecord": ".schemas",
    "IngestResponse": ".schemas",
    "IngestRequest": ".schemas",
    "ComponentHealth": ".schemas",
    "Health": ".schemas",
    "LATENCY_BUCKETS": ".metrics",
    "ApiMetrics": ".metrics",
    "route_template": ".middleware",
    "TimingAndLimits": ".middleware",
})
