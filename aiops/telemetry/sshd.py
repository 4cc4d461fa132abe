"""The one set of sshd / PAM / sudo / su message rules, shared by telemetry and security.

Telemetry (``aiops.telemetry.logparse``) counts failures as metric samples; the security parser
(``aiops.security.parsers.linux``) turns the same lines into events for correlation. Both call
:func:`match_auth` so a line is classified once, the same way, in linear time.

The rules run on Python ``re`` through :func:`aiops.patterns.own` (no nested variable repeats,
checked at import): anchored ones only where their literal starts the message, unanchored ones
through :class:`aiops.patterns.AnyOf` (a ``LIT.*?TAIL`` rule starts only at LIT's first
occurrence), and sudo's "last USER= before the last COMMAND=" by ``rfind`` rather than two
greedy ``.*``. tests/unit/test_patterns_bait.py feeds each one 100 KB of bait.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from aiops.patterns import AnyOf, own

__all__ = ["AuthMatch", "AUTH_ACTIONS", "match_auth"]

_IP = r"[0-9a-fA-F.:]+"
_Groups = dict[str, str]


_Matcher = tuple[bool, Callable[[str], "_Groups | None"]]  # (anchored at the message's start, matcher)


def _at_start(pattern: str) -> _Matcher:
    rx = own(pattern)
    return True, lambda msg: m.groupdict() if (m := rx.match(msg)) is not None else None


def _anywhere(*alts: str | tuple[str, str]) -> _Matcher:
    rx = AnyOf(*alts)
    return False, lambda msg: m.groupdict() if (m := rx.search(msg)) is not None else None


_SUDO_HEAD = own(r"\s*(?P<user>\S+) : ")
_SUDO_USER = own(r"USER=(?P<as_user>\S+) ; ")


def _sudo(msg: str) -> _Groups | None:
    """``^\\s*(\\S+) : (?:.*USER=(\\S+) ; )?.*COMMAND=(.*)$`` without its two greedy ``.*``:
    the command follows the last COMMAND=, the target user is the last ``USER=x ; `` before it."""
    head = _SUDO_HEAD.match(msg)
    if head is None:
        return None
    start = head.end()
    cmd_at = msg.rfind("COMMAND=", start)
    if cmd_at < 0 or "\n" in msg[start:]:  # '.' stops at a newline, so the rule never spans one
        return None
    out = {"user": head["user"], "cmd": msg[cmd_at + 8:]}
    at = msg.rfind("USER=", start, cmd_at)
    while at >= 0:  # each try is anchored and stops at its token's end: linear over all tries
        m = _SUDO_USER.match(msg, at)
        if m is not None and m.end() <= cmd_at:
            out["as_user"] = m["as_user"]
            break
        at = msg.rfind("USER=", start, at)
    return out


# (action, outcome, literals one of which every match contains, matcher); first match wins. The
# literal test (tens of ns) spares the regex on the lines a rule cannot match.
_RULES: tuple[tuple[str, str | None, tuple[str, ...], _Matcher], ...] = (
    ("ssh_login", "failure", ("Failed ",), _at_start(
        r"Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+) port (?P<port>\d+)")),
    ("ssh_login", "success", ("Accepted ",), _at_start(
        r"Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)")),
    ("ssh_invalid_user", "failure", ("Invalid user ",), _at_start(r"Invalid user (?P<user>.*?) from (?P<ip>\S+)")),
    ("pam_auth", "failure", ("authentication failure;",), _anywhere(
        ("authentication failure;", r"authentication failure;.*?rhost=(?P<ip>\S*)(?:\s+user=(?P<user>\S+))?"))),
    ("ssh_break_in_attempt", "failure", ("POSSIBLE BREAK-IN",), _anywhere(
        rf"\[(?P<ip>{_IP})\] failed - POSSIBLE BREAK-IN ATTEMPT")),
    ("ssh_too_many_failures", "failure", ("PAM", "error: maximum authentication"), _anywhere(
        ("PAM", r"PAM.*?(?:rhost=|from )(?P<ip>\S+)"),
        ("error: maximum authentication attempts", r"error: maximum authentication attempts.*?(?:rhost=|from )(?P<ip>\S+)"))),
    ("ssh_disconnect", None, ("Received disconnect", "Disconnected", "Connection closed"), _at_start(
        r"(?:Received disconnect|Disconnected|Connection closed) (?:from|by) "
        rf"(?:(?:invalid |authenticating )?user (?P<user>\S+) )?(?P<ip>{_IP})")),
    ("session_open", "success", ("session opened",), _anywhere(r"session opened for user (?P<user>\S+)")),
    ("session_close", "success", ("session closed",), _anywhere(r"session closed for user (?P<user>\S+)")),
    ("sudo", "success", ("COMMAND=",), (False, _sudo)),
    ("su", "failure", ("FAILED su",), _at_start(r"FAILED su for (?P<target>\S+) by (?P<user>\S+)")),
)
# anchored rules test their literals with one startswith call
_GATED = tuple((a, o, at_start, g, fn) for a, o, g, (at_start, fn) in _RULES)
_STARTS = tuple(lit for _, _, at_start, g, _ in _GATED if at_start for lit in g)
AUTH_ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(a for a, _, _, _ in _RULES))


class AuthMatch(NamedTuple):
    """One classified auth message: the action, its outcome and the named groups that matched
    (a tuple: built per classified line, a frozen dataclass costs several times more)."""

    action: str
    outcome: str | None
    groups: dict[str, str]


def match_auth(msg: str) -> AuthMatch | None:
    """Classify an sshd / PAM / sudo / su message; None when no rule applies."""
    anchored = msg.startswith(_STARTS)  # one call rules out every anchored rule on most lines
    for action, outcome, at_start, gate, rule in _GATED:
        if at_start:
            if not anchored or not msg.startswith(gate):
                continue
        elif gate[0] not in msg and not _any_in(gate, msg):
            continue
        groups = rule(msg)
        if groups is not None:
            if None in groups.values():
                groups = {k: v for k, v in groups.items() if v is not None}
            return AuthMatch(action, outcome, groups)
    return None


def _any_in(gate: tuple[str, ...], msg: str) -> bool:
    for g in gate[1:]:
        if g in msg:
            return True
    return False
