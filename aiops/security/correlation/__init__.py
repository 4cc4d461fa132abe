"""Graph correlation: signals and entities in, incidents (with graphs and reports) out.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["TACTIC_STAGE", "SEVERITIES", "Signal", "tactics_from_tags", "HOST_LOCAL_SOURCES", "AssetMap",
           "EntityResolver", "is_external", "Incident", "Component", "CorrelatorConfig", "GraphCorrelator",
           "progression", "incident_risk", "severity_of", "incident_graph", "pivots", "incident_report", "render",
           "render_png", "render_svg", "write_json"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["TACTIC_STAGE", "SEVERITIES", "Signal", "tactics_from_tags"], ".signals"),
    **dict.fromkeys(["HOST_LOCAL_SOURCES", "AssetMap", "EntityResolver", "is_external"], ".entities"),
    **dict.fromkeys(["Incident", "Component", "CorrelatorConfig", "GraphCorrelator", "progression", "incident_risk", "severity_of"], ".graph"),
    **dict.fromkeys(["incident_graph", "pivots", "incident_report", "render", "render_png", "render_svg", "write_json"], ".export"),
})
