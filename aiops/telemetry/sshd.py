"""The one set of sshd / PAM / sudo / su message patterns, shared by telemetry and security.

Telemetry (``aiops.telemetry.logparse``) counts failures as metric samples; the security parser
(``aiops.security.parsers.linux``) turns the same lines into events for correlation. Both call
:func:`match_auth` so a line is classified once, the same way, in linear time (RE2).
"""
from __future__ import annotations

from dataclasses import dataclass

from aiops.patterns import linear

__all__ = ["AuthMatch", "AUTH_PATTERNS", "match_auth"]

_IP = r"[0-9a-fA-F.:]+"

# (action, outcome, pattern on the message after "prog[pid]: "); first match wins. Every
# quantifier is bounded by the literal that follows it, and RE2 runs them in linear time anyway.
AUTH_PATTERNS: tuple[tuple[str, str | None, str], ...] = (
    ("ssh_login", "failure", r"^Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+) port (?P<port>\d+)"),
    ("ssh_login", "success", r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)"),
    ("ssh_invalid_user", "failure", r"^Invalid user (?P<user>.*?) from (?P<ip>\S+)"),
    ("pam_auth", "failure", r"authentication failure;.*?rhost=(?P<ip>\S*)(?:\s+user=(?P<user>\S+))?"),
    ("ssh_break_in_attempt", "failure", rf"\[(?P<ip>{_IP})\] failed - POSSIBLE BREAK-IN ATTEMPT"),
    ("ssh_too_many_failures", "failure", r"(?:PAM|error: maximum authentication attempts).*?(?:rhost=|from )(?P<ip>\S+)"),
    ("ssh_disconnect", None, r"^(?:Received disconnect|Disconnected|Connection closed) (?:from|by) "
                             rf"(?:(?:invalid |authenticating )?user (?P<user>\S+) )?(?P<ip>{_IP})"),
    ("session_open", "success", r"session opened for user (?P<user>\S+)"),
    ("session_close", "success", r"session closed for user (?P<user>\S+)"),
    ("sudo", "success", r"^\s*(?P<user>\S+) : (?:.*USER=(?P<as_user>\S+) ; )?.*COMMAND=(?P<cmd>.*)$"),
    ("su", "failure", r"^FAILED su for (?P<target>\S+) by (?P<user>\S+)"),
)
# Literals one of which every match contains: a substring test (tens of ns) spares the RE2 call
# (microseconds through the Python binding) on the lines a pattern cannot match.
_GATES: dict[str, tuple[str, ...]] = {
    "ssh_login": ("Failed ", "Accepted "), "ssh_invalid_user": ("Invalid user ",), "pam_auth": ("authentication failure;",),
    "ssh_break_in_attempt": ("POSSIBLE BREAK-IN",), "ssh_too_many_failures": ("PAM", "error: maximum authentication"),
    "ssh_disconnect": ("Received disconnect", "Disconnected", "Connection closed"), "session_open": ("session opened",),
    "session_close": ("session closed",), "sudo": ("COMMAND=",), "su": ("FAILED su",),
}
_COMPILED = tuple((a, o, _GATES[a], linear(p)) for a, o, p in AUTH_PATTERNS)


@dataclass(frozen=True)
class AuthMatch:
    """One classified auth message: the action, its outcome and the named groups that matched."""

    action: str
    outcome: str | None
    groups: dict[str, str]


def match_auth(msg: str) -> AuthMatch | None:
    """Classify an sshd / PAM / sudo / su message; None when no pattern applies."""
    for action, outcome, gate, rx in _COMPILED:
        if not any(g in msg for g in gate):
            continue
        m = rx.search(msg)
        if m is not None:
            return AuthMatch(action, outcome, {k: v for k, v in m.groupdict().items() if v is not None})
    return None
