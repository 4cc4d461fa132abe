"""Threat intelligence: indicator files (CSV, STIX 2.1) matched against events.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["INDICATOR_TYPES", "Indicator", "load_csv", "load_stix", "ThreatIntel", "load_threat_intel"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["INDICATOR_TYPES", "Indicator", "load_csv", "load_stix", "ThreatIntel", "load_threat_intel"], ".threat_intel"),
})
