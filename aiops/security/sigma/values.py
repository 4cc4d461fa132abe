"""One matcher per Sigma value type (numbers, null, exists, regex, CIDR, comparisons, field refs).

Split from the condition compiler so each value type's semantics read on their own; the compiler
decides which trigger atom (if any) a matcher gets.
"""
from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Any, Callable

from sigma.types import CompareOperators, SigmaCompareExpression, SigmaRegularExpression, SigmaTimestampPart, TimestampPart

from aiops.patterns import BoundedPattern, PatternError, bounded
from aiops.security.events import FieldView

__all__ = ["Matcher", "regex_required_literals", "required_literals", "compile_rule_regex", "UnsupportedRegex",
           "number_matcher", "null_matcher", "exists_matcher", "regex_matcher",
           "cidr_matcher", "field_ref_matcher", "compare_matcher", "timestamp_part_matcher"]

Matcher = Callable[[FieldView], bool]


def regex_required_literals(rx: re.Pattern[str]) -> list[str]:
    """Lower-cased ASCII substrings every match of ``rx`` must contain (from the parsed regex).

    Only literals on the mandatory path count: top-level sequence items, groups, and repeats
    with a minimum of one; alternations and optional parts end a run. The result is a
    necessary condition, used as a pre-check and as the rule's trigger atom.
    """
    try:
        import re._parser as sre_parse  # Python 3.11+
        from re._constants import LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN
        tree = sre_parse.parse(rx.pattern, rx.flags)
    except Exception:  # noqa: BLE001 - any parser surprise: no gate, always run the regex
        return []
    out: list[str] = []

    def walk(items: Any) -> None:
        run: list[str] = []
        for op, arg in items:
            if op is LITERAL and arg < 128:
                run.append(chr(arg))
                continue
            if run:
                out.append("".join(run))
                run = []
            if op is SUBPATTERN:
                walk(arg[-1])
            elif op in (MAX_REPEAT, MIN_REPEAT) and arg[0] >= 1:
                walk(arg[2])
        if run:
            out.append("".join(run))

    walk(tree)
    return [s.lower() for s in out if s]


def required_literals(pattern: str, flags: int = 0) -> list[str]:
    """:func:`regex_required_literals` of a pattern given as text ([] when Python cannot parse it)."""
    try:
        return regex_required_literals(re.compile(pattern, flags))
    except re.error:
        return []


def compile_rule_regex(pattern: str, flags: int = 0) -> BoundedPattern:
    """A rule's ``|re`` value on RE2; one RE2 cannot run (backreference, lookaround) makes the rule unsupported."""
    try:
        return bounded(pattern, flags)
    except PatternError as exc:
        raise UnsupportedRegex(f"regex needs backtracking: {exc}") from None


class UnsupportedRegex(ValueError):
    """RE2 cannot run the rule's pattern: the rule is not loaded, counted under "unsupported"."""


def number_matcher(key: str, num: int | float) -> Matcher:
    """Numbers equal numerically; strings must spell the number exactly ("4688"), the same test the
    eq index applies (FieldView renders integral floats as ints)."""
    text = str(num).lower()

    def m_num(v: FieldView) -> bool:
        for x in v.raw.get(key, ()):
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                if x == num:
                    return True
            elif str(x).lower() == text:
                return True
        return False

    return m_num


def null_matcher(key: str) -> Matcher:
    """``field: null``: the field is absent or every value is empty."""
    def m_null(v: FieldView) -> bool:
        vals = v.lo.get(key)
        return not vals or all(x == "" for x in vals)
    return m_null


def exists_matcher(key: str, want_exists: bool) -> Matcher:
    """``|exists``: the field has (or lacks) any value."""
    def m_exists(v: FieldView) -> bool:
        return bool(v.raw.get(key)) == want_exists

    return m_exists


def regex_matcher(key: str, value: SigmaRegularExpression) -> tuple[Matcher, tuple[str, ...]]:
    """``|re`` with its flags, and the literals every match must contain (a cheap gate before the regex)."""
    flags = 0
    for f in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[f]
    plain = value.regexp.to_plain()
    rx = compile_rule_regex(plain, flags)
    gate = tuple(required_literals(plain, flags))

    def m_re(v: FieldView) -> bool:
        raw = v.raw.get(key)
        if not raw:
            return False
        for x, xl in zip(raw, v.lo[key]):
            # cheap necessary check before a possibly backtracking-heavy regex
            if gate and not all(g in xl for g in gate):
                continue
            if rx.search(x if isinstance(x, str) else str(x)):
                return True
        return False

    return m_re, gate


def cidr_matcher(key: str, net: Any) -> Matcher:
    """``|cidr``: any value parses as an address inside ``net``."""
    def m_cidr(v: FieldView) -> bool:
        for x in v.raw.get(key, ()):
            try:
                if ipaddress.ip_address(str(x).strip()) in net:
                    return True
            except ValueError:
                continue
        return False

    return m_cidr


def field_ref_matcher(key: str, other: str, sw: bool, ew: bool) -> Matcher:
    """``|fieldref``: a value equals (or starts / ends with) a value of another field."""
    def m_ref(v: FieldView) -> bool:
        refs = v.lo.get(other, ())
        for x in v.lo.get(key, ()):
            for r in refs:
                if (sw and x.startswith(r)) or (ew and x.endswith(r)) or (not sw and not ew and x == r):
                    return True
        return False

    return m_ref


def _as_number(x: Any) -> float | None:
    try:
        s = str(x).strip()
        return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
    except ValueError:
        return None


_CMP = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def compare_matcher(key: str, value: SigmaCompareExpression) -> Matcher:
    """Numeric comparison (lt, gte, ...) against any value of the field; hex text counts as a number."""
    op = _CMP[value.op]
    ref = value.number.number

    def m_cmp(v: FieldView) -> bool:
        for x in v.raw.get(key, ()):
            n = x if isinstance(x, (int, float)) and not isinstance(x, bool) else _as_number(x)
            if n is not None and op(n, ref):
                return True
        return False

    return m_cmp


def timestamp_part_matcher(value: SigmaTimestampPart) -> Matcher:
    """Match on one part (minute, hour, ...) of the event time in UTC."""
    part, want = value.timestamp_part, value.number

    def m_ts(v: FieldView) -> bool:
        dt = datetime.fromtimestamp(v.timestamp, tz=timezone.utc)
        got = {
            TimestampPart.MINUTE: dt.minute,
            TimestampPart.HOUR: dt.hour,
            TimestampPart.DAY: dt.day,
            TimestampPart.WEEK: dt.isocalendar().week,
            TimestampPart.MONTH: dt.month,
            TimestampPart.YEAR: dt.year,
        }[part]
        return got == want

    return m_ts
