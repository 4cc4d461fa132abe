"""Security engine: parse logs, detect (Sigma, detectors, intel), correlate into incidents, respond.

Subpackages: parsers, sigma, detection, correlation, response, intel. Nothing heavy loads on import.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["SecurityEvent", "LogSource", "Alert", "Rejection", "RejectionCounter", "SecurityConfig",
           "load_security_config", "SecurityIntake", "SecurityPipeline", "SecurityService", "dump_learned",
           "load_learned", "RedisLearnedStore", "AnomalyStore", "RedisAnomalyStore",
           "CorrelatorRuntime", "LearnedSnapshots"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["SecurityEvent", "LogSource", "Alert", "Rejection", "RejectionCounter"], ".events"),
    **dict.fromkeys(["SecurityConfig", "load_security_config"], ".config"),
    **dict.fromkeys(["SecurityIntake"], ".intake"),
    **dict.fromkeys(["SecurityPipeline"], ".pipeline"),
    **dict.fromkeys(["SecurityService"], ".service"),
    **dict.fromkeys(["dump_learned", "load_learned", "RedisLearnedStore"], ".learned_state"),
    **dict.fromkeys(["AnomalyStore", "RedisAnomalyStore"], ".anomaly_store"),
    **dict.fromkeys(["CorrelatorRuntime", "LearnedSnapshots"], ".runtime"),
})
