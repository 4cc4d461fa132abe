"""Sigma rules: compile, match single events, correlate over windows, suppress, count.

Lazy: pySigma loads on first use.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["Matcher", "regex_required_literals", "UnsupportedRule", "Atom", "Compiled", "compile_condition", "KEYWORD_FIELD", "CompiledRule", "RuleSet",
           "load_rules", "rules_from_yaml", "SigmaEngine", "CorrelationEngine", "Suppression", "SuppressionStore", "SuppressionExists", "SuppressionsUnavailable",
           "DetectionPipeline", "load_detection_pipeline"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["Matcher", "regex_required_literals"], ".values"),
    **dict.fromkeys(["UnsupportedRule", "Atom", "Compiled", "compile_condition", "KEYWORD_FIELD"], ".compile"),
    **dict.fromkeys(["CompiledRule", "RuleSet", "load_rules", "rules_from_yaml", "SigmaEngine"], ".rules"),
    **dict.fromkeys(["CorrelationEngine"], ".correlation"),
    **dict.fromkeys(["Suppression", "SuppressionStore", "SuppressionExists", "SuppressionsUnavailable"], ".suppression"),
    **dict.fromkeys(["DetectionPipeline", "load_detection_pipeline"], ".pipeline"),
})
