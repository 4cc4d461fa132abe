"""Regular expressions that see outside input: linear time (RE2) or a per-call time budget.

Python's ``re`` backtracks, so one crafted log line or event field can stall a collector for
minutes. Every pattern applied to outside input is compiled here instead:

- :func:`linear` — our own rules; RE2 (``google-re2``) guarantees time linear in the input and
  refuses what it cannot bound (backreferences, lookaround), so a bad rule fails at import.
- :func:`bounded` — patterns written by others (Sigma ``|re``, threat-intel ``MATCHES``): RE2
  when it can express them, else the ``regex`` package with a per-call ``timeout``; a call that
  runs out of time counts as no match and is counted on the pattern (``timeouts``).
- :func:`cap` — the input cap applied before any pattern runs (counted by the caller).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import re2
import regex

__all__ = ["PatternError", "BoundedPattern", "linear", "bounded", "needs_fallback", "cap",
           "DEFAULT_TIMEOUT_S", "MAX_LINE_CHARS", "MAX_FIELD_CHARS"]

DEFAULT_TIMEOUT_S = 0.05
MAX_LINE_CHARS = 8 * 1024
MAX_FIELD_CHARS = 32 * 1024
_PY_FLAGS = re.IGNORECASE | re.DOTALL | re.MULTILINE


class PatternError(ValueError):
    """The pattern is not valid (for RE2 in :func:`linear`, for either engine in :func:`bounded`)."""


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
    """A pattern from outside the code base, bounded in time whichever engine runs it."""

    pattern: str
    engine: str  # "re2" or "regex" (the time-budgeted fallback)
    timeout_s: float
    _rx: Any = field(repr=False)
    timeouts: int = 0

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in ``text``; a fallback call past its budget counts as no match."""
        if self.engine == "re2":
            return self._rx.search(text) is not None
        try:
            return self._rx.search(text, timeout=self.timeout_s) is not None
        except TimeoutError:
            self.timeouts += 1
            return False


def bounded(pattern: str, flags: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S) -> BoundedPattern:
    """RE2 when it can express ``pattern``, else ``regex`` with a per-call ``timeout_s``."""
    try:
        return BoundedPattern(pattern, "re2", timeout_s, _re2(pattern, flags))
    except PatternError:
        pass
    rflags = (regex.IGNORECASE if flags & re.IGNORECASE else 0) | (regex.DOTALL if flags & re.DOTALL else 0) \
        | (regex.MULTILINE if flags & re.MULTILINE else 0)
    try:
        rx = regex.compile(pattern, rflags | regex.VERSION0)
    except (regex.error, ValueError) as exc:
        raise PatternError(f"bad pattern {pattern[:80]!r}: {exc}") from None
    return BoundedPattern(pattern, "regex", timeout_s, rx)


def cap(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, and whether it was cut (the caller counts it)."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True
