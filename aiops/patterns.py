"""Regular expressions that see outside input: linear time (RE2) or a per-call time budget.

Python's ``re`` backtracks, so one crafted log line or event field can stall a collector for
minutes. Every pattern applied to outside input is compiled here instead:

- :func:`linear` — our own rules; RE2 (``google-re2``) guarantees time linear in the input and
  refuses what it cannot bound (backreferences, lookaround), so a bad rule fails at import.
- :func:`bounded` — patterns written by others (Sigma ``|re``, threat-intel ``MATCHES``): RE2
  when it can express them; otherwise the pattern is refused (PatternError), and the caller counts
  the refusal (a rule not loaded, an intel error). A time-budgeted fallback was measured and
  rejected: the ``regex`` package checks its ``timeout`` too rarely (a 0.5 s budget ran 4.9 s on
  ``(?=x)(x+x+)+y`` over 5,000 characters), so it bounds nothing. No SigmaHQ rule needs it today.
- :func:`own` — our own rules on Python's ``re`` (a thirtieth of the RE2 binding's cost per match
  with groups), accepted only when linear by construction: no variable repeat inside another
  (checked here at compile time), no backreference, and unanchored use goes through
  :class:`AnyOf`, which starts a ``LIT.*TAIL`` alternative only at the literal's first occurrence.
- :func:`cap` — the input cap applied before any pattern runs (counted by the caller).
"""
from __future__ import annotations

import re
import re._constants as _sre  # the parse-tree opcodes: stable across 3.11+ (re._parser is their parser)
import re._parser as _sre_parse
from dataclasses import dataclass, field
from typing import Any

import re2

__all__ = ["PatternError", "BoundedPattern", "linear", "bounded", "needs_fallback", "cap", "own", "AnyOf",
           "nesting_problems", "OWN_PATTERNS", "MAX_LINE_CHARS", "MAX_FIELD_CHARS"]

MAX_LINE_CHARS = 8 * 1024
MAX_FIELD_CHARS = 32 * 1024
_PY_FLAGS = re.IGNORECASE | re.DOTALL | re.MULTILINE


class PatternError(ValueError):
    """RE2 cannot run the pattern: invalid, or it needs backtracking (backreferences, lookaround)."""


def _options(flags: int) -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False  # RE2 would print every refused pattern to stderr
    opts.case_sensitive = not flags & re.IGNORECASE
    opts.dot_nl = bool(flags & re.DOTALL)
    return opts


def _re2(pattern: str, flags: int) -> Any:
    if flags & ~_PY_FLAGS:
        raise PatternError(f"unsupported flags {flags:#x}")
    src = f"(?m){pattern}" if flags & re.MULTILINE else pattern
    try:
        return re2.compile(src, _options(flags))
    except re2.error as exc:
        raise PatternError(f"RE2 cannot run {pattern[:80]!r}: {exc}") from None


def linear(pattern: str, flags: int = 0) -> Any:
    """Compile on RE2 (``re`` flags I, S, M); raises PatternError rather than ever backtracking.

    The result has ``search``/``match``/``fullmatch``/``finditer`` and ``groupdict`` as in ``re``.
    """
    return _re2(pattern, flags)


def needs_fallback(pattern: str, flags: int = 0) -> bool:
    """True when RE2 cannot express the pattern (backreferences, lookaround, ...)."""
    try:
        _re2(pattern, flags)
    except PatternError:
        return True
    return False


@dataclass
class BoundedPattern:
    """A pattern from outside the code base, on RE2 (linear time whatever the input)."""

    pattern: str
    _rx: Any = field(repr=False)
    engine: str = "re2"

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in ``text``."""
        return self._rx.search(text) is not None


def bounded(pattern: str, flags: int = 0) -> BoundedPattern:
    """RE2 when it can express ``pattern``; else PatternError (backreferences, lookaround: refused)."""
    return BoundedPattern(pattern, _re2(pattern, flags))


def cap(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, and whether it was cut (the caller counts it)."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


# ----------------------------------------------------------------------------- own rules on Python re

OWN_PATTERNS: list[re.Pattern[str]] = []  # every pattern :func:`own` compiled (the unit test re-checks them)
_SMALL = 16  # a repeat bounded by this inside a fixed count backtracks a constant amount per start
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT}


def _variable(lo: int, hi: int) -> bool:
    return lo != hi


def _ambiguous(branches: list[Any]) -> bool:
    """Alternatives a repeat could choose between on the same text (``(a|aa)*``, ``(ab|ab)*``):
    unless each starts with its own literal character, they split a run exponentially many ways."""
    firsts = [b[0][1] if len(b) and b[0][0] == _sre.LITERAL else None for b in branches]
    if None in firsts:
        return True
    keys = [chr(c).lower() for c in firsts]
    return len(set(keys)) < len(keys)


def _walk(items: Any, outer: tuple[int, int] | None, out: list[str]) -> None:
    """Collect nesting problems below ``outer`` (the innermost enclosing repeat's bounds)."""
    for op, av in items:
        if op in _REPEATS:
            lo, hi, body = av
            if outer is not None and _variable(lo, hi) and (_variable(*outer) or hi > _SMALL):
                out.append(f"{'{'}{lo},{'inf' if hi == _sre.MAXREPEAT else hi}{'}'} inside "
                           f"{'{'}{outer[0]},{'inf' if outer[1] == _sre.MAXREPEAT else outer[1]}{'}'}")
            # an optional part (at most once) is a two-way choice, not a loop: it does not nest
            _walk(body, outer if hi <= 1 else (lo, hi) if _variable(lo, hi) or outer is None else outer, out)
        elif op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            out.append("backreference")
        elif op == _sre.SUBPATTERN:
            _walk(av[-1], outer, out)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            _walk(av[1], outer, out)
        elif op == _sre.BRANCH:
            if outer is not None and _variable(*outer) and _ambiguous(av[1]):
                out.append("alternatives not told apart by their first character inside a repeat")
            for branch in av[1]:
                _walk(branch, outer, out)
        elif op == _sre.ATOMIC_GROUP:
            _walk(av, outer, out)


def nesting_problems(pattern: str, flags: int = 0) -> list[str]:
    """Why ``pattern`` could backtrack super-linearly on Python ``re``: a variable repeat inside a
    variable one (``(a+)+``, ``(\w+\s?)*``), an unbounded repeat inside a fixed count (``(.*a){12}``),
    a backreference. Empty when none; adjacent overlapping repeats are the bait tests' to catch."""
    out: list[str] = []
    _walk(_sre_parse.parse(pattern, flags), None, out)
    return out


def own(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """One of our own rules on Python ``re``; PatternError when it nests variable repeats."""
    problems = nesting_problems(pattern, flags)
    if problems:
        raise PatternError(f"not linear by construction {pattern[:80]!r}: {'; '.join(problems)}")
    rx = re.compile(pattern, flags)
    OWN_PATTERNS.append(rx)
    return rx


class AnyOf:
    """An unanchored rule as alternatives, each searched in linear time; leftmost match wins (ties:
    the earlier alternative), as ``re.search`` of the alternation would answer.

    An alternative is a pattern whose every attempt stops within its own tokens (searched as is),
    or ``(lead, pattern)`` for ``LIT.*TAIL`` shapes: ``pattern`` starts with the literal ``lead``
    and is tried only at lead's first occurrence on each line (``.`` stops at a newline unless
    DOTALL). Any match from a later occurrence on that line is also one from the first (the tail is
    found from further left), so the answer is unchanged, but ``re`` would rescan the rest of the
    line from every occurrence (quadratic on bait).
    """

    def __init__(self, *alts: str | tuple[str, str], flags: int = 0) -> None:
        self._dotall = bool(flags & re.DOTALL)
        self._alts: list[tuple[str | re.Pattern[str] | None, re.Pattern[str]]] = []
        for alt in alts:
            if isinstance(alt, tuple):
                lead, pattern = alt
                if not pattern.startswith(re.escape(lead)) and not pattern.startswith(lead):
                    raise PatternError(f"{pattern[:40]!r} does not start with its lead {lead!r}")
                # a case-sensitive lead is found by str.find, a case-insensitive one by its regex
                self._alts.append((own(re.escape(lead), flags) if flags & re.I else lead, own(pattern, flags)))
            else:
                if any(op in _REPEATS and av[1] == _sre.MAXREPEAT and av[2] and av[2][0][0] == _sre.ANY
                       for op, av in _flat(_sre_parse.parse(alt, flags))):
                    raise PatternError(f"searched alternative {alt[:40]!r} has an unbounded '.' repeat: give it a lead")
                self._alts.append((None, own(alt, flags)))
        if len(self._alts) == 1 and self._alts[0][0] is None:
            self.search = self._alts[0][1].search  # type: ignore[method-assign]  # one searched pattern: no loop

    def search(self, text: str) -> re.Match[str] | None:
        """The leftmost match of any alternative, or None."""
        best: re.Match[str] | None = None
        for lead, rx in self._alts:
            m = rx.search(text) if lead is None else self._from_first(lead, rx, text)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        return best

    def _from_first(self, lead: str | re.Pattern[str], rx: re.Pattern[str], text: str) -> re.Match[str] | None:
        pos = 0
        while True:
            if isinstance(lead, str):
                at = text.find(lead, pos)
            else:
                found = lead.search(text, pos)
                at = -1 if found is None else found.start()
            if at < 0:
                return None
            m = rx.match(text, at)
            if m is not None or self._dotall:
                return m
            pos = text.find("\n", at) + 1  # the next line: a fresh first occurrence
            if pos == 0:
                return None


def _flat(items: Any) -> Any:
    """Every (op, arg) of a parse tree, nested ones included."""
    for op, av in items:
        yield op, av
        if op in _REPEATS:
            yield from _flat(av[2])
        elif op == _sre.SUBPATTERN:
            yield from _flat(av[-1])
        elif op == _sre.BRANCH:
            for branch in av[1]:
                yield from _flat(branch)
