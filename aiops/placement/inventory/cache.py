"""A fleet snapshot refreshed at most every ``refresh_s``, the same objects in between.

Scoring caches arrays derived from one ``Inventory`` object, so handing out the same object
between refreshes keeps those caches warm; a failed refresh keeps the last good snapshot
(a blip in a collector must not fail every request), and only a first failure is raised.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from aiops.placement.inventory.fleet import FleetSnapshot
from aiops.placement.inventory.model import Inventory

DEFAULT_REFRESH_S = 5.0

log = logging.getLogger(__name__)


class CachedFleet:
    """Snapshot refreshed at most every ``refresh_s``; the same objects in between."""

    def __init__(self, fetch: Callable[[], FleetSnapshot], refresh_s: float = DEFAULT_REFRESH_S) -> None:
        self.fetch = fetch
        self.refresh_s = refresh_s
        self._snap: FleetSnapshot | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0
        self.last_error: str | None = None

    def snapshot(self) -> FleetSnapshot:
        """The cached snapshot, fetched again once it is `refresh_s` old."""
        with self._lock:
            if self._snap is None or time.monotonic() - self._at >= self.refresh_s:
                try:
                    self._snap = self.fetch()
                    self.refreshes += 1
                    self.last_error = None
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("fleet snapshot refresh failed: %s", self.last_error, exc_info=True)
                    if self._snap is None:
                        raise
                self._at = time.monotonic()   # a failed refresh keeps the last snapshot until the next period
            return self._snap

    def inventory(self) -> Inventory:
        """The current snapshot's inventory (refreshed when stale)."""
        return self.snapshot().inventory

    def invalidate(self) -> None:
        """Refetch on the next call (after the control plane moved something)."""
        with self._lock:
            self._at = 0.0
