"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered, value_sum/avg) over a stream.

pySigma parses correlation rules and resolves their rule references; this module keeps the
sliding-window state per (correlation, group-by key) and emits an :class:`Alert` when the
condition holds. A firing clears that group's window so one burst gives one alert, not one
per further event. Correlation alerts are fed back in, so correlations can chain (brute
force = event_count, then brute force → successful login = temporal_ordered).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from aiops.security.events import Alert, SecurityEvent

_OPS: dict[SigmaCorrelationConditionOperator, Callable[[float, float], bool]] = {
    SigmaCorrelationConditionOperator.LT: lambda a, b: a < b,
    SigmaCorrelationConditionOperator.LTE: lambda a, b: a <= b,
    SigmaCorrelationConditionOperator.GT: lambda a, b: a > b,
    SigmaCorrelationConditionOperator.GTE: lambda a, b: a >= b,
    SigmaCorrelationConditionOperator.EQ: lambda a, b: a == b,
    SigmaCorrelationConditionOperator.NEQ: lambda a, b: a != b,
}
_SUPPORTED = {
    SigmaCorrelationType.EVENT_COUNT,
    SigmaCorrelationType.VALUE_COUNT,
    SigmaCorrelationType.TEMPORAL,
    SigmaCorrelationType.TEMPORAL_ORDERED,
    SigmaCorrelationType.VALUE_SUM,
    SigmaCorrelationType.VALUE_AVG,
}
MAX_KEPT_EVENTS = 50
SWEEP_EVERY = 10_000  # hits between sweeps of expired groups


def rule_key(rule: Any) -> str:
    """Stable identifier of a Sigma rule or correlation: its id, else name, else title."""
    return str(rule.id) if getattr(rule, "id", None) else (rule.name or rule.title)


@dataclass(slots=True)
class Hit:
    """One referenced-rule firing as a correlation sees it."""

    rule: str
    timestamp: float
    alert: Alert


@dataclass(slots=True)
class _Correlation:
    rule: SigmaCorrelationRule
    key: str
    type: SigmaCorrelationType
    refs: list[str]  # referenced rule keys, in order
    names: dict[str, str]  # reference string (name or id) -> key, for alias lookup
    group_by: list[str]
    span: float
    condition: SigmaCorrelationCondition
    aliases: dict[str, dict[str, str]]  # alias -> {rule key: field}
    state: dict[tuple[Any, ...], deque[Hit]] = field(default_factory=dict)
    fired: int = 0


def _field_value(alert: Alert, name: str) -> Any:
    """Group/value field from a hit: correlation group first, then the event (case-insensitive, dotted)."""
    if name in alert.group:
        return alert.group[name]
    ev = alert.event
    if ev is None:
        return None
    vals = ev.view().raw.get(name.lower())
    if vals:
        return vals[0]
    return getattr(ev, name, None) if name in SecurityEvent.__slots__ else None


class CorrelationEngine:
    """Holds window state for all loaded correlation rules; feed it every detection alert."""

    def __init__(self, correlations: list[SigmaCorrelationRule]) -> None:
        self.rules: list[_Correlation] = []
        self.unsupported: list[tuple[str, str]] = []
        self._by_ref: dict[str, list[_Correlation]] = {}
        self._seen = 0
        for cr in correlations:
            if cr.type not in _SUPPORTED or not isinstance(cr.condition, SigmaCorrelationCondition):
                self.unsupported.append((rule_key(cr), f"type {cr.type} / extended condition not supported"))
                continue
            refs, names = [], {}
            for ref in cr.rules or []:
                target = getattr(ref, "rule", None)
                k = rule_key(target) if target is not None else ref.reference
                refs.append(k)
                names[ref.reference] = k
            aliases: dict[str, dict[str, str]] = {}
            for al in cr.aliases:
                aliases[al.alias] = {}
                for ref, fname in al.mapping.items():
                    target = getattr(ref, "rule", None)
                    aliases[al.alias][rule_key(target) if target is not None else ref.reference] = fname
            c = _Correlation(
                rule=cr, key=rule_key(cr), type=cr.type, refs=refs, names=names,
                group_by=list(cr.group_by or []), span=float(cr.timespan.seconds),
                condition=cr.condition, aliases=aliases,
            )
            self.rules.append(c)
            for k in set(refs):
                self._by_ref.setdefault(k, []).append(c)

    def sweep(self, now: float) -> int:
        """Drop groups whose newest hit left the window (bounded memory with many distinct IPs/users)."""
        dropped = 0
        for c in self.rules:
            stale = [k for k, dq in c.state.items() if not dq or dq[-1].timestamp < now - c.span]
            for k in stale:
                del c.state[k]
            dropped += len(stale)
        return dropped

    def open_groups(self) -> int:
        return sum(len(c.state) for c in self.rules)

    @property
    def referenced(self) -> set[str]:
        return set(self._by_ref)

    def silent_rules(self) -> set[str]:
        """Rules referenced only by correlations with ``generate: false``: their single hits are not alerts."""
        loud = {k for c in self.rules if c.rule.generate for k in c.refs}
        return self.referenced - loud

    def observe(self, alert: Alert) -> list[Alert]:
        """Feed one hit (detection or correlation alert); return correlation alerts it completes (chained)."""
        self._seen += 1
        if self._seen % SWEEP_EVERY == 0:
            self.sweep(alert.timestamp)
        out: list[Alert] = []
        queue = [alert]
        while queue:
            a = queue.pop()
            for c in self._by_ref.get(a.rule_id, ()):
                fired = self._update(c, a)
                if fired is not None:
                    out.append(fired)
                    queue.append(fired)
        return out

    def _group(self, c: _Correlation, a: Alert) -> tuple[Any, ...] | None:
        vals = []
        for g in c.group_by:
            fname = c.aliases.get(g, {}).get(a.rule_id, g)
            v = _field_value(a, fname)
            if v is None:
                return None  # events lacking a group-by field cannot be grouped (Sigma semantics)
            vals.append(str(v).lower() if isinstance(v, str) else v)
        return tuple(vals)

    def _update(self, c: _Correlation, a: Alert) -> Alert | None:
        key = self._group(c, a)
        if key is None:
            return None
        dq = c.state.get(key)
        if dq is None:
            dq = c.state[key] = deque()
        t = a.timestamp
        dq.append(Hit(a.rule_id, t, a))
        while dq and dq[0].timestamp < t - c.span:
            dq.popleft()
        ok, measure = self._check(c, dq)
        if not ok:
            return None
        c.fired += 1
        hits = list(dq)
        dq.clear()  # one alert per burst
        events: list = []
        for h in hits:
            events.extend([h.alert.event] if h.alert.event is not None else h.alert.events)
        group = {g: (hits[-1].alert.group.get(g) if g in hits[-1].alert.group else _field_value(hits[-1].alert, c.aliases.get(g, {}).get(hits[-1].rule, g))) for g in c.group_by}
        tags = tuple(f"{t.namespace}.{t.name}" for t in c.rule.tags)
        for h in hits:
            tags += tuple(x for x in h.alert.tags if x not in tags)
        return Alert(
            rule_id=c.key, rule_name=c.rule.name, title=c.rule.title,
            level=c.rule.level.name.lower() if c.rule.level else "medium",
            timestamp=t, kind="correlation", tags=tags, group=group, count=int(measure),
            events=events[-MAX_KEPT_EVENTS:], event=None,
        )

    def _check(self, c: _Correlation, dq: deque[Hit]) -> tuple[bool, float]:
        cond = c.condition
        op = _OPS[cond.op]
        if c.type == SigmaCorrelationType.EVENT_COUNT:
            n = float(len(dq))
            return op(n, cond.count), n
        if c.type in (SigmaCorrelationType.VALUE_COUNT, SigmaCorrelationType.VALUE_SUM, SigmaCorrelationType.VALUE_AVG):
            fname = cond.fieldref if isinstance(cond.fieldref, str) else (cond.fieldref or [None])[0]
            if fname is None:
                return False, 0.0
            vals = [v for h in dq if (v := _field_value(h.alert, c.aliases.get(fname, {}).get(h.rule, fname))) is not None]
            if c.type == SigmaCorrelationType.VALUE_COUNT:
                n = float(len({str(v).lower() for v in vals}))
                return op(n, cond.count), n
            nums = [float(v) for v in vals if _is_number(v)]
            if not nums:
                return False, 0.0
            m = sum(nums) if c.type == SigmaCorrelationType.VALUE_SUM else sum(nums) / len(nums)
            return op(m, cond.count), m
        if c.type == SigmaCorrelationType.TEMPORAL:
            n = float(len({h.rule for h in dq} & set(c.refs)))
            # Default condition for temporal is "all referenced rules"; an explicit count overrides.
            need = cond.count if _explicit(c) else len(set(c.refs))
            return op(n, need) if _explicit(c) else n >= need, n
        # temporal_ordered: the refs must appear as a subsequence, in order, within the window
        i = 0
        for h in dq:
            if i < len(c.refs) and h.rule == c.refs[i]:
                i += 1
        return i == len(c.refs), float(i)


def _explicit(c: _Correlation) -> bool:
    return not (c.condition.op == SigmaCorrelationConditionOperator.GTE and c.condition.count == 1)


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
