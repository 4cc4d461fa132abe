"""Load Sigma rules with pySigma and evaluate them in-process at stream speed.

Loading: ``SigmaCollection.load_ruleset`` parses YAML (detection and correlation rules);
each detection rule's condition trees are compiled by ``sigma_compile`` into closures.
Rules that cannot be evaluated are counted with a reason instead of failing the load.

Matching: rules are bucketed by logsource; for each distinct event logsource signature the
engine builds (once) a literal index over the bucket's trigger atoms: an exact-value map and
a trigram map for substrings. Per event, only rules whose trigger literal occurs are
evaluated, plus the few rules without any necessary literal. This is exact (a rule can only
match if one of its trigger atoms holds), so results equal brute-force evaluation.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from aiops.security.events import FieldView, LogSource, SecurityEvent
from aiops.security.sigma.compile import KEYWORD_FIELD, Atom, UnsupportedRule, compile_condition
from aiops.security.sigma.values import Matcher


_LEVELS = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

# Sigma services that are umbrellas over more specific ones: a rule for linux ``auth``
# (auth.log) applies to events the parser attributed to sshd, sudo, su, ...
SERVICE_PARENTS: dict[str, frozenset[str]] = {
    "auth": frozenset({"sshd", "sudo", "su", "login", "passwd", "systemd-logind", "useradd", "usermod", "groupadd", "chpasswd"}),
    "syslog": frozenset({"sshd", "sudo", "su", "login", "cron", "crond", "ftpd", "vsftpd", "systemd-logind"}),
}


@dataclass(slots=True)
class CompiledRule:
    """A detection rule ready to run: identity, logsource, compiled predicate and its trigger atoms."""

    id: str
    name: str | None
    title: str
    level: str
    tags: tuple[str, ...]
    product: str | None
    category: str | None
    service: str | None
    matcher: Matcher
    trigger: list[Atom] | None
    path: str = ""
    index: int = -1

    def applies_to(self, ls: LogSource) -> bool:
        """Logsource pre-filter: every field the rule names must agree with the event's."""
        return (
            (self.product is None or self.product == ls.product)
            and (self.service is None or self.service == ls.service or ls.service in SERVICE_PARENTS.get(self.service, ()))
            and (self.category is None or self.category in ls.categories)
        )


@dataclass(slots=True)
class RuleSet:
    """Compiled detection rules, raw correlation rules and per-file load problems."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    load_seconds: float = 0.0

    def by_id(self) -> dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}

    def error_summary(self) -> dict[str, int]:
        return dict(Counter(reason.split(":")[0] for _, reason in self.errors))


def _compile_rule(rule: SigmaRule) -> CompiledRule:
    conds = rule.detection.parsed_condition
    compiled = [compile_condition(c.parsed) for c in conds]
    if len(compiled) == 1:
        matcher, trigger = compiled[0].matcher, compiled[0].trigger
    else:  # several conditions are OR-ed by the Sigma spec
        fns = tuple(c.matcher for c in compiled)
        matcher = lambda v: any(f(v) for f in fns)  # noqa: E731
        trigger = None if any(c.trigger is None for c in compiled) else [a for c in compiled for a in c.trigger]  # type: ignore[union-attr]
    ls = rule.logsource
    return CompiledRule(
        id=str(rule.id) if rule.id else (rule.name or rule.title),
        name=rule.name,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else "medium",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        product=(ls.product or None) and ls.product.lower(),
        category=(ls.category or None) and ls.category.lower(),
        service=(ls.service or None) and ls.service.lower(),
        matcher=matcher,
        trigger=trigger,
        path=str(rule.source.path) if rule.source and rule.source.path else "",
    )


def load_rules(paths: Iterable[Path | str], min_level: str = "informational") -> RuleSet:
    """Load every ``*.yml`` under ``paths`` (missing paths are skipped with a recorded error)."""
    t0 = time.perf_counter()
    out = RuleSet()
    existing: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.exists():
            existing.append(p)
        else:
            out.errors.append((str(p), "missing: rule path does not exist"))
    if not existing:
        out.load_seconds = time.perf_counter() - t0
        return out
    coll = SigmaCollection.load_ruleset(existing, collect_errors=True)
    _compile_collection(coll, min_level, out)
    out.load_seconds = time.perf_counter() - t0
    return out


def rules_from_yaml(text: str, min_level: str = "informational") -> RuleSet:
    """Compile rules given as YAML text (one or more ``---`` documents); used by tests and the API."""
    t0 = time.perf_counter()
    out = RuleSet()
    _compile_collection(SigmaCollection.from_yaml(text, collect_errors=True), min_level, out)
    out.load_seconds = time.perf_counter() - t0
    return out


def _compile_collection(coll: SigmaCollection, min_level: str, out: RuleSet) -> None:
    floor = _LEVELS[min_level]
    for rule in coll:
        where = str(rule.source.path) if getattr(rule, "source", None) and rule.source.path else (rule.title or "?")
        if rule.errors:
            out.errors.append((where, f"parse: {rule.errors[0]}"))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            out.correlations.append(rule)
            continue
        if rule.level is not None and _LEVELS.get(rule.level.name.lower(), 2) < floor:
            continue
        try:
            cr = _compile_rule(rule)
        except UnsupportedRule as exc:
            out.errors.append((where, f"unsupported: {exc}"))
            continue
        except Exception as exc:  # noqa: BLE001 - e.g. re.error from a rule's regex; one bad rule must not stop loading
            out.errors.append((where, f"compile: {type(exc).__name__}: {exc}"))
            continue
        cr.index = len(out.rules)
        out.rules.append(cr)


_KW_SCAN_MAX = 24  # up to this many keyword literals, direct substring scans beat building trigrams
_SCAN_MAX = 24  # same trade-off for ordinary fields


class _Bucket:
    """Literal index over the rules that apply to one event logsource signature."""

    __slots__ = ("rules", "always", "eq", "sub", "sub_keys", "scan", "kw", "kw_tri", "kw_keys")

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.always: list[int] = []
        self.eq: dict[str, dict[str, list[int]]] = {}
        self.sub: dict[str, dict[str, list[tuple[str, int]]]] = {}
        self.kw: list[tuple[str, int]] = []  # keyword literals, searched in the all-values text
        tri_freq: Counter[tuple[str, str]] = Counter()
        for r in rules:
            for a in r.trigger or ():
                if a.kind == "sub":
                    tri_freq.update({(a.field, a.literal[i:i + 3]) for i in range(len(a.literal) - 2)})
        for i, r in enumerate(rules):
            if r.trigger is None:
                self.always.append(i)
                continue
            for a in r.trigger:
                if a.kind == "eq":
                    self.eq.setdefault(a.field, {}).setdefault(a.literal, []).append(i)
                elif a.field == KEYWORD_FIELD:
                    self.kw.append((a.literal, i))
                else:  # index the literal under its rarest trigram
                    tris = [a.literal[j:j + 3] for j in range(len(a.literal) - 2)]
                    best = min(tris, key=lambda t: tri_freq[(a.field, t)])
                    self.sub.setdefault(a.field, {}).setdefault(best, []).append((a.literal, i))
        # Fields with few literals are cheaper to scan directly than to trigram (e.g. Hashes).
        self.scan: dict[str, list[tuple[str, int]]] = {}
        for f in [f for f, m in self.sub.items() if sum(map(len, m.values())) <= _SCAN_MAX]:
            self.scan[f] = [x for lst in self.sub.pop(f).values() for x in lst]
        self.sub_keys = {f: frozenset(m) for f, m in self.sub.items()}
        # Many keyword literals: index them by their rarest trigram too (the event text's
        # trigram set is then one pass instead of one substring scan per literal).
        kw_freq: Counter[str] = Counter(t for lit, _ in self.kw for t in {lit[j:j + 3] for j in range(len(lit) - 2)})
        self.kw_tri: dict[str, list[tuple[str, int]]] = {}
        for lit, i in self.kw:
            best = min((lit[j:j + 3] for j in range(len(lit) - 2)), key=kw_freq.__getitem__)
            self.kw_tri.setdefault(best, []).append((lit, i))
        self.kw_keys = frozenset(self.kw_tri)

    def candidates(self, view: FieldView) -> set[int]:
        cand = set(self.always)
        eq, sub, sub_keys, scan = self.eq, self.sub, self.sub_keys, self.scan
        for f, vals in view.lo.items():
            m = eq.get(f)
            if m is not None:
                for x in vals:
                    hit = m.get(x)
                    if hit:
                        cand.update(hit)
            sc = scan.get(f)
            if sc is not None:
                for x in vals:
                    for lit, ri in sc:
                        if ri not in cand and lit in x:
                            cand.add(ri)
            s = sub.get(f)
            if s is not None:
                keys = sub_keys[f]
                for x, tris in zip(vals, view.trigrams(f)):
                    for t in tris & keys:
                        for lit, ri in s[t]:
                            if ri not in cand and lit in x:
                                cand.add(ri)
        if self.kw:
            text = view.lo[KEYWORD_FIELD][0]
            if len(self.kw) <= _KW_SCAN_MAX:
                for lit, ri in self.kw:
                    if ri not in cand and lit in text:
                        cand.add(ri)
            else:
                for t in view.trigrams(KEYWORD_FIELD)[0] & self.kw_keys:
                    for lit, ri in self.kw_tri[t]:
                        if ri not in cand and lit in text:
                            cand.add(ri)
        return cand


class SigmaEngine:
    """Evaluate a :class:`RuleSet` against events; ``prefilter=False`` gives the brute-force reference."""

    def __init__(self, ruleset: RuleSet, prefilter: bool = True) -> None:
        self.ruleset = ruleset
        self.prefilter = prefilter
        self._buckets: dict[LogSource, _Bucket] = {}
        self.events_seen = 0
        self.rules_evaluated = 0
        self.rule_errors: Counter[str] = Counter()

    def bucket(self, ls: LogSource) -> _Bucket:
        b = self._buckets.get(ls)
        if b is None:
            b = _Bucket([r for r in self.ruleset.rules if r.applies_to(ls)])
            self._buckets[ls] = b
        return b

    def match(self, ev: SecurityEvent) -> list[CompiledRule]:
        """Rules that fire on ``ev`` (in load order)."""
        b = self.bucket(ev.logsource)
        self.events_seen += 1
        if not b.rules:  # no rule for this log source: skip building the event's field view
            return []
        view = ev.view()
        if self.prefilter:
            idx: Iterable[int] = sorted(b.candidates(view))
        else:
            idx = range(len(b.rules))
        hits = []
        rules = b.rules
        n = 0
        for i in idx:
            n += 1
            r = rules[i]
            try:
                if r.matcher(view):
                    hits.append(r)
            except Exception:  # noqa: BLE001 - one rule failing on an odd value must not stop the others
                self.rule_errors[r.id] += 1
        self.rules_evaluated += n
        return hits

    def stats(self) -> dict[str, float]:
        return {
            "events": self.events_seen,
            "rules_evaluated_per_event": self.rules_evaluated / max(self.events_seen, 1),
            "buckets": len(self._buckets),
            "always_evaluated_max": max((len(b.always) for b in self._buckets.values()), default=0),
            "rule_errors": sum(self.rule_errors.values()),
        }
