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
- :func:`cap` — the input cap applied before any pattern runs (counted by the caller).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import re2

__all__ = ["PatternError", "BoundedPattern", "linear", "bounded", "needs_fallback", "cap",
           "MAX_LINE_CHARS", "MAX_FIELD_CHARS"]

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
