"""Until a supervised failure model is promoted, predictions come from the label-free fleet health score.

`HealthFallback` is the policy, Ray-free: it reads each target's recent feature history from injected async
look-ups (the shards' point-in-time history query in production), fits one health score per target type
with per-target baselines (aiops/failure/health/fleet.py) off the event loop, and swaps the new
`UnsupervisedCore` in; the model source serves it whenever the registry has no production model, so a
promotion (and a rollback to nothing) switches without a restart. Refits come sooner while the history is
young (the interval doubles from `retry_s` up to `refit_s`), so the score keeps up with a fleet that just
started reporting.
"""
from __future__ import annotations

import logging
import asyncio
import math
import time
from typing import Any, Awaitable, Callable, Mapping

from aiops.failure.health.config import FleetHealthConfig, HealthConfig
from aiops.failure.health.fleet import FleetHealth, fit_fleet_health
from aiops.failure.serving.unsupervised import UnsupervisedCore

__all__ = ["HealthFallback", "history_window"]

log = logging.getLogger(__name__)

ListTargets = Callable[[], Awaitable[list[Mapping[str, Any]]]]
History = Callable[[str, float, float, float], Awaitable[Mapping[str, Any] | None]]


def history_window(first_ts: float, last_ts: float, cfg: FleetHealthConfig) -> tuple[float, float, float]:
    """(start, end, step) of the history rows read for a target with samples from `first_ts` to `last_ts`: up to
    the last `lookback_s`, at `step_s` or wider so at most `max_rows_per_target` rows are computed (a young
    target gets rows at `step_s` over what it has)."""
    span = max(0.0, min(cfg.lookback_s, last_ts - first_ts))
    step = max(cfg.step_s, span / cfg.max_rows_per_target)
    rows = min(cfg.max_rows_per_target, int(span // step) + 1)
    return last_ts - (rows - 1) * step, last_ts, step


class HealthFallback:
    """Fits and holds the label-free core; `core()` is what the model source falls back to."""

    def __init__(self, config: FleetHealthConfig, health: HealthConfig, horizon_s: float,
                 list_targets: ListTargets, history: History, vms_on_host: Callable[[str], int] | None = None,
                 clock: Callable[[], float] = time.time, in_thread: bool = True) -> None:
        self.config = config
        self.health = health
        self.horizon_s = horizon_s
        self._list_targets = list_targets
        self._history = history
        self._vms_on_host = vms_on_host
        self._clock = clock
        self._in_thread = in_thread
        self._core: UnsupervisedCore | None = None
        self.first_fit_at: float | None = None
        self.next_fit_at = -math.inf
        self.fits = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_fit_s: float | None = None
        self._task: asyncio.Task | None = None

    def core(self) -> UnsupervisedCore | None:
        """The fitted core (None until the first fit succeeds, or when disabled)."""
        return self._core if self.config.enabled else None

    async def fit_once(self) -> bool:
        """Read the fleet's recent history and fit; True when a new core replaced the old one."""
        t0 = time.process_time()
        targets = await self._list_targets()
        sem = asyncio.Semaphore(self.config.concurrency)

        async def one(t: Mapping[str, Any]) -> Mapping[str, Any] | None:
            last = float(t["last_ts"])
            start, end, step = history_window(float(t.get("first_ts", last - self.config.lookback_s)), last, self.config)
            async with sem:
                try:
                    return await self._history(str(t["target_id"]), start, end, step)
                except Exception:  # a target that vanished, a shard restarting: fit on the rest
                    return None
        usable = [t for t in targets if math.isfinite(float(t.get("last_ts", math.nan)))]
        histories = [h for h in await asyncio.gather(*(one(t) for t in usable)) if h]
        fit = (await asyncio.to_thread(self._fit, histories)) if self._in_thread else self._fit(histories)
        if not fit:
            return False
        now = self._clock()
        rows = sum(len(h["rows"]) for h in histories)
        self._core = UnsupervisedCore(FleetHealth(fit, self.config.step_s), now, self.horizon_s, self._vms_on_host,
                                      {"history_rows_read": rows, "history_targets": len(histories),
                                       "fit_cpu_s": round(time.process_time() - t0, 3)})
        self.first_fit_at = self.first_fit_at or now
        self.fits += 1
        return True

    def _fit(self, histories: list[Mapping[str, Any]]) -> dict[str, Any]:
        return fit_fleet_health(histories, self.health, self.config.min_rows_per_target)

    def interval(self) -> float:
        """Seconds to the next fit: retry_s until fitted, then doubling with the model's age up to refit_s."""
        if self.first_fit_at is None:
            return self.config.retry_s
        return min(self.config.refit_s, max(self.config.retry_s, self._clock() - self.first_fit_at))

    async def maybe_fit(self) -> bool:
        """Fit when due; failures are counted and kept (`stats`), never raised into a request."""
        if not self.config.enabled or self._clock() < self.next_fit_at:
            return False
        try:
            fitted = await self.fit_once()
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("unsupervised health model fit failed: %s", self.last_error, exc_info=True)
            fitted = False
        self.next_fit_at = self._clock() + self.interval()
        return fitted

    async def run(self) -> None:
        """Fit on schedule until cancelled."""
        while True:
            await self.maybe_fit()
            await asyncio.sleep(max(0.5, self.next_fit_at - self._clock()))

    def ensure_running(self) -> None:
        """Start the background loop on the running event loop (idempotent; restarts it if it died)."""
        if self.config.enabled and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self.run())

    def stats(self) -> dict[str, Any]:
        core = self._core
        return {"enabled": self.config.enabled, "version": core.version if core else None, "fits": self.fits,
                "errors": self.errors, "last_error": self.last_error,
                "types": {k: len(t.baselines) for k, t in core.fleet.types.items()} if core else {}}
