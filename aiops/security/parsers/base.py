"""What every format parser shares: the rejection error, the parser signature and record checks.

Kept apart from the registry so that format modules import it without a cycle (the registry
imports the format modules).
"""
from __future__ import annotations

import json
from typing import Any, Callable

from aiops.security.events import SecurityEvent, parse_timestamp

__all__ = ["ParseError", "RecordParser", "BadJSON", "require_mapping", "record_timestamp"]


class ParseError(ValueError):
    """A record could not be parsed; ``reason`` is a short stable label used for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


RecordParser = Callable[[Any], "SecurityEvent | list[SecurityEvent] | None"]


class BadJSON(str):
    """A text fragment that failed to decode as JSON (the parsers reject it with reason bad_json)."""

    def __new__(cls, text: str, err: str) -> "BadJSON":
        obj = super().__new__(cls, text)
        obj.err = err  # type: ignore[attr-defined]
        return obj


def require_mapping(rec: Any) -> dict[str, Any]:
    """JSON-format parsers accept a dict or a JSON text line; anything else is a rejection."""
    if isinstance(rec, BadJSON):
        raise ParseError("bad_json", rec.err)  # type: ignore[attr-defined]
    if isinstance(rec, (str, bytes)):
        try:
            rec = json.loads(rec)
        except (ValueError, RecursionError) as exc:
            raise ParseError("bad_json", str(exc)) from None
    if not isinstance(rec, dict):
        raise ParseError("not_an_object", type(rec).__name__)
    return rec


def record_timestamp(value: Any, what: str = "timestamp") -> float:
    """A record's time as unix seconds; a missing or unreadable one is a counted rejection."""
    if value is None:
        raise ParseError(f"missing_{what}")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ParseError(f"bad_{what}", str(exc)) from None


# ----------------------------------------------------------------------------- CloudTrail
