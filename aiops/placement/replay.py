"""Closed-loop replay: the simulated fleet, the failure model, the evacuation service and the
simulated control plane in one process (no Ray), the way the engine wires them.

Every ``step_s`` simulated seconds the hosts' point-in-time features are read from an in-process
``ShardState`` (the feature-store code), a ``risk`` policy gives each reporting host a failure
risk, ``AutoEvacuator`` plans and applies evacuations through ``PlanService`` (the API's service)
into a ``SimulatedControlPlane``, and ``PlacementSync`` moves the simulator's VMs, which from the
next tick run (and fail, or not) on their new hosts. Downtime is read from the platform events
the simulator emits (``vm_crashed`` -> ``vm_recovered``), never from its ground truth; the
ground truth only says which evacuations were unnecessary and drives the ceiling policy.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aiops.features.definitions import FeatureDefinition
from aiops.features.shard import ShardState
from aiops.placement.closed_loop import AutoEvacuator, PlacementSync
from aiops.placement.inventory import FleetSnapshot, SimulatedControlPlane, build_fleet_snapshot, vm_records
from aiops.placement.plan import PlanService
from aiops.settings import SimulatorSettings
from aiops.telemetry.batch import concat
from aiops.telemetry.logparse import events_to_batch, parse_line
from aiops.telemetry.scenarios import FAILURE_KINDS
from aiops.telemetry.simulator import FleetSimulator

__all__ = ["RiskPolicy", "ReplayConfig", "ReplayResult", "oracle_risk", "replay", "downtime"]

# (now, reporting host ids, features by host) -> risk by host
RiskPolicy = Callable[[float, Sequence[str], Mapping[str, Mapping[str, Any]]], Mapping[str, float]]


@dataclass(frozen=True)
class ReplayConfig:
    """The simulated period and how the loop acts."""

    simulator: SimulatorSettings
    days: float = 7.0
    step_s: float = 600.0
    count_from_s: float = 6 * 3600.0   # downtime before this (the engine warming up) is not counted
    hold_s: float = 8 * 3600.0         # an evacuated host stays cordoned this long (then returns if healthy)
    horizon_s: float = 8 * 3600.0      # an evacuation is necessary when its host fails within this


@dataclass
class ReplayResult:
    """What one policy did over the period, measured from the platform events (ground truth only judges evacuations)."""

    name: str
    downtime_vm_min: float
    downtime_by_reason: dict[str, float]
    crashed_vms: int
    evacuations: list[dict[str, Any]]
    host_failures: int
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Evacuations count when they moved at least one VM (a host found empty moves nothing)."""
        ev = [e for e in self.evacuations if e["migrations"] > 0]
        unnecessary = [e for e in ev if not e["necessary"]]
        per = max(1, self.host_failures)
        return {"policy": self.name, "downtime_vm_min": round(self.downtime_vm_min, 1),
                "downtime_by_reason": {k: round(v, 1) for k, v in self.downtime_by_reason.items()},
                "crashed_vms": self.crashed_vms, "host_failures": self.host_failures, "evacuations": len(ev),
                "evacuation_attempts": len(self.evacuations),
                "evacuations_failed": sum(e["status"] == "failed" for e in self.evacuations),
                "migrations": sum(e["migrations"] for e in ev),
                "unnecessary_evacuations": len(unnecessary),
                "unnecessary_migrations": sum(e["migrations"] for e in unnecessary),
                "unnecessary_evacuations_per_failure": round(len(unnecessary) / per, 3),
                "unnecessary_vm_moves_per_failure": round(sum(e["migrations"] for e in unnecessary) / per, 3),
                "wall_s": round(self.wall_s, 1), **self.extra}


def downtime(events: Sequence[Mapping[str, Any]], count_from: float, end: float) -> tuple[float, dict[str, float], int]:
    """VM-minutes between each ``vm_crashed`` (at or after ``count_from``) and the VM's ``vm_recovered`` (or ``end``)."""
    down: dict[str, tuple[float, str]] = {}
    total, by_reason, crashed = 0.0, {}, 0
    for e in sorted(events, key=lambda e: e["ts"]):
        if e["type"] == "vm_crashed" and e["ts"] >= count_from and e["vm_id"] not in down:
            down[e["vm_id"]] = (float(e["ts"]), str(e.get("reason", "unknown")))
            crashed += 1
        elif e["type"] == "vm_recovered" and e["vm_id"] in down:
            t0, reason = down.pop(e["vm_id"])
            minutes = (float(e["ts"]) - t0) / 60
            total += minutes
            by_reason[reason] = by_reason.get(reason, 0.0) + minutes
    for t0, reason in down.values():
        minutes = max(0.0, end - t0) / 60
        total += minutes
        by_reason[reason] = by_reason.get(reason, 0.0) + minutes
    return total, by_reason, crashed


def oracle_risk(scenarios: Sequence[Mapping[str, Any]], lead_s: float) -> RiskPolicy:
    """The ceiling: risk 1 on a host from ``lead_s`` before each of its host-level failures (ground truth)."""
    windows = [(s["host_id"], s["failure_ts"] - lead_s, s["failure_ts"]) for s in scenarios
               if FAILURE_KINDS[s["kind"]][3] == "host"]

    def risk(now: float, hosts: Sequence[str], feats: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        hot = {h for h, lo, hi in windows if lo <= now < hi}
        return {h: 1.0 if h in hot else 0.0 for h in hosts}
    return risk


class _Loop:
    """One replay's moving parts (simulator, shard, control plane, plan service, evacuator)."""

    def __init__(self, cfg: ReplayConfig, defs: Sequence[FeatureDefinition], threshold: float | None) -> None:
        self.cfg = cfg
        self.sim = FleetSimulator(cfg.simulator)
        ring = int(math.ceil(max((d.window_s for d in defs if not d.derived), default=3600.0) / cfg.simulator.interval_s)) * 4 + 2048
        self.shard = ShardState(0, list(defs), ring) if defs else None
        self.inventory = {"hosts": [h.__dict__ for h in self.sim.fleet.hosts], "vms": [v.__dict__ for v in self.sim.fleet.vms]}
        self.cp = SimulatedControlPlane()
        self.cp.load(vm_records(self.inventory).values())
        self.sync = PlacementSync(self.sim.placement())
        self.risk: dict[str, float] = {}
        self.up: set[str] = set(h.host_id for h in self.sim.fleet.hosts)
        self.service = PlanService(self.snapshot, self.cp, risk_threshold=threshold or 0.5)
        self.auto = AutoEvacuator(self.service, self.cp, threshold, cfg.hold_s) if threshold is not None else None
        self.events: list[dict[str, Any]] = []
        self.year = time.gmtime(self.sim.now).tm_year

    def snapshot(self) -> FleetSnapshot:
        """What the plan service sees: current placement, features, risks; hosts not reporting take no VMs."""
        now = self.sim.now
        vectors = {t: self.shard.get_features(t, at=now) for t in self.sim.targets} if self.shard else {}
        down = {h.host_id for h in self.sim.fleet.hosts} - self.up
        return build_fleet_snapshot(self.inventory, vectors, self.risk, now, seed=self.cfg.simulator.seed,
                                    vms=self.cp.vms(), cordoned=set(self.cp.state()["cordoned"]) | down)

    def step(self, policy: RiskPolicy | None) -> None:
        ticks = self.sim.advance(self.cfg.step_s)
        metrics = concat([t.metrics for t in ticks])
        for t in ticks:
            self.events.extend(t.events)
        if self.shard is not None:
            self.shard.ingest(metrics)
            err = events_to_batch([e for t in ticks for line in t.logs if (e := parse_line(line, year=self.year))])
            if len(err):
                self.shard.ingest(err)
        reporting = {metrics.targets[i] for i in np.unique(metrics.target_idx)}
        self.up = {h for h in reporting if self.sim.target_types.get(h) == "host"}
        if self.auto is None or policy is None:
            return
        hosts = sorted(self.up)
        feats = {h: self.shard.get_features(h, at=self.sim.now)["features"] for h in hosts} if self.shard else {}
        self.risk = dict(policy(self.sim.now, hosts, feats))
        self.auto.round(self.sim.now, self.risk, self.up)
        self.sync.sync(self.sim, self.cp.state())


def _judge(records: Sequence[Any], scenarios: Sequence[Mapping[str, Any]], horizon_s: float) -> list[dict[str, Any]]:
    """Each evacuation with whether its host really failed within the horizon (ground truth, scoring only)."""
    fails = [(s["host_id"], s["failure_ts"]) for s in scenarios if FAILURE_KINDS[s["kind"]][3] == "host"]
    return [{"host_id": r.host_id, "at": r.at, "risk": round(r.risk, 4), "status": r.status, "migrations": r.migrations,
             "complete": r.complete, "error": r.error,
             "necessary": any(h == r.host_id and r.at < f <= r.at + horizon_s for h, f in fails)} for r in records]


def replay(name: str, cfg: ReplayConfig, defs: Sequence[FeatureDefinition], policy: RiskPolicy | None,
           threshold: float = 0.5, log: Callable[[str], None] | None = None) -> ReplayResult:
    """Run the period under one policy (None = no action; else evacuate at ``threshold``) and measure downtime
    and evacuations. Both acting policies plan with the same inputs (features of ``defs``)."""
    t0 = time.perf_counter()
    loop = _Loop(cfg, defs if policy is not None else (), threshold if policy is not None else None)
    start = loop.sim.now
    n = int(cfg.days * 86_400 // cfg.step_s)
    for k in range(n):
        loop.step(policy)
        if log and (k + 1) % max(1, n // 7) == 0:
            log(f"  {name}: day {(k + 1) * cfg.step_s / 86_400:.1f}/{cfg.days:g}, "
                f"{len(loop.auto.history) if loop.auto else 0} evacuations, {time.perf_counter() - t0:.0f}s")
    end = loop.sim.now
    total, by_reason, crashed = downtime(loop.events, start + cfg.count_from_s, end)
    gt = loop.sim.ground_truth()["scenarios"]
    host_failures = sum(1 for s in gt if FAILURE_KINDS[s["kind"]][3] == "host" and start + cfg.count_from_s <= s["failure_ts"] < end)
    records = loop.auto.history if loop.auto else []
    return ReplayResult(name, total, by_reason, crashed, _judge(records, gt, cfg.horizon_s), host_failures,
                        time.perf_counter() - t0, {"vm_moves_applied": loop.sync.moves})
