"""Recorded files → (member name, line number, record) without reading whole archives into memory.

Why here and not in the parser registry: hunting reads whatever an operator exported (folders,
``.zip``/``.ZIP``/``.tar.gz``/``.tgz``/``.gz`` archives whatever the case, EVTX, JSON lines, JSON arrays,
Zeek TSV), while the registry parses one record at a time for the running engine. Archives are
detected by their name *and* magic bytes; a truncated archive yields what it holds and one
``truncated_archive`` problem, never an exception.
"""
from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from aiops.security.parsers.base import BadJSON

__all__ = ["Member", "iter_paths", "iter_members", "iter_records", "MAX_MEMBER_BYTES"]

MAX_MEMBER_BYTES = 1 << 30  # a JSON array (the one shape that must be held whole) bigger than this is refused
_SKIP_SUFFIXES = (".pcap", ".pcapng", ".xlsx", ".png", ".jpg", ".pdf", ".exe", ".dll", ".yaml", ".yml", ".md")
_MAX_NESTING = 3  # archives inside archives


@dataclass
class Member:
    """One readable stream: a plain file or an archive member; ``problem`` set when it could not be read."""

    file: str
    name: str
    kind: str  # text | evtx | skipped | error
    stream: IO[bytes] | None = None
    problem: str | None = None


def iter_paths(paths: list[str | Path]) -> Iterator[Path]:
    """Files named, and files under folders named, in sorted order."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from (f for f in sorted(p.rglob("*")) if f.is_file())
        else:
            yield p


def _kind_of(name: str, head: bytes) -> str:
    low = name.lower()
    if low.endswith(_SKIP_SUFFIXES):
        return "skipped"
    if head.startswith(b"PK\x03\x04") or low.endswith(".zip"):
        return "zip"
    if head.startswith(b"\x1f\x8b") or low.endswith((".gz", ".tgz")):
        return "gzip"
    if head.startswith(b"ElfFile\x00") or low.endswith(".evtx"):
        return "evtx"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    if low.endswith(_SKIP_SUFFIXES):
        return "skipped"
    return "text"


def iter_members(path: Path, file: str | None = None, depth: int = 0) -> Iterator[Member]:
    """Every readable stream in ``path`` (recursing into archives)."""
    file = file or str(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        yield Member(file, path.name, "error", problem=f"unreadable:{type(exc).__name__}")
        return
    with fh:
        yield from _members(fh, path.name, file, depth)


def _members(fh: IO[bytes], name: str, file: str, depth: int) -> Iterator[Member]:
    head = fh.read(512)
    if _seekable(fh):
        fh.seek(0)
    else:
        fh = io.BufferedReader(_Prefixed(head, fh), buffer_size=1 << 16)
    kind = _kind_of(name, head)
    if kind in ("zip", "gzip", "tar") and depth >= _MAX_NESTING:
        yield Member(file, name, "error", problem="archive_nesting_too_deep")
        return
    try:
        if kind == "zip":
            src = fh if _seekable(fh) else io.BytesIO(fh.read(MAX_MEMBER_BYTES))
            with zipfile.ZipFile(src) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        with zf.open(info) as inner:
                            yield from _members(inner, info.filename, file, depth + 1)
        elif kind == "gzip":
            low = name.lower()
            inner_name = name[:-3] if low.endswith(".gz") else name[:-4] + ".tar" if low.endswith(".tgz") else name
            yield from _members(gzip.GzipFile(fileobj=fh), inner_name, file, depth + 1)
        elif kind == "tar":
            with tarfile.open(fileobj=fh, mode="r|") as tf:
                for info in tf:
                    inner = tf.extractfile(info) if info.isfile() else None
                    if inner is not None:
                        yield from _members(inner, info.name, file, depth + 1)
        else:
            yield Member(file, name, kind, fh)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        yield Member(file, name, "error", problem=f"truncated_archive:{type(exc).__name__}")


def _seekable(fh: Any) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, OSError):  # tarfile's stream members do not say
        return False


class _Prefixed(io.RawIOBase):
    """A forward-only stream with its already-read head put back in front (to sniff, then read)."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self.head = head
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.raw.read(len(b))
        b[: len(data)] = data
        return len(data)


def iter_records(member: Member) -> Iterator[tuple[int, Any]]:
    """(line or record number, record) for one text or EVTX member.

    JSON lines stay streamed; a JSON array or pretty-printed objects are decoded whole (capped at
    ``MAX_MEMBER_BYTES``). Text that is not JSON is yielded line by line for the text parsers.
    """
    assert member.stream is not None
    if member.kind == "evtx":
        yield from _evtx_records(member.stream)
        return
    text = io.TextIOWrapper(member.stream, encoding="utf-8", errors="replace", newline=None)
    first = ""
    lines = iter(text)
    n = 0
    for first in lines:
        n += 1
        if first.strip():
            break
    s = first.lstrip("\ufeff").lstrip()
    if s.startswith("[") or (s.startswith("{") and not _complete_json(s)):
        body = first + text.read(MAX_MEMBER_BYTES)
        if text.read(1):
            yield n, BadJSON(s[:200], "member_too_large")
            return
        from aiops.security.parsers.registry import iter_json_records

        for i, rec in enumerate(iter_json_records(body), 1):
            yield i, rec
        return
    if s:
        yield n, first
    for line in lines:
        n += 1
        yield n, line


def _complete_json(s: str) -> bool:
    try:
        json.loads(s)
        return True
    except ValueError:
        return False


def _evtx_records(stream: IO[bytes]) -> Iterator[tuple[int, Any]]:
    from evtx import PyEvtxParser  # pinned in pyproject; Rust, bounded per chunk

    data = stream.read(MAX_MEMBER_BYTES)
    parser = PyEvtxParser(io.BytesIO(data))
    for rec in parser.records_json():
        try:
            yield int(rec.get("event_record_id") or 0), json.loads(rec["data"])
        except (ValueError, KeyError) as exc:
            yield 0, BadJSON(str(rec)[:200], f"bad_evtx_record:{type(exc).__name__}")
