"""The log collector: follows log files across rotation and feeds shards (and the correlator)."""
from __future__ import annotations

import os
from pathlib import Path

from actors.collectors.base import Collector
from actors.router import ShardRouter
from aiops.settings import Settings
from aiops.telemetry.logparse import events_to_batch, parse_lines

__all__ = ["LogTailer"]


class LogTailer(Collector):
    """Follows log files across rotation (inode change or truncation) from their end."""

    kind = "logs"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None, from_start: bool = False) -> None:
        super().__init__(name, settings, router)
        self._pos: dict[Path, tuple[int, int]] = {}  # path -> (inode, offset)
        self._partial: dict[Path, str] = {}
        self._from_start = from_start

    def _read_new(self, path: Path) -> list[str]:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return []
        inode, offset = self._pos.get(path, (st.st_ino, 0 if self._from_start else st.st_size))
        if inode != st.st_ino or st.st_size < offset:  # rotated or truncated: start the new file
            inode, offset = st.st_ino, 0
            self._partial.pop(path, None)
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read(4 * 1024 * 1024)
        self._pos[path] = (inode, offset + len(chunk))
        text = self._partial.pop(path, "") + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        if lines and lines[-1]:
            self._partial[path] = lines[-1]
        return [l for l in lines[:-1] if l]

    async def poll_once(self) -> int:
        stored = 0
        for src in self.settings.logs:
            lines = self._read_new(src.path)
            if not lines:
                continue
            if src.security:  # a file marked `security: <format>` also feeds the correlator
                await self._send_security(lambda intake: intake.parse_payload(src.security, "\n".join(lines)), required=True)
            parsed = parse_lines(lines, default_host=src.target, max_chars=self.settings.patterns.max_line_chars)
            events = parsed.events
            self.stats_.messages += len(lines)
            self.stats_.lines_ignored += parsed.ignored
            self.stats_.lines_truncated += parsed.truncated
            self.recent_events.extend({"ts": e.ts, "type": "log", "host": e.host, "kind": e.kind, **e.fields} for e in events)
            batch, outside = events_to_batch(events).within(self.settings.ingest.window())
            self.stats_.reject(outside)
            if len(batch):
                totals = await self.router.ingest([batch])
                self.stats_.stored(totals["accepted"])
                stored += totals["accepted"]
        return stored

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.poll_once()
            except Exception as exc:
                self.stats_.error(exc)
            if not await self._sleep(1.0):
                return
