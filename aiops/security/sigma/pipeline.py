"""Detection pipeline: events → Sigma detections → correlations → suppressions → alerts.

Also holds the validated schema of ``configs/security.yaml`` (rule folders, minimum level,
suppressions). The pipeline is plain Python; the lead's Ray actor wraps one instance.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field

from aiops.security.events import Alert, SecurityEvent, merge_tags
from aiops.security.sigma.correlation import CorrelationEngine
from aiops.security.sigma.rules import RuleSet, SigmaEngine, load_rules
from aiops.security.sigma.suppression import Suppression, SuppressionStore
from aiops.settings import PROJECT_ROOT, Settings, load_config_file

DEFAULT_SECURITY_CONFIG = PROJECT_ROOT / "configs" / "security.yaml"


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dirs: tuple[str, ...] = Field(("security/sigma/rules",), description="Sigma folders relative to Settings.data_dir")
    optional_data_dirs: tuple[str, ...] = Field((), description="like data_dirs, silently skipped when absent")
    project_dirs: tuple[str, ...] = Field(("configs/rules",), description="our own rules, relative to the project root")
    min_level: str = Field("informational", pattern="^(informational|low|medium|high|critical)$")


class ThreatIntelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: tuple[str, ...] = Field(("configs/intel",), description="indicator files or folders (*.csv, STIX 2.1 *.json); "
                                                                   "relative to the project root; missing ones are skipped")
    stale_after_days: float = Field(90.0, gt=0, description="an indicator not seen for this long counts half")

    def files(self) -> list[Path]:
        out: list[Path] = []
        for d in self.paths:
            p = Path(d) if Path(d).is_absolute() else PROJECT_ROOT / d
            if p.is_dir():
                out += sorted(f for f in p.rglob("*") if f.suffix.lower() in (".csv", ".json"))
            elif p.is_file():
                out.append(p)
        return out


class SecurityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: RulesConfig = RulesConfig()
    threat_intel: ThreatIntelConfig = ThreatIntelConfig()
    prefilter: bool = Field(True, description="literal index pre-filter (False = evaluate every applicable rule)")
    syslog_year: int | None = Field(None, description="year for BSD syslog timestamps; None = current UTC year")
    suppressions: tuple[Suppression, ...] = ()

    def rule_paths(self, settings: Settings) -> list[Path]:
        """Configured rule folders resolved to absolute paths (optional ones only if present)."""
        paths = [settings.data_dir / p for p in self.rules.data_dirs]
        paths += [settings.data_dir / p for p in self.rules.optional_data_dirs if (settings.data_dir / p).exists()]
        paths += [p if (p := Path(d)).is_absolute() else PROJECT_ROOT / d for d in self.rules.project_dirs]
        return paths


def load_security_config(path: Path | str | None = None) -> SecurityConfig:
    """Read and validate ``configs/security.yaml``; errors name the offending key."""
    p = Path(path) if path else DEFAULT_SECURITY_CONFIG
    return load_config_file(SecurityConfig, p, "security configuration")


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
    def from_config(cls, cfg: SecurityConfig | None = None, settings: Settings | None = None) -> "DetectionPipeline":
        cfg = cfg or load_security_config()
        settings = settings or Settings()
        rs = load_rules(cfg.rule_paths(settings), min_level=cfg.rules.min_level)
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
    from aiops.security.sigma.rules import load_rules

    if full is None:
        full = (settings or Settings()).security.sigma_rules == "configured"
    if full:
        return DetectionPipeline.from_config(load_security_config(), settings or Settings())
    return DetectionPipeline(load_rules([PROJECT_ROOT / "configs" / "rules"]))


def load_threat_intel(cfg: SecurityConfig | None = None) -> Any:
    """Indicators from the configured files (``ThreatIntel``; its ``errors`` list the lines it skipped)."""
    from aiops.security.intel.threat_intel import ThreatIntel

    ti = (cfg or load_security_config()).threat_intel
    intel = ThreatIntel(stale_after_days=ti.stale_after_days)
    intel.load_files(ti.files())
    return intel
