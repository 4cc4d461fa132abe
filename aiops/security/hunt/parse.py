"""Recorded files → time-ordered events with provenance, and a per-file account of every record.

Every record read is either parsed (into zero or more events) or counted as rejected with a reason
(the parser's, or for an unclaimed JSON object the identifying field it lacked). Field values are cut
like the running engine cuts them (``cap_fields``), so a hunt sees what the engine would.
"""
from __future__ import annotations

import json
import tarfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from aiops.patterns import MAX_FIELD_CHARS, MAX_LINE_CHARS, cap
from aiops.security.events import SecurityEvent
from aiops.security.hunt.reader import Member, iter_members, iter_paths, iter_records
from aiops.security.hunt.sniff import UNSUPPORTED, missing_for, sniff_record, sniff_text
from aiops.security.parsers.base import BadJSON, ParseError, RecordParser
from aiops.security.parsers.registry import cap_fields, get_parser

__all__ = ["FileSummary", "Provenance", "read_events"]

_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error)


@dataclass
class FileSummary:
    """What happened to one input file's records."""

    file: str
    records: int = 0
    parsed: int = 0
    events: int = 0
    rejected: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)
    skipped_members: list[str] = field(default_factory=list)
    alerts: int = 0
    incidents: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "records": self.records, "parsed": self.parsed, "events": self.events,
                "rejected": dict(self.rejected.most_common()), "rejected_total": sum(self.rejected.values()),
                "formats": dict(self.formats), "skipped_members": self.skipped_members[:20],
                "alerts": self.alerts, "incidents": self.incidents}


@dataclass(frozen=True, slots=True)
class Provenance:
    file: str
    member: str
    line: int


class _MemberParsers:
    """One parser instance per format per member (auditd and Zeek TSV keep state between lines)."""

    def __init__(self, year: int | None) -> None:
        self.year = year
        self.cache: dict[str, RecordParser] = {}

    def get(self, fmt: str) -> RecordParser:
        p = self.cache.get(fmt)
        if p is None:
            p = self.cache[fmt] = get_parser(fmt, self.year)
        return p

    def flush(self) -> Iterator[SecurityEvent]:
        for p in self.cache.values():
            fl = getattr(p, "flush", None)
            if fl is not None:
                yield from fl()


def _decode(rec: Any) -> Any:
    """JSON-lines text → object; other text stays a line."""
    if isinstance(rec, str) and not isinstance(rec, BadJSON):
        s = rec.strip()
        if s.startswith("{"):
            try:
                return json.loads(s)
            except ValueError as exc:
                return BadJSON(s[:200], str(exc))
    return rec


def _format_for(rec: Any, forced: str, text_fmt: str | None) -> tuple[str | None, str]:
    """(parser name or None, rejection reason when None)."""
    if isinstance(rec, BadJSON):
        return None, "bad_json"
    if forced != "auto":
        return forced, ""
    if isinstance(rec, dict):
        f = sniff_record(rec)
        return f, "" if f else missing_for(rec)
    if isinstance(rec, str) and not rec.strip():
        return None, ""
    return text_fmt, "" if text_fmt else "unknown_text_format"


def _member_events(m: Member, forced: str, year: int | None, s: FileSummary) -> Iterator[tuple[SecurityEvent, int]]:
    parsers = _MemberParsers(year)
    text_fmt: str | None = None
    first = True
    last = 0
    try:
        for n, raw in iter_records(m):
            last = n
            rec = _decode(raw)
            if first and isinstance(rec, str) and rec.strip():
                text_fmt, first = sniff_text(rec), False
            elif first and rec is not None and not (isinstance(rec, str) and not rec.strip()):
                first = False
            fmt, why = _format_for(rec, forced, text_fmt)
            if fmt is None:
                if why:
                    s.records += 1
                    s.rejected[why] += 1
                continue
            s.records += 1
            if isinstance(rec, str):
                rec, _ = cap(rec, MAX_LINE_CHARS)
            try:
                out = parsers.get(fmt)(rec)
            except ParseError as exc:
                s.rejected[f"{fmt}:{exc.reason}"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - input boundary: counted, never crashes the hunt
                s.rejected[f"{fmt}:malformed:{type(exc).__name__}"] += 1
                continue
            s.parsed += 1
            s.formats[fmt] += 1
            for ev in out if isinstance(out, list) else () if out is None else (out,):
                yield ev, n
    except _READ_ERRORS as exc:
        s.rejected[f"truncated_archive:{type(exc).__name__}"] += 1
    for ev in parsers.flush():
        yield ev, last


def read_events(paths: list[str | Path], fmt: str = "auto", year: int | None = None,
                max_events: int = 3_000_000) -> tuple[list[tuple[SecurityEvent, Provenance]], dict[str, FileSummary]]:
    """Every event in ``paths`` (files, folders, archives), sorted by time, and a summary per input file.

    ``max_events`` bounds memory: events past it are counted as ``over_event_cap`` rejections.
    """
    events: list[tuple[SecurityEvent, Provenance]] = []
    summaries: dict[str, FileSummary] = {}
    for path in iter_paths(paths):
        s = summaries.setdefault(str(path), FileSummary(str(path)))
        for m in iter_members(path):
            if m.kind == "error":
                s.rejected[m.problem or "unreadable"] += 1
                continue
            if m.kind == "skipped":
                ext = m.name.rsplit(".", 1)[-1].lower()
                s.skipped_members.append(f"{m.name} ({UNSUPPORTED.get(ext, 'not a log format')})")
                continue
            for ev, n in _member_events(m, fmt, year, s):
                if len(events) >= max_events:
                    s.rejected["over_event_cap"] += 1
                    continue
                cap_fields(ev, MAX_FIELD_CHARS)
                s.events += 1
                events.append((ev, Provenance(str(path), m.name, n)))
    events.sort(key=lambda ep: ep[0].timestamp)
    return events, summaries
