"""Zeek's default TSV logs (``#separator``/``#fields``/``#types`` header, one tab-separated row per record).

Stateful like the auditd parser: the header lines set the log path and column names and types for
the rows that follow (a file may hold several logs back to back). Rows become the same dict a Zeek
JSON record gives (``-`` unset → absent, ``(empty)`` → empty, sets and vectors → lists, numbers typed),
then go through :func:`parse_zeek`, so Sigma rules and detectors see one shape whatever Zeek wrote.
A row before any ``#fields`` header is rejected as ``missing_zeek_header``.
"""
from __future__ import annotations

from typing import Any

from aiops.security.events import SecurityEvent
from aiops.security.parsers.base import ParseError
from aiops.security.parsers.cloud import parse_zeek

__all__ = ["ZeekTsvParser", "looks_like_zeek_tsv"]

_NUM = {"count": int, "int": int, "port": int, "double": float, "time": float, "interval": float}
_MAX_COLUMNS = 512


def looks_like_zeek_tsv(head: str) -> bool:
    """True for text starting with Zeek's TSV header."""
    return head.lstrip().startswith("#separator")


def _typed(v: str, typ: str, set_sep: str, unset: str, empty: str) -> Any:
    if v == unset:
        return None
    if typ.startswith(("set[", "vector[")):
        if v == empty:
            return []
        inner = typ[typ.index("[") + 1:-1]
        return [_typed(x, inner, set_sep, unset, empty) for x in v.split(set_sep)]
    if v == empty:
        return ""
    conv = _NUM.get(typ)
    if conv is None:
        return True if typ == "bool" and v == "T" else False if typ == "bool" and v == "F" else v
    try:
        return conv(v)
    except ValueError:
        raise ParseError("bad_zeek_value", f"{typ}: {v[:40]}") from None


class ZeekTsvParser:
    """One line at a time; header lines return nothing, rows return an event (or None for bookkeeping logs)."""

    def __init__(self) -> None:
        self.sep, self.set_sep, self.unset, self.empty = "\t", ",", "-", "(empty)"
        self.path: str | None = None
        self.fields: list[str] = []
        self.types: list[str] = []

    def _header(self, line: str) -> None:
        if line.startswith("#separator"):
            raw = line[len("#separator"):].strip()
            self.sep = raw.encode().decode("unicode_escape") if raw.startswith("\\x") else (raw or "\t")
            return
        key, _, rest = line[1:].partition(self.sep)
        vals = rest.split(self.sep)[:_MAX_COLUMNS]
        if key == "set_separator":
            self.set_sep = vals[0]
        elif key == "unset_field":
            self.unset = vals[0]
        elif key == "empty_field":
            self.empty = vals[0]
        elif key == "path":
            self.path = vals[0]
        elif key == "fields":
            self.fields = vals
        elif key == "types":
            self.types = vals

    def __call__(self, rec: Any) -> SecurityEvent | None:
        if not isinstance(rec, str):
            raise ParseError("not_a_line", type(rec).__name__)
        line = rec.rstrip("\r\n")
        if not line.strip():
            return None
        if line.startswith("#"):
            self._header(line)
            return None
        if not self.fields or not self.path:
            raise ParseError("missing_zeek_header", "row before #path/#fields")
        vals = line.split(self.sep)
        if len(vals) != len(self.fields):
            raise ParseError("zeek_column_count", f"{len(vals)} values for {len(self.fields)} fields")
        types = self.types if len(self.types) == len(self.fields) else ["string"] * len(self.fields)
        obj: dict[str, Any] = {"_path": self.path}
        for name, typ, v in zip(self.fields, types, vals):
            tv = _typed(v, typ, self.set_sep, self.unset, self.empty)
            if tv is not None:
                obj[name] = tv
        return parse_zeek(obj)
