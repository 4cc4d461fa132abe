"""Append-only, hash-chained audit trail of every response request, decision and outcome.

Stores are pluggable (memory, JSONL file, Redis list) so a restarted engine can rebuild its
records and idempotency keys from the trail.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Protocol

log = logging.getLogger(__name__)


def parse_rows(lines: Iterable[str | bytes], where: str) -> tuple[list[dict[str, Any]], int]:
    """(rows, lines skipped): a torn or garbled line (a writer died mid-line) is skipped with a
    warning instead of stopping whoever reads the trail."""
    rows: list[dict[str, Any]] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            skipped += 1
            continue
        rows.append(row)
    if skipped:
        log.warning("audit trail %s: skipped %d unreadable line(s) (torn write?)", where, skipped)
    return rows, skipped


class AuditStore(Protocol):
    skipped: int  # unreadable rows seen by the last records()

    def append(self, record: dict[str, Any]) -> None: ...
    def records(self) -> list[dict[str, Any]]: ...


class MemoryAuditStore:
    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self.skipped = 0

    def append(self, record: dict[str, Any]) -> None:
        self._rows.append(dict(record))

    def records(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._rows]


class JsonlAuditStore:
    """Append-only JSON lines; each write is one ``write`` + flush + fsync of a complete line.

    A line torn by a crash is left in place (the trail is append-only) and skipped when read; the
    next append starts on a fresh line so it is never glued to the fragment.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.skipped = 0

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        with open(self.path, "a+b") as fh:
            end = fh.seek(0, os.SEEK_END)
            if end:
                fh.seek(end - 1)
                if fh.read(1) != b"\n":
                    line = b"\n" + line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            rows, self.skipped = parse_rows(fh, str(self.path))
        return rows


class RedisAuditStore:
    """Append-only Redis list (RPUSH), so the audit trail and the idempotency it carries survive an actor
    restarting on another node of the cluster."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key
        self.skipped = 0

    @classmethod
    def from_url(cls, url: str, prefix: str = "aiops") -> "RedisAuditStore":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), f"{prefix}:security:audit")

    def append(self, record: dict[str, Any]) -> None:
        self.client.rpush(self.key, json.dumps(record, sort_keys=True, default=str))

    def records(self) -> list[dict[str, Any]]:
        rows, self.skipped = parse_rows(self.client.lrange(self.key, 0, -1), self.key)
        return rows


class AuditLog:
    """Hash-chained records: editing or deleting any past line breaks :meth:`verify`."""

    def __init__(self, store: AuditStore | None = None) -> None:
        self.store = store or MemoryAuditStore()
        self._lock = threading.Lock()
        prev = self.store.records()
        self.skipped_at_start = getattr(self.store, "skipped", 0)  # torn / garbled rows skipped when read
        self._prev = prev[-1]["hash"] if prev else "0" * 64
        self._seq = prev[-1]["seq"] + 1 if prev else 0
        # the trail as read once at start, for the engines that rebuild their state from it
        # (responses, suppressions); release_start_rows() frees it once they have
        self.start_rows: list[dict[str, Any]] = prev

    def release_start_rows(self) -> None:
        self.start_rows = []

    def write(self, event: str, **data: Any) -> dict[str, Any]:
        with self._lock:
            rec = {"seq": self._seq, "ts": time.time(), "event": event, **data, "prev": self._prev}
            body = json.dumps(rec, sort_keys=True, default=str)
            rec["hash"] = hashlib.sha256(body.encode()).hexdigest()
            self.store.append(rec)
            self._prev, self._seq = rec["hash"], self._seq + 1
            return rec

    def verify(self) -> bool:
        prev = "0" * 64
        for rec in self.store.records():  # unreadable rows are skipped; they never joined the chain
            r = dict(rec)
            h = r.pop("hash")
            if r["prev"] != prev or hashlib.sha256(json.dumps(r, sort_keys=True, default=str).encode()).hexdigest() != h:
                return False
            prev = h
        return True

    def records(self) -> list[dict[str, Any]]:
        return self.store.records()
