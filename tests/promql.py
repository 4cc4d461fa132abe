"""Metric names a PromQL expression (or a Grafana dashboard's queries) reads, and which of them a live
`/metrics` exposition lacks: the check that keeps deploy/grafana/aiops.json honest.

Not a PromQL parser (promtool checks the syntax; tests/unit/test_dashboard.py runs it): strings, label
matchers, range selectors and grouping label lists are removed, then every identifier that is not a
function call, keyword or number part is a metric name.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["GRAFANA_INTERVALS", "metric_names", "dashboard_exprs", "exported_names", "missing_metrics"]

# Grafana's interval variables, replaced by a plain duration so the expression is valid PromQL
GRAFANA_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)(_ms|_s)?|\$\{__(rate_interval|interval|range)\}")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w:.$])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()")
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                      "offset", "inf", "nan", "atan2"})
SUFFIXES = {"_total": ("counter",), "_bucket": ("histogram",), "_sum": ("histogram", "summary"),
            "_count": ("histogram", "summary"), "_created": ("counter", "histogram", "summary")}


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects, as written (a histogram's `_bucket` stays: `missing_metrics` resolves it)."""
    text = GRAFANA_INTERVALS.sub("5m", expr)
    text = _STRING.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # any other dashboard variable
    return {m.group(0) for m in _IDENT.finditer(text) if m.group(0).lower() not in KEYWORDS}


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every `expr` of every panel target, rows' nested panels included."""
    def walk(panels: Iterable[dict[str, Any]]) -> Iterator[str]:
        for p in panels:
            yield from (t["expr"] for t in p.get("targets", ()) if t.get("expr"))
            yield from walk(p.get("panels", ()))
    return list(walk(dashboard.get("panels", ())))


def exported_names(exposition: str) -> dict[str, str]:
    """Family name -> type, plus every sample name, from Prometheus text (families with no sample count)."""
    names: dict[str, str] = {}
    for fam in text_string_to_metric_families(exposition):
        names[fam.name] = fam.type
        names.update({s.name: fam.type for s in fam.samples})
    return names


def missing_metrics(exprs: Iterable[str], exposition: str) -> dict[str, list[str]]:
    """Metric name -> the expressions that read it, for each name the exposition does not export."""
    exported = exported_names(exposition)
    missing: dict[str, list[str]] = {}
    for expr in exprs:
        for name in metric_names(expr):
            if name in exported or _suffixed_family(name, exported):
                continue
            missing.setdefault(name, []).append(expr)
    return missing


def _suffixed_family(name: str, exported: dict[str, str]) -> bool:
    """`x_total` of counter `x`, `x_bucket`/`x_sum`/`x_count` of histogram `x` (or summary), also without samples."""
    for suffix, kinds in SUFFIXES.items():
        if name.endswith(suffix) and exported.get(name[: -len(suffix)]) in kinds:
            return True
    return False
