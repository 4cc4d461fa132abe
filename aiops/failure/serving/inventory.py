"""How many VMs run on each host, for the "N VMs to move" in a host's recommendation.

The counts come from an injected async source (the simulator's inventory, or a control plane) and are
refreshed every `refresh_s`, so VMs that moved or were added show up without a restart.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable, Mapping

__all__ = ["DEFAULT_INVENTORY_REFRESH_S", "VmCounts", "count_vms"]

log = logging.getLogger(__name__)

DEFAULT_INVENTORY_REFRESH_S = 60.0


def count_vms(inventory: Mapping[str, Any]) -> dict[str, int]:
    """host_id -> number of VMs in an inventory answer ({"vms": [{"host_id": ...}, ...]})."""
    counts: dict[str, int] = {}
    for vm in inventory.get("vms", []):
        counts[vm["host_id"]] = counts.get(vm["host_id"], 0) + 1
    return counts


class VmCounts:
    """VM count per host, re-read from `fetch` when older than `refresh_s`; a failed or absent source keeps the
    last counts (none at first): recommendations then just leave the VM count out. Failures are counted and
    the last one kept (`stats`), so a broken inventory source shows instead of silently freezing the counts."""

    def __init__(self, fetch: Callable[[], Awaitable[Mapping[str, Any] | None]],
                 refresh_s: float = DEFAULT_INVENTORY_REFRESH_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self.refresh_s = refresh_s
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._fetched_at: float | None = None
        self.refreshes = 0
        self.errors = 0
        self.last_error: str | None = None

    def __call__(self, host_id: str) -> int:
        return self._counts.get(host_id, 0)

    async def refresh(self) -> None:
        """Re-read the inventory if the counts are stale."""
        now = self._clock()
        if self._fetched_at is not None and now - self._fetched_at < self.refresh_s:
            return
        self._fetched_at = now
        try:
            inventory = await self._fetch()
            if inventory is not None:
                self._counts = count_vms(inventory)
        except Exception as exc:  # keep serving with the last counts; the failure shows in stats()
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("inventory refresh failed, keeping the last counts: %s", self.last_error, exc_info=True)
            return
        self.refreshes += 1

    def stats(self) -> dict[str, Any]:
        """Hosts counted, successful refreshes, failed ones and the last failure (for the predictor's stats)."""
        return {"hosts": len(self._counts), "refreshes": self.refreshes, "errors": self.errors,
                "last_error": self.last_error}
