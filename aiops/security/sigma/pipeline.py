"""Detection pipeline: events → Sigma detections → correlations → suppressions → alerts.

Configured from ``configs/security.yaml`` (:mod:`aiops.security.config`). The pipeline is plain
Python; the correlator's Ray actor wraps one instance.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from aiops.security.config import SecurityConfig
from aiops.security.events import Alert, SecurityEvent, merge_tags
from aiops.security.sigma.correlation import CorrelationEngine
from aiops.security.sigma.rules import RuleSet, SigmaEngine, load_rules
from aiops.security.sigma.suppression import SuppressionStore
from aiops.config_io import config_path
from aiops.settings import Settings


class DetectionPipeline:
    """Runs every event through Sigma rules, correlations and suppressions; keeps per-rule counts."""

    def __init__(self, ruleset: RuleSet, suppressions: SuppressionStore | None = None, prefilter: bool = True) -> None:
        self.ruleset = ruleset
        self.engine = SigmaEngine(ruleset, prefilter=prefilter)
        self.correlator = CorrelationEngine(ruleset.correlations)
        self.suppressions = suppressions or SuppressionStore()
        self._silent = self.correlator.silent_rules()
        self._by_id: dict[str, Any] = {}
        for r in ruleset.rules:
            self._by_id.setdefault(r.id, r)
        self.unknown_hits = 0  # pre-matched rule ids this rule set does not have (collector on other rules)
        self.alert_counts: Counter[str] = Counter()
        self.hit_counts: Counter[str] = Counter()
        self.suppressed_total = 0

    @classmethod
    def from_config(cls, cfg: SecurityConfig, settings: Settings | None = None) -> "DetectionPipeline":
        """The pipeline a loaded security configuration describes (rules, suppressions, prefilter)."""
        settings = settings or Settings()
        rs = load_rules(cfg.rule_paths(settings.data_dir), min_level=cfg.rules.min_level)
        return cls(rs, SuppressionStore(s.model_copy() for s in cfg.suppressions), prefilter=cfg.prefilter)

    def prematch(self, ev: SecurityEvent) -> SecurityEvent:
        """Single-event matching only (stateless): record the rule ids on the event.

        Collectors call this where events are parsed; :meth:`process` on the correlator then
        skips matching and runs the stateful part (correlations, suppressions, counts).
        """
        ev.rule_hits = tuple(r.id for r in self.engine.match(ev))
        return ev

    def _hits(self, ev: SecurityEvent) -> list[Any]:
        if ev.rule_hits is None:
            return self.engine.match(ev)
        out = []
        for rid in ev.rule_hits:
            r = self._by_id.get(rid)
            if r is None:
                self.unknown_hits += 1
            else:
                out.append(r)
        return out

    def process(self, ev: SecurityEvent) -> list[Alert]:
        """Alerts raised by one event (detections not silenced by correlations, plus completed correlations)."""
        out: list[Alert] = []
        for r in self._hits(ev):
            self.hit_counts[r.id] += 1
            if r.tags:  # the event carries the ATT&CK tags of every rule it fired (for graph correlation)
                ev.tags = merge_tags(ev.tags, r.tags)
            a = Alert(rule_id=r.id, rule_name=r.name, title=r.title, level=r.level,
                      timestamp=ev.timestamp, tags=r.tags, event=ev)
            if r.id not in self._silent and (r.name is None or r.name not in self._silent):
                out.append(a)
            out.extend(self.correlator.observe(a))
        kept = []
        for a in out:
            if self.suppressions.check(a) is None:
                kept.append(a)
                self.alert_counts[a.rule_id] += 1
            else:
                self.suppressed_total += 1
        return kept

    def process_many(self, events: Iterable[SecurityEvent]) -> list[Alert]:
        out: list[Alert] = []
        for ev in events:
            out.extend(self.process(ev))
        return out

    def stats(self) -> dict[str, Any]:
        return {
            **self.engine.stats(),
            "rules": len(self.ruleset.rules),
            "correlations": len(self.correlator.rules),
            "load_errors": len(self.ruleset.errors),
            "unknown_prematched_rule_ids": self.unknown_hits,
            "alerts": sum(self.alert_counts.values()),
            "open_correlation_groups": self.correlator.open_groups(),
            "suppressed": self.suppressed_total,
            "suppressions": self.suppressions.counts(),
        }


def load_detection_pipeline(full: bool | None = None, settings: Settings | None = None) -> "DetectionPipeline":
    """Our rule pack (configs/rules), or with ``full`` the configured SigmaHQ folders too (15-35 s to parse).

    ``full=None`` follows ``settings.security.sigma_rules``.
    """
    if full is None:
        full = (settings or Settings()).security.sigma_rules == "configured"
    if full:
        settings = settings or Settings()
        return DetectionPipeline.from_config(settings.security.detection, settings)
    return DetectionPipeline(load_rules([config_path("rules")]))


