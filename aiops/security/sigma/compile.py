"""Compile pySigma condition trees into plain Python predicates over a :class:`FieldView`.

pySigma parses rules, applies modifiers and resolves ``1 of selection_*`` / ``all of them``
into a tree of AND / OR / NOT over (field, typed value) leaves. Here each leaf becomes a
closure; OR-groups of simple string tests on one field collapse into one tuple-based test
(``str.endswith(tuple)``, set membership), which is what makes thousands of rules cheap.

Each compiled tree also yields *trigger atoms*: a set of (field, literal) facts at least one
of which must hold for the rule to match. The rule engine indexes these so that, per event,
only rules with a satisfied trigger are evaluated (see ``rules``). Per-type value matchers
live in ``values``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR,
                              ConditionValueExpression)
from sigma.types import (Placeholder, SigmaBool, SigmaCasedString, SigmaCIDRExpression, SigmaCompareExpression,
                         SigmaExists, SigmaExpansion, SigmaFieldReference, SigmaNull, SigmaNumber, SigmaRegularExpression,
                         SigmaString, SigmaTimestampPart, SpecialChars)

from aiops.patterns import linear
from aiops.security.events import FieldView
from aiops.security.sigma.values import (Matcher, cidr_matcher, compare_matcher, exists_matcher, field_ref_matcher,
                                         null_matcher, number_matcher, regex_matcher, required_literals, compile_rule_regex,
                                         timestamp_part_matcher)


class UnsupportedRule(ValueError):
    """The rule uses something that cannot be evaluated in-process (e.g. an unresolved placeholder)."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A necessary fact: ``kind`` 'eq' (a value equals ``literal``) or 'sub' (a value contains it)."""

    field: str
    kind: str
    literal: str


Trigger = list[Atom] | None  # None: no necessary literal known, the rule must always be evaluated


@dataclass(slots=True)
class _Simple:
    """A case-insensitive string test on one field, kept symbolic so OR-siblings can be merged."""

    field: str
    kind: str  # eq | contains | startswith | endswith
    literal: str


@dataclass(slots=True)
class Compiled:
    matcher: Matcher
    trigger: Trigger


# --------------------------------------------------------------------------- strings


def _string_parts(s: SigmaString) -> list[str | SpecialChars]:
    parts: list[str | SpecialChars] = []
    for p in s.s:
        if isinstance(p, Placeholder):
            raise UnsupportedRule(f"unresolved placeholder %{p.name}%")
        if isinstance(p, str) and parts and isinstance(parts[-1], str):
            parts[-1] += p
        else:
            parts.append(p)
    return parts


def _wildcard_regex(parts: list[str | SpecialChars], anchored: bool) -> str:
    out = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            out.append(re.escape(p))
    body = "".join(out)
    return f"^(?:{body})$" if anchored else body


def _classify(parts: list[str | SpecialChars]) -> tuple[str, str] | None:
    """Map a wildcard pattern onto eq / contains / startswith / endswith when its shape allows."""
    M = SpecialChars.WILDCARD_MULTI
    if any(p is SpecialChars.WILDCARD_SINGLE for p in parts):
        return None
    if len(parts) == 1 and isinstance(parts[0], str):
        return "eq", parts[0]
    if len(parts) == 2 and parts[0] is M and isinstance(parts[1], str):
        return "endswith", parts[1]
    if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is M:
        return "startswith", parts[0]
    if len(parts) == 3 and parts[0] is M and isinstance(parts[1], str) and parts[2] is M:
        return "contains", parts[1]
    if len(parts) == 1 and parts[0] is M:
        return "contains", ""
    return None


def _longest_literal(parts: list[str | SpecialChars]) -> str:
    lits = [p for p in parts if isinstance(p, str)]
    return max(lits, key=len) if lits else ""


def _simple_matcher(field: str, kind: str, literals: list[str]) -> Matcher:
    """One test for many OR-ed literals of the same kind on one field (already lower-cased)."""
    if kind == "eq":
        wanted = frozenset(literals)

        def m_eq(v: FieldView) -> bool:
            vals = v.lo.get(field)
            return bool(vals) and any(x in wanted for x in vals)

        return m_eq
    if kind in ("startswith", "endswith"):
        tup = tuple(literals)
        if kind == "startswith":
            def m_sw(v: FieldView) -> bool:
                vals = v.lo.get(field)
                return bool(vals) and any(x.startswith(tup) for x in vals)
            return m_sw

        def m_ew(v: FieldView) -> bool:
            vals = v.lo.get(field)
            return bool(vals) and any(x.endswith(tup) for x in vals)
        return m_ew
    if len(literals) == 1:
        lit = literals[0]

        def m_c1(v: FieldView) -> bool:
            vals = v.lo.get(field)
            return bool(vals) and any(lit in x for x in vals)

        return m_c1
    lits = tuple(literals)
    if len(lits) >= 6 and field != KEYWORD_FIELD:  # the keyword text is long: plain C scans win
        return _many_contains(field, lits)

    def m_cn(v: FieldView) -> bool:
        vals = v.lo.get(field)
        if not vals:
            return False
        for x in vals:
            for lit in lits:
                if lit in x:
                    return True
        return False

    return m_cn


def _many_contains(field: str, lits: tuple[str, ...]) -> Matcher:
    """Many OR-ed substrings: look up the value's (cached) trigrams instead of scanning once per literal."""
    chars = frozenset(lit for lit in lits if len(lit) == 1)  # e.g. emoji lists: one set test
    short = tuple(lit for lit in lits if len(lit) == 2)
    freq: dict[str, int] = {}
    for lit in lits:
        for t in {lit[i:i + 3] for i in range(len(lit) - 2)}:
            freq[t] = freq.get(t, 0) + 1
    by_tri: dict[str, list[str]] = {}
    for lit in lits:
        if len(lit) >= 3:
            best = min((lit[i:i + 3] for i in range(len(lit) - 2)), key=freq.__getitem__)
            by_tri.setdefault(best, []).append(lit)
    keys = frozenset(by_tri)

    def m_many(v: FieldView) -> bool:
        vals = v.lo.get(field)
        if not vals:
            return False
        for x, tris in zip(vals, v.trigrams(field)):
            for t in tris & keys:
                for lit in by_tri[t]:
                    if lit in x:
                        return True
            if chars and not chars.isdisjoint(x):
                return True
            for lit in short:
                if lit in x:
                    return True
        return False

    return m_many


def _simple_trigger(s: _Simple) -> Trigger:
    if s.kind == "eq":
        return [Atom(s.field, "eq", s.literal)]
    return [Atom(s.field, "sub", s.literal)] if len(s.literal) >= 3 else None




KEYWORD_FIELD = "*"  # FieldView pseudo-field holding all values (see events.FieldView.build)


def _field_key(name: str) -> str:
    return name.lower()


def _leaf(field: str | None, value: Any) -> Compiled | _Simple:
    """Compile one (field, value) leaf; ``field`` None means a keyword searched in every field."""
    if isinstance(value, SigmaExpansion):
        return _or([_leaf(field, v) for v in value.values])
    if field is None:
        return _keyword(value)
    key = _field_key(field)
    if isinstance(value, SigmaString):  # includes SigmaCasedString
        return _string_leaf(key, value)
    if isinstance(value, SigmaNumber):
        num = value.number
        return Compiled(number_matcher(key, num), [Atom(key, "eq", str(num).lower())] if isinstance(num, int) else None)
    if isinstance(value, SigmaBool):
        return _Simple(key, "eq", "true" if value.boolean else "false")
    if isinstance(value, SigmaRegularExpression):
        matcher, gate = regex_matcher(key, value)
        best = max(gate, key=len) if gate else ""
        return Compiled(matcher, [Atom(key, "sub", best)] if len(best) >= 3 else None)
    untriggered: Matcher | None = None  # value types with no literal a match must contain
    if isinstance(value, SigmaTimestampPart):
        untriggered = timestamp_part_matcher(value)
    elif isinstance(value, SigmaNull):
        untriggered = null_matcher(key)
    elif isinstance(value, SigmaExists):
        untriggered = exists_matcher(key, value.exists)
    elif isinstance(value, SigmaCIDRExpression):
        untriggered = cidr_matcher(key, value.network)
    elif isinstance(value, SigmaCompareExpression):
        untriggered = compare_matcher(key, value)
    elif isinstance(value, SigmaFieldReference):
        untriggered = field_ref_matcher(key, _field_key(value.field), value.starts_with, value.ends_with)
    if untriggered is None:
        raise UnsupportedRule(f"value type {type(value).__name__} on field {field}")
    return Compiled(untriggered, None)


def _string_leaf(key: str, value: SigmaString) -> Compiled | _Simple:
    """A (possibly wildcarded) string: a simple tuple test when its shape allows, else an anchored regex."""
    parts = _string_parts(value)
    lo = not isinstance(value, SigmaCasedString)
    if lo:
        shape = _classify(parts)
        if shape is not None:
            kind, lit = shape
            return _Simple(key, kind, lit.lower())
    rx = linear(_wildcard_regex(parts, True), (re.IGNORECASE | re.DOTALL) if lo else re.DOTALL)
    lit = _longest_literal(parts).lower()

    def m_wild(v: FieldView) -> bool:
        vals = v.lo.get(key) if lo else v.raw.get(key)
        return bool(vals) and any(rx.match(x if lo else str(x)) is not None for x in vals)

    return Compiled(m_wild, [Atom(key, "sub", lit)] if len(lit) >= 3 else None)


def _keyword(value: Any) -> Compiled:
    """Keywords match anywhere in any field value (full-text semantics, case-insensitive)."""
    if isinstance(value, SigmaString):
        parts = _string_parts(value)
        while parts and parts[0] is SpecialChars.WILDCARD_MULTI:
            parts = parts[1:]
        while parts and parts[-1] is SpecialChars.WILDCARD_MULTI:
            parts = parts[:-1]
        flags = re.DOTALL | (0 if isinstance(value, SigmaCasedString) else re.IGNORECASE)
        if len(parts) == 1 and isinstance(parts[0], str) and not isinstance(value, SigmaCasedString):
            return _Simple(KEYWORD_FIELD, "contains", parts[0].lower())  # type: ignore[return-value]
        rx = linear(_wildcard_regex(parts, False), flags)
        lit = _longest_literal(parts).lower()
    elif isinstance(value, SigmaRegularExpression):
        flags = 0
        for f in value.flags:
            flags |= SigmaRegularExpression.sigma_to_python_flags[f]
        plain = value.regexp.to_plain()
        rx = compile_rule_regex(plain, flags)
        lits = required_literals(plain, flags)
        lit = max(lits, key=len) if lits else ""
    elif isinstance(value, (SigmaNumber, SigmaBool)):
        text = str(value.number if isinstance(value, SigmaNumber) else value.boolean).lower()
        return _Simple(KEYWORD_FIELD, "contains", text)  # type: ignore[return-value]
    else:
        raise UnsupportedRule(f"keyword of type {type(value).__name__}")

    def m_kwre(v: FieldView) -> bool:
        if lit and lit not in v.lo[KEYWORD_FIELD][0]:
            return False
        return any(rx.search(str(x)) for k, vals in v.raw.items() for x in vals)

    return Compiled(m_kwre, [Atom(KEYWORD_FIELD, "sub", lit)] if len(lit) >= 3 else None)


# --------------------------------------------------------------------------- boolean structure


def _finish(node: Compiled | _Simple) -> Compiled:
    if isinstance(node, _Simple):
        return Compiled(_simple_matcher(node.field, node.kind, [node.literal]), _simple_trigger(node))
    return node


def _or(children: list[Compiled | _Simple]) -> Compiled:
    groups: dict[tuple[str, str], list[str]] = {}
    others: list[Compiled] = []
    trigger: Trigger = []
    for c in children:
        if isinstance(c, _Simple):
            groups.setdefault((c.field, c.kind), []).append(c.literal)
            t = _simple_trigger(c)
        else:
            others.append(c)
            t = c.trigger
        trigger = None if (trigger is None or t is None) else trigger + t
    fns = [_simple_matcher(f, k, lits) for (f, k), lits in groups.items()] + [c.matcher for c in others]
    if len(fns) == 1:
        return Compiled(fns[0], trigger)
    if len(fns) == 2:
        a, b = fns
        return Compiled(lambda v: a(v) or b(v), trigger)
    fns_t = tuple(fns)

    def m_or(v: FieldView) -> bool:
        for f in fns_t:
            if f(v):
                return True
        return False

    return Compiled(m_or, trigger)


def _trigger_cost(t: list[Atom]) -> float:
    # Fewer atoms = fewer index hits; short substrings are satisfied by many events.
    return sum(0.5 if a.kind == "eq" else 1.0 + 4.0 / max(len(a.literal), 1) for a in t)


def _and(children: list[Compiled | _Simple]) -> Compiled:
    done = [_finish(c) for c in children]
    candidates = [c.trigger for c in done if c.trigger is not None]
    trigger = min(candidates, key=_trigger_cost) if candidates else None
    # Cheap tests first: symbolic string tests before regex / keyword scans.
    fns = tuple(c.matcher for c in done)
    if len(fns) == 1:
        return Compiled(fns[0], trigger)
    if len(fns) == 2:
        a, b = fns
        return Compiled(lambda v: a(v) and b(v), trigger)

    def m_and(v: FieldView) -> bool:
        for f in fns:
            if not f(v):
                return False
        return True

    return Compiled(m_and, trigger)


def _node(node: Any) -> Compiled | _Simple:
    if isinstance(node, ConditionAND):
        return _and([_node(a) for a in node.args])
    if isinstance(node, ConditionOR):
        return _or([_node(a) for a in node.args])
    if isinstance(node, ConditionNOT):
        inner = _finish(_node(node.args[0]))
        f = inner.matcher
        return Compiled(lambda v: not f(v), None)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        return _leaf(None, node.value)
    raise UnsupportedRule(f"condition node {type(node).__name__}")


def compile_condition(tree: Any) -> Compiled:
    """Compile one postprocessed pySigma condition tree (``SigmaCondition.parsed``)."""
    if tree is None:
        raise UnsupportedRule("empty condition")
    return _finish(_node(tree))
