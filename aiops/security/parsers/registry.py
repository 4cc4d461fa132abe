"""Parser registry and file readers: any supported input → :class:`SecurityEvent` or a counted rejection.

Each format parser takes one record (a text line or a decoded JSON object) and either returns
an event, a list of events (auditd releases a record group at once), None (a valid record
that carries no event), or raises :class:`ParseError` with a short machine-readable reason.
``parse_records`` / ``parse_file`` wrap that contract so callers never see an exception
from bad input: they get events, and the :class:`RejectionCounter` gets (source, reason).
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from aiops.errors import InvalidRequestError
from aiops.patterns import MAX_FIELD_CHARS, MAX_LINE_CHARS, cap
from aiops.security.events import Rejection, RejectionCounter, SecurityEvent
from aiops.security.parsers.base import BadJSON, ParseError, RecordParser


# Formats whose records are JSON objects (one per line, a JSON array, or concatenated objects).
JSON_FORMATS = {"windows", "sysmon", "winlogbeat", "cloudtrail", "zeek", "novacron", "vmconnection", "azure_syslog", "platform",
                "azure_ad", "m365", "office"}


def _registry(year: int | None = None) -> dict[str, RecordParser]:
    # Imported lazily: the Windows parser pulls in pySigma's log-source mapping.
    from aiops.security.parsers import cloud as parsers_cloud
    from aiops.security.parsers import linux as parsers_linux
    from aiops.security.parsers import platform_events as parsers_platform
    from aiops.security.parsers import microsoft as parsers_ms
    from aiops.security.parsers import windows_shapes as parsers_winshapes
    from aiops.security.parsers import zeek_tsv as parsers_zeek_tsv

    return {
        "sshd": parsers_linux.AuthSyslogParser(year),
        "auth": parsers_linux.AuthSyslogParser(year),
        "auditd": parsers_linux.AuditdParser(),
        "azure_syslog": parsers_linux.parse_azure_syslog,
        "windows": parsers_winshapes.parse_windows_any,
        "sysmon": parsers_winshapes.parse_windows_any,
        "winlogbeat": parsers_winshapes.parse_windows_any,
        "cloudtrail": parsers_cloud.parse_cloudtrail,
        "zeek": parsers_cloud.parse_zeek,
        "zeek_tsv": parsers_zeek_tsv.ZeekTsvParser(),
        "azure_ad": parsers_ms.parse_azure_ad,
        "m365": parsers_ms.parse_m365_defender,
        "office": parsers_ms.parse_office_activity,
        "novacron": parsers_cloud.parse_novacron_audit,
        "vmconnection": parsers_cloud.parse_vmconnection,
        "platform": parsers_platform.parse_platform_event,
    }


def get_parser(fmt: str, year: int | None = None) -> RecordParser:
    """The record parser for ``fmt``; a fresh instance for stateful ones (auditd groups lines).

    ``year`` completes BSD syslog timestamps, which carry none (default: current UTC year).
    """
    reg = _registry(year)
    if fmt not in reg:
        raise KeyError(f"unknown security log format {fmt!r}; known: {sorted(reg)}")
    return reg[fmt]


def formats() -> list[str]:
    """The names accepted as a log source's ``security:`` format and as NATS subject suffixes."""
    return sorted(_registry())


class UnknownFormatError(InvalidRequestError):
    """A log source names a security format no parser handles (a config error, caught at start-up)."""


def validate_format(name: str) -> str:
    """``name`` if a parser handles it, else :class:`UnknownFormatError` (a ValueError) naming the known ones.

    Start-up code validates configured log sources with this instead of importing the registry itself.
    """
    known = formats()
    if name not in known:
        raise UnknownFormatError(f"unknown security log format {name!r}; known: {known}")
    return name


def parse_records(
    fmt: str, records: Iterable[Any], rejections: RejectionCounter | None = None, year: int | None = None,
    parser: RecordParser | None = None, max_line_chars: int = MAX_LINE_CHARS, max_field_chars: int = MAX_FIELD_CHARS,
) -> Iterator[SecurityEvent]:
    """Parse records one by one; bad ones are counted in ``rejections`` and skipped.

    Pass ``parser`` (from :func:`get_parser`) to keep one parser across calls on a stream. Text
    lines are cut to ``max_line_chars`` before parsing and event field values to ``max_field_chars``
    before any Sigma or intel pattern sees them; each cut counts in ``rejections.truncated``.
    """
    parser = parser or get_parser(fmt, year)
    rej = rejections if rejections is not None else RejectionCounter()
    for n, rec in enumerate(records, 1):
        if isinstance(rec, str) and len(rec) > max_line_chars:
            rec = rec[:max_line_chars]
            rej.truncated[fmt] += 1
        try:
            ev = parser(rec)
        except ParseError as exc:
            rej.add(Rejection(fmt, exc.reason, n, _sample(rec)))
            continue
        except Exception as exc:  # noqa: BLE001 - input boundary: any surprise is counted, never crashes the stream
            rej.add(Rejection(fmt, f"malformed:{type(exc).__name__}", n, _sample(rec)))
            continue
        for e in ev if isinstance(ev, list) else () if ev is None else (ev,):
            if cut := cap_fields(e, max_field_chars):
                rej.truncated[fmt] += cut
            yield e
    flush = getattr(parser, "flush", None)
    if flush is not None:
        for e in flush():
            rej.truncated[fmt] += cap_fields(e, max_field_chars)
            yield e


_CAP_DEPTH = 64  # nesting walked for long strings; deeper garbage is the parsers' and flatten's concern


def cap_fields(ev: SecurityEvent, limit: int) -> int:
    """Cut every string field value (nested ones too) and the raw record to ``limit``; how many were cut."""
    if not _big(ev.fields, limit) and not _long_attr(ev, limit):
        return 0  # the common case, decided in one pass over the values
    cut = 0

    def walk(node: Any, depth: int) -> Any:
        nonlocal cut
        if isinstance(node, str):
            s, c = cap(node, limit)
            cut += c
            return s
        if depth >= _CAP_DEPTH:
            return node
        if isinstance(node, dict):
            return {k: walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    if _big(ev.fields, limit):
        ev.fields = walk(ev.fields, 0)
    for attr in ("raw", "host", "user", "src_ip", "process"):
        v = getattr(ev, attr, None)
        if isinstance(v, str) and len(v) > limit:
            setattr(ev, attr, walk(v, 0))
    return cut


def _big(node: Any, limit: int) -> bool:
    """Cheap pre-check: only events with a long string pay for the rebuild. Flat field dicts (what
    line parsers make) take one loop; nested ones the iterative, depth-bounded walk."""
    for v in node.values():
        if isinstance(v, str):
            if len(v) > limit:
                return True
        elif isinstance(v, (dict, list)):
            return _big_nested(node, limit)
    return False


def _long_attr(ev: SecurityEvent, limit: int) -> bool:
    for v in (ev.raw, ev.host, ev.user, ev.src_ip, ev.process):
        if isinstance(v, str) and len(v) > limit:
            return True
    return False


def _big_nested(node: Any, limit: int) -> bool:
    stack = [(node, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if len(v) > limit:
                return True
        elif depth < _CAP_DEPTH and isinstance(v, (dict, list)):
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


def _sample(rec: Any) -> str:
    s = rec if isinstance(rec, str) else repr(rec)
    return s[:200]


def iter_json_records(text: str) -> Iterator[Any]:
    """Yield JSON values from JSON-lines, a JSON array, or concatenated objects.

    Undecodable fragments are yielded as ``BadJSON`` markers so they are counted, not lost.
    """
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        try:
            obj, j = dec.raw_decode(text, i)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or nesting deeper than the decoder allows
            end = text.find("\n", i)
            end = n if end < 0 else end
            yield BadJSON(text[i:end], str(exc))
            i = end + 1
            continue
        if isinstance(obj, list) and i == 0:
            yield from obj
        else:
            yield obj
        i = j


def read_text_members(path: Path) -> Iterator[tuple[str, str]]:
    """(name, text) for a plain file or each non-binary member of a zip archive."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or info.filename.endswith((".pcap", ".pcapng")):
                    continue
                with zf.open(info) as fh:
                    yield info.filename, io.TextIOWrapper(fh, encoding="utf-8", errors="replace").read()
    else:
        yield path.name, path.read_text(encoding="utf-8", errors="replace")


def parse_file(
    fmt: str, path: Path | str, rejections: RejectionCounter | None = None, year: int | None = None
) -> Iterator[SecurityEvent]:
    """Parse a log file (or zip of files) in format ``fmt``."""
    path = Path(path)
    for _name, text in read_text_members(path):
        records: Iterable[Any] = iter_json_records(text) if fmt in JSON_FORMATS else text.splitlines()
        yield from parse_records(fmt, records, rejections, year)
