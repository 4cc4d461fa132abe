"""Safe automated response: policy, tokens, audit trail, control planes and the engine.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["ACTION_TARGET", "SEVERITY_RANK", "DEFAULT_RESPONSE_CONFIG", "AutoRule", "EscalationRule", "ApiToken",
           "ResponseConfig", "load_response_config", "Principal", "TokenAuth", "AuditStore", "MemoryAuditStore",
           "JsonlAuditStore", "RedisAuditStore", "AuditLog", "ControlPlane", "SimulatedControlPlane",
           "NovaCronControlPlane", "ResponseRecord", "ResponseError", "ResponseEngine",
           "ACTION_MODELS", "validate_action", "AuditUnavailableError", "IdempotencyConflictError", "ApprovalDeniedError"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["ACTION_TARGET", "SEVERITY_RANK", "DEFAULT_RESPONSE_CONFIG", "AutoRule", "EscalationRule", "ApiToken", "ResponseConfig", "load_response_config"], ".config"),
    **dict.fromkeys(["Principal", "TokenAuth"], ".auth"),
    **dict.fromkeys(["AuditStore", "MemoryAuditStore", "JsonlAuditStore", "RedisAuditStore", "AuditLog"], ".audit"),
    **dict.fromkeys(["ControlPlane", "SimulatedControlPlane", "NovaCronControlPlane"], ".control_plane"),
    **dict.fromkeys(["ResponseEngine"], ".engine"),
    **dict.fromkeys(["ACTION_MODELS", "validate_action", "ResponseError"], ".actions"),
    **dict.fromkeys(["ResponseRecord", "AuditUnavailableError", "IdempotencyConflictError", "ApprovalDeniedError"], ".records"),
})
