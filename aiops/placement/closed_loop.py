"""Closing the loop from prediction to action (plain Python; the actors only wire it).

- ``PlacementSync``: the control plane owns where each VM runs; the simulator follows it. Each
  time the control plane's state version changes, the simulator's placement is set to the
  initial fleet overridden by the control plane's moves (so a restarted simulator, or a
  restarted control plane, converges to the control plane's view; VMs created by plans are not
  simulated).
- ``AutoEvacuator``: every host whose predicted risk reaches the threshold is evacuated through
  the same plan service the API uses (plan, then approved apply) and stays cordoned for
  ``hold_s``; a host that did not fail, or came back, then takes VMs again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Mapping, Protocol

from aiops.errors import DomainError
from aiops.placement.evacuation import EvacuationQuery

__all__ = ["MovableFleet", "EvacuationApi", "Uncordon", "desired_placement", "PlacementSync", "EvacuationRecord",
           "AutoEvacuator"]


class MovableFleet(Protocol):
    """What the simulator offers: its placement and a live migration."""

    def placement(self) -> dict[str, str]: ...
    def move(self, vm_id: str, host_id: str, reason: str = ...) -> dict[str, Any] | None: ...


class EvacuationApi(Protocol):
    """The evacuation half of ``PlanService`` (or the API's proxy of it)."""

    def evacuate(self, req: EvacuationQuery) -> dict[str, Any]: ...
    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]: ...


class Uncordon(Protocol):
    def uncordon(self, host_id: str, reason: str) -> None: ...


def desired_placement(home: Mapping[str, str], state: Mapping[str, Any] | None) -> dict[str, str]:
    """Where the control plane says each simulated VM runs: its initial host unless it was moved."""
    moved = (state or {}).get("moved", {})
    return {vm: str(moved.get(vm, host)) for vm, host in home.items()}


class PlacementSync:
    """Applies the control plane's placement to the simulator whenever its state version changes."""

    def __init__(self, home: Mapping[str, str]) -> None:
        self.home = dict(home)
        self.version: int | None = None
        self.moves = 0

    def sync(self, fleet: MovableFleet, state: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """Move the VMs whose host differs from the control plane's; returns the ``vm_migrated`` events."""
        version = int((state or {}).get("version", 0))
        if version == self.version:
            return []
        now = fleet.placement()
        events = []
        for vm, host in desired_placement(self.home, state).items():
            if now.get(vm) == host:
                continue
            try:
                ev = fleet.move(vm, host, reason="control_plane")
            except KeyError:  # a host the simulator does not have: nothing to simulate
                continue
            if ev is not None:
                events.append(ev)
        self.moves += len(events)
        self.version = version
        return events


@dataclass
class EvacuationRecord:
    """One automatic evacuation: what was drained, when, and what it did."""

    host_id: str
    at: float
    risk: float
    plan_id: str | None = None
    status: str = "proposed"
    migrations: int = 0
    complete: bool = False
    error: str | None = None
    released_at: float | None = None


class AutoEvacuator:
    """Evacuates hosts at risk without waiting for an operator (``placement.auto_evacuate``)."""

    def __init__(self, api: EvacuationApi, control_plane: Uncordon, threshold: float, hold_s: float) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        self.api = api
        self.control_plane = control_plane
        self.threshold = threshold
        self.hold_s = hold_s
        self.active: dict[str, EvacuationRecord] = {}
        self.history: list[EvacuationRecord] = []

    def due(self, risk: Mapping[str, float], up: Collection[str] | None = None) -> list[str]:
        """Hosts at or above the threshold that are not drained already (and are reporting, if ``up`` is given)."""
        return sorted(h for h, p in risk.items()
                      if p >= self.threshold and h not in self.active and (up is None or h in up))

    def release(self, now: float, risk: Mapping[str, float], up: Collection[str] | None = None) -> list[str]:
        """Return drained hosts to service after ``hold_s`` once they report and are below the threshold."""
        out = []
        for h, rec in list(self.active.items()):
            if now - rec.at >= self.hold_s and (up is None or h in up) and risk.get(h, 0.0) < self.threshold:
                self.control_plane.uncordon(h, "evacuation hold over")
                rec.released_at = now
                del self.active[h]
                out.append(h)
        return out

    def evacuate(self, host_id: str, now: float, risk: float) -> EvacuationRecord:
        """Plan and apply one host's evacuation; a failure is recorded, never raised (the next host still goes)."""
        rec = EvacuationRecord(host_id, now, float(risk))
        try:
            plan = self.api.evacuate(EvacuationQuery(host_ids=(host_id,)))
            rec.plan_id, rec.complete = plan["plan_id"], bool(plan.get("complete"))
            res = self.api.apply(plan["plan_id"], True)
            rec.status, rec.migrations = res["status"], len(res.get("applied", ()))
        except DomainError as exc:
            rec.status, rec.error = "failed", f"{type(exc).__name__}: {exc}"
        self.active[host_id] = rec  # also after a failure: retried once the hold is over, not every round
        self.history.append(rec)
        return rec

    def round(self, now: float, risk: Mapping[str, float], up: Collection[str] | None = None) -> list[EvacuationRecord]:
        """One pass: release what is due, then evacuate every host newly at risk."""
        self.release(now, risk, up)
        return [self.evacuate(h, now, risk[h]) for h in self.due(risk, up)]
