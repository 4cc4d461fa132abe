"""`ConsoleApi` for the ingress: the console's joined reads from the engine's actors.

The fleet comes from the simulator collector (inventory, and where each VM runs now), the placement
optimiser (cordoned hosts) and the failure monitor (the latest snapshot of predictions); the risk trend
from the monitor; responses and the audit trail from the security correlator; model versions from the
registry; retraining from its scheduler. A missing actor gives an empty answer, not an error: an engine
started without an engine part still serves the rest of the console.
"""
from __future__ import annotations

import asyncio
from typing import Any

import ray

from actors.names import CORRELATOR_NAME, MONITOR_NAME, OPTIMIZER_NAME, RETRAIN_NAME, SIMULATOR_COLLECTOR_NAME
from actors.remote_errors import awaited
from aiops.failure.registry import ModelRegistry
from aiops.failure.registry_view import version_summaries
from aiops.fleet_view import fleet_hosts
from aiops.settings import Settings

__all__ = ["RayConsoleService", "console_routes"]

TIMEOUT_S = 10.0


class RayConsoleService:
    """The console's reads over the named actors (looked up per call: they may restart)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _actor(self, name: str) -> Any | None:
        try:
            return ray.get_actor(name, namespace=self.settings.ray.namespace)
        except ValueError:
            return None

    async def _call(self, name: str, method: str, *args: Any, default: Any = None) -> Any:
        actor = self._actor(name)
        if actor is None:
            return default
        return await asyncio.wait_for(awaited(getattr(actor, method).remote(*args)), TIMEOUT_S)

    async def fleet(self) -> list[dict[str, Any]]:
        sim = self._actor(SIMULATOR_COLLECTOR_NAME)
        if sim is None:
            return []
        inventory, placement = await asyncio.gather(sim.inventory.remote(), sim.placement.remote())
        snapshot = await self._call(MONITOR_NAME, "get_snapshot", -1)
        state = await self._call(OPTIMIZER_NAME, "control_state", default={})
        bodies = snapshot[3] if snapshot else None
        return fleet_hosts(inventory, placement, bodies, set((state or {}).get("cordoned", ())))

    async def risk_history(self, target_id: str, limit: int) -> list[dict[str, Any]] | None:
        return await self._call(MONITOR_NAME, "risk_history", target_id, limit)

    async def responses(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return await self._call(CORRELATOR_NAME, "list_responses", status, limit, default=[])

    async def audit(self, limit: int) -> list[dict[str, Any]]:
        return await self._call(CORRELATOR_NAME, "audit_trail", limit, default=[])

    async def model_versions(self) -> dict[str, Any]:
        cfg = self.settings.failure
        return await asyncio.to_thread(version_summaries, ModelRegistry(cfg.registry_uri), cfg.model_name)

    async def retraining(self) -> dict[str, Any] | None:
        return await self._call(RETRAIN_NAME, "stats")


def console_routes(settings: Settings, deployments: Any) -> tuple[list[Any], list[Any]]:
    """The engine mount: the console's read router (its static files are mounted by `create_app`)."""
    from aiops.api.console import make_console_router

    return [make_console_router(RayConsoleService(settings))], []
