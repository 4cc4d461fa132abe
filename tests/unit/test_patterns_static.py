"""Our own rules run on Python ``re``: every one is checked to be linear by construction.

aiops.patterns.own refuses a variable repeat inside another (and backreferences) when a module
compiles the rule; this re-checks every rule compiled that way, proves the checker catches the
classic catastrophic shapes, and compares AnyOf's first-occurrence search with ``re.search``.
"""
from __future__ import annotations

import random
import re

import pytest

import aiops.security.parsers.linux  # noqa: F401 - compiles its rules through own()
import aiops.telemetry.logparse  # noqa: F401
import aiops.telemetry.sshd  # noqa: F401
from aiops.patterns import OWN_PATTERNS, AnyOf, PatternError, nesting_problems, own


def test_every_own_pattern_has_no_nested_quantifiers() -> None:
    assert len(OWN_PATTERNS) >= 30  # the syslog/BGL/auditd headers, kernel, BGL and auth rules
    bad = {rx.pattern: nesting_problems(rx.pattern, rx.flags) for rx in OWN_PATTERNS}
    assert not {p: why for p, why in bad.items() if why}


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)*c", r"(?:ab|ab)*c", r"(.*a){12}", r"^(\w+\s?)*$",
                                     r"(?:\d{1,3})+x", r"(?:x(?:y|z)*)+", r"(a)\1"])
def test_catastrophic_shapes_are_refused(pattern: str) -> None:
    assert nesting_problems(pattern)
    with pytest.raises(PatternError):
        own(pattern)


@pytest.mark.parametrize("pattern", [r"(?:\.\d{1,3}){3}", r"(?:ab|cd)+", r"x(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
                                     r"^(?P<k>[A-Za-z_][\w-]*)=(?P<v>\"[^\"]*\"|\S*)"])
def test_linear_shapes_are_accepted(pattern: str) -> None:
    assert nesting_problems(pattern) == []


def test_searched_alternative_with_unbounded_dot_needs_a_lead() -> None:
    with pytest.raises(PatternError):
        AnyOf(r"XFS .* I/O error")
    with pytest.raises(PatternError):
        AnyOf(("EXT4", r"XFS .*"))


@pytest.mark.parametrize("flags", [0, re.I])
def test_any_of_answers_as_re_search(flags: int) -> None:
    alts: tuple[str | tuple[str, str], ...] = (("XFS ", r"XFS .* I/O (?P<a>error)"), r"Buffer I/O error on dev (?P<dev>\w+)",
                                               ("EDAC ", r"EDAC .*?\b(?P<n>\d+) CE "))
    rule = AnyOf(*alts, flags=flags)
    whole = re.compile("|".join(a[1] if isinstance(a, tuple) else a for a in alts), flags)
    toks = ["XFS ", "xfs ", " I/O error", "Buffer I/O error on dev ", "sda", "EDAC ", " 12 CE ", "7", " ", "\n", "x"]
    rng = random.Random(3)
    for _ in range(20_000):
        text = "".join(rng.choice(toks) for _ in range(rng.randint(0, 12)))
        a, b = rule.search(text), whole.search(text)
        assert _seen(a) == _seen(b), text


def _seen(m: re.Match[str] | None) -> object:
    return m and (m.span(), {k: v for k, v in m.groupdict().items() if v is not None})
