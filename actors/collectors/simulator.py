"""The simulator collector: drives the fleet simulator on a (possibly accelerated) clock."""
from __future__ import annotations

from typing import Any

from actors.collectors.base import Collector
from actors.router import ShardRouter
from aiops.settings import Settings
from aiops.telemetry.demo import apply_demo, plan_demo
from aiops.telemetry.logparse import events_to_batch, parse_line
from aiops.telemetry.simulator import FleetSimulator, RealTimeClock

__all__ = ["SimulatorCollector"]


class SimulatorCollector(Collector):
    """Drives the fleet simulator on a (possibly accelerated) clock."""

    kind = "simulator"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None) -> None:
        super().__init__(name, settings, router)
        self.sim = FleetSimulator(settings.simulator)
        if (demo := plan_demo(settings.simulator, self.sim.fleet)) is not None:
            apply_demo(self.sim, demo)  # simulator.demo: a failing host and an attack campaign early on

    async def inventory(self) -> dict[str, Any]:
        f = self.sim.fleet
        return {"hosts": [h.__dict__ for h in f.hosts], "vms": [v.__dict__ for v in f.vms]}

    async def ground_truth(self) -> dict[str, Any]:
        return self.sim.ground_truth()

    async def sim_time(self) -> float:
        return self.sim.now

    async def step(self, seconds: float) -> int:
        """Advance by simulated seconds at once (tests, backfill); returns samples stored."""
        return await self._ingest_ticks(self.sim.advance(seconds))

    async def _ingest_ticks(self, ticks: list) -> int:
        if not ticks:
            return 0
        batches = [t.metrics for t in ticks]
        events = [e for t in ticks for line in t.logs if (e := parse_line(line)) is not None]
        log_batch = events_to_batch(events)
        if len(log_batch):
            batches.append(log_batch)
        for t in ticks:
            self.recent_events.extend(t.events)
            self.stats_.events += len(t.events)
        self.stats_.messages += len(ticks)
        await self._send_security(lambda intake: intake.parse_ticks(ticks))
        totals = await self.router.ingest(batches)
        self.stats_.stored(totals["accepted"])
        return totals["accepted"]

    async def run(self) -> None:
        clock = RealTimeClock(self.sim.now, self.settings.simulator.speedup)
        while not self._stop.is_set():
            try:
                lag = clock.sim_now() - self.sim.now
                await self._ingest_ticks(self.sim.advance(min(lag, 600 * self.settings.simulator.interval_s)))
            except Exception as exc:  # a shard restarting: keep the loop alive, count it
                self.stats_.error(exc)
            if not await self._sleep(max(0.05, self.settings.simulator.interval_s / self.settings.simulator.speedup)):
                break
