"""The simulator collector: drives the fleet simulator on a (possibly accelerated) clock.

The control plane (the placement optimiser actor's) owns where each VM runs: before each batch of
ticks the collector reads its state version and, when it changed, applies its moves to the
simulator (``aiops.placement.closed_loop.PlacementSync``), so approved evacuations move the VMs'
telemetry (and their fate) to the new hosts from the next tick.
"""
from __future__ import annotations

import time
from typing import Any

import ray

from actors.collectors.base import Collector
from actors.names import OPTIMIZER_NAME
from actors.router import ShardRouter
from aiops.placement.closed_loop import PlacementSync
from aiops.settings import Settings
from aiops.telemetry.demo import apply_demo, plan_demo
from aiops.telemetry.logparse import events_to_batch, parse_line
from aiops.telemetry.simulator import FleetSimulator, RealTimeClock

__all__ = ["SimulatorCollector", "CONTROL_PLANE_POLL_S"]

CONTROL_PLANE_POLL_S = 1.0  # wall seconds between reads of the control plane's state version


class SimulatorCollector(Collector):
    """Drives the fleet simulator on a (possibly accelerated) clock."""

    kind = "simulator"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None) -> None:
        super().__init__(name, settings, router)
        self.sim = FleetSimulator(settings.simulator)
        if (demo := plan_demo(settings.simulator, self.sim.fleet)) is not None:
            apply_demo(self.sim, demo)  # simulator.demo: a failing host and an attack campaign early on
        self.sync = PlacementSync(self.sim.placement())
        self._synced_at = 0.0

    async def follow_control_plane(self, min_interval_s: float = 0.0) -> int:
        """Apply the control plane's moves (at most every ``min_interval_s`` wall seconds); returns VMs moved."""
        if time.monotonic() - self._synced_at < min_interval_s:
            return 0
        self._synced_at = time.monotonic()
        try:
            opt = ray.get_actor(OPTIMIZER_NAME, namespace=self.settings.ray.namespace)
        except ValueError:
            return 0  # no placement engine: the simulator's own placement stands
        try:
            return len(self.sync.sync(self.sim, await opt.control_state.remote()))
        except Exception as exc:  # the optimiser restarting: try again next round
            self.stats_.error(f"control plane: {exc}")
            return 0

    async def placement(self) -> dict[str, str]:
        """Where each simulated VM runs now (the control plane's moves applied)."""
        return self.sim.placement()

    async def inventory(self) -> dict[str, Any]:
        f = self.sim.fleet
        return {"hosts": [h.__dict__ for h in f.hosts], "vms": [v.__dict__ for v in f.vms]}

    async def ground_truth(self) -> dict[str, Any]:
        return self.sim.ground_truth()

    async def sim_time(self) -> float:
        return self.sim.now

    async def step(self, seconds: float) -> int:
        """Advance by simulated seconds at once (tests, backfill); returns samples stored."""
        await self.follow_control_plane()
        return await self._ingest_ticks(self.sim.advance(seconds))

    async def _ingest_ticks(self, ticks: list) -> int:
        if not ticks:
            return 0
        batches = [t.metrics for t in ticks]
        events = [e for t in ticks for line in t.logs if (e := parse_line(line)) is not None]
        log_batch = events_to_batch(events)
        if len(log_batch):
            batches.append(log_batch)
        self._keep_events([e for t in ticks for e in t.events])
        self.stats_.messages += len(ticks)
        await self._send_security(lambda intake: intake.parse_ticks(ticks))
        totals = await self.router.ingest(batches)
        self.stats_.stored(totals["accepted"])
        return totals["accepted"]

    async def run(self) -> None:
        clock = RealTimeClock(self.sim.now, self.settings.simulator.speedup)
        while not self._stop.is_set():
            try:
                await self.follow_control_plane(CONTROL_PLANE_POLL_S)
                lag = clock.sim_now() - self.sim.now
                await self._ingest_ticks(self.sim.advance(min(lag, 600 * self.settings.simulator.interval_s)))
            except Exception as exc:  # a shard restarting: keep the loop alive, count it
                self.stats_.error(exc)
            if not await self._sleep(max(0.05, self.settings.simulator.interval_s / self.settings.simulator.speedup)):
                break
