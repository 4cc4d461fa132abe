"""Durations as people write them: seconds, Go-style strings and ISO 8601, parsed in one place.

Every duration the engine takes (request fields, query parameters, feature windows) goes through
`parse_duration`, so `86400`, `"24h"`, `"1h30m"`, `"PT24H"` and `"P1D"` mean the same everywhere.
Request models use the pydantic types `Duration` (a number is seconds) and `DurationHours` (a number
is hours, kept for the seed API's placement `time_horizon`); both carry the accepted forms in OpenAPI.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["parse_duration", "format_duration", "Duration", "DurationHours", "MAX_DURATION_CHARS"]

MAX_DURATION_CHARS = 64  # longer input is refused before any pattern sees it
_NUM = r"\d+(?:[.,]\d+)?"
_GO_PART = re.compile(rf"({_NUM})(ns|us|µs|ms|s|m|h|d|w)")
_GO = re.compile(rf"^(?:{_NUM}(?:ns|us|µs|ms|s|m|h|d|w))+$")
_ISO = re.compile(rf"^P(?:({_NUM})W)?(?:({_NUM})D)?(?:T(?=\d)(?:({_NUM})H)?(?:({_NUM})M)?(?:({_NUM})S)?)?$", re.IGNORECASE)
_ISO_CALENDAR = re.compile(r"^P(?:\d+Y)|^P(?:\d+Y)?\d+M", re.IGNORECASE)
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_ISO_UNIT_S = (604800.0, 86400.0, 3600.0, 60.0, 1.0)
_HELP = "use seconds (3600), a Go-style duration (90m, 24h, 1h30m, 7d) or ISO 8601 (PT24H, P1D)"


def _num(text: str) -> float:
    return float(text.replace(",", "."))


def _parse_text(text: str) -> float | None:
    """Seconds in `text`, or None when it is no duration form we know."""
    try:
        return float(text)  # "3600" from a query string
    except ValueError:
        pass
    if _GO.match(text):
        return sum(_num(n) * _UNIT_S[u] for n, u in _GO_PART.findall(text))
    m = _ISO.match(text)
    if m and text.upper() not in ("P", "PT") and any(m.groups()):
        return sum(_num(g) * u for g, u in zip(m.groups(), _ISO_UNIT_S) if g is not None)
    return None


def parse_duration(value: str | float | int) -> float:
    """Seconds in `value`: a number is seconds, a string is seconds, Go-style or ISO 8601. Always finite and
    positive (a zero step divides); ValueError names the accepted forms (a 422 through the API)."""
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}: {_HELP}")
    if isinstance(value, (int, float)):
        seconds: float | None = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_DURATION_CHARS:
            raise ValueError(f"bad duration: longer than {MAX_DURATION_CHARS} characters")
        if _ISO_CALENDAR.match(text):
            raise ValueError(f"bad duration {text!r}: years and months have no fixed length; use days (P30D)")
        seconds = _parse_text(text)
        if seconds is None:
            raise ValueError(f"bad duration {text!r}: {_HELP}")
    else:
        raise ValueError(f"bad duration of type {type(value).__name__}: {_HELP}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"duration must be positive and finite, got {str(value)[:MAX_DURATION_CHARS]!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form of `seconds` ('45s', '1h30m', '2d4h'), for tables; the inverse of the Go-style form."""
    if not math.isfinite(seconds):
        return "-"
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")] if days or hours else [(minutes, "m"), (secs, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n)


def _in_units(unit_s: float) -> Any:
    """A validator giving a duration in units of `unit_s` seconds: a bare number (or numeric string) is
    already in that unit, any other string is parsed by `parse_duration`."""
    def convert(value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value.strip()[:MAX_DURATION_CHARS])
            except ValueError:
                return parse_duration(value) / unit_s
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return parse_duration(float(value) * unit_s) / unit_s
        return parse_duration(value)  # raises with the accepted forms
    return convert


def _schema(unit: str, example_number: float, example_text: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "description": unit},
                      {"type": "string", "maxLength": MAX_DURATION_CHARS,
                       "description": "Go-style (90m, 24h, 1h30m, 7d) or ISO 8601 (PT24H, P1D)"}],
            "examples": [example_text, example_number]}


# A duration in seconds: 86400, "24h", "1h30m", "PT24H", "P1D".
Duration = Annotated[float, BeforeValidator(_in_units(1.0)), WithJsonSchema(_schema("seconds", 7200, "2h"))]
# A duration in hours (a bare number is hours, as the seed API's placement time_horizon always was).
DurationHours = Annotated[float, BeforeValidator(_in_units(3600.0)),
                          WithJsonSchema(_schema("hours", 24, "PT24H"))]
