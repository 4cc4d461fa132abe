"""The first-run demo: what `aiops up` adds to the simulator so that a new user sees every engine act early.

With ``simulator.demo`` (the default) the simulator collector adds, on top of its random schedule (which
stays as it is):

* one host whose disk fails (``disk_failure``): I/O latency creeps up and read errors appear from
  ``ONSET_S`` after the start, growing until the host fails at ``FAILURE_S``, unless its VMs have been moved
  off it by then;
* one five-step SSH attack campaign (brute force, login, sudo, lateral movement, exfiltration) from ``ATTACK_S``.

Times are simulated seconds after the simulator's start; at the default speed-up (30, configs/aiops.yaml)
the campaign starts after 2 wall minutes and is over by about 4, the disk warns from 4, and the host fails
after 14 unless evacuated (a loaded machine runs the clock slower). The warning is strong (latency and
read errors together, at strength 1.5): on a fresh clone the only model is the label-free health score,
which has to tell it from the nightly backups of 00-04 UTC that also raise disk latency. The plan is a pure
function of the settings, so the CLI can announce it without the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aiops.settings import SimulatorSettings
from aiops.telemetry.fleet import Fleet, build_fleet
from aiops.telemetry.scenarios import Scenario
from aiops.telemetry.sim_traffic import AttackCampaign
from aiops.telemetry.simulator import FleetSimulator

__all__ = ["DemoPlan", "KIND", "ATTACK_S", "ONSET_S", "FAILURE_S", "STRENGTH", "plan_demo", "apply_demo", "describe"]

KIND = "disk_failure"
ATTACK_S = 3600.0         # the campaign's first step (brute force), 1 simulated hour in
ONSET_S = 2.0 * 3600      # the disk starts failing
FAILURE_S = 7.0 * 3600    # the host fails, 7 simulated hours in
STRENGTH = 1.5            # a clear warning (random scenarios draw 0-1.3)
CAMPAIGN_ID = "atk-demo"


@dataclass(frozen=True)
class DemoPlan:
    """Which host fails and when, and when the attack starts (absolute simulated times)."""

    host_id: str
    vms: int
    start_ts: float
    kind: str
    onset_ts: float
    failure_ts: float
    attack_ts: float
    strength: float


def plan_demo(cfg: SimulatorSettings, fleet: Fleet | None = None) -> DemoPlan | None:
    """The demo schedule for these settings (None when ``cfg.demo`` is off): a seeded host carrying VMs."""
    if not cfg.demo:
        return None
    fleet = fleet or build_fleet(cfg.hosts, cfg.vms_per_host, cfg.zones, cfg.racks_per_zone, cfg.seed)
    counts = {h.host_id: 0 for h in fleet.hosts}
    for vm in fleet.vms:
        counts[vm.host_id] += 1
    most = max(counts.values(), default=0)
    # a host with VMs, so that an evacuation has something to move (any host in a fleet without VMs)
    pool = sorted(h for h, n in counts.items() if n >= min(2, most))
    if not pool:
        return None
    host = pool[int(np.random.default_rng([cfg.seed, 0, 11]).integers(len(pool)))]
    t0 = cfg.start_ts
    return DemoPlan(host, counts[host], t0, KIND, t0 + ONSET_S, t0 + FAILURE_S, t0 + ATTACK_S, STRENGTH)


def apply_demo(sim: FleetSimulator, plan: DemoPlan) -> tuple[Scenario, AttackCampaign]:
    """Add the plan's failure and campaign to ``sim`` (before its first tick, so random failures avoid the host)."""
    sc = sim.inject(plan.kind, plan.host_id, plan.failure_ts, plan.failure_ts - plan.onset_ts, plan.strength)
    camp = sim.inject_campaign(plan.attack_ts, CAMPAIGN_ID, np.random.default_rng([sim.cfg.seed, 0, 12]),
                               avoid=(plan.host_id,))
    return sc, camp


def describe(plan: DemoPlan, speedup: float) -> str:
    """One line for `aiops up`: what will happen, in simulated hours and in wall minutes at this speed-up."""
    def at(ts: float) -> str:
        s = ts - plan.start_ts
        return f"+{s / 3600:g} h simulated (~{s / speedup / 60:.0f} wall min)"
    return (f"Demo (simulator.demo): an SSH attack campaign from {at(plan.attack_ts)}; {plan.host_id} "
            f"({plan.vms} VMs) has a failing disk from {at(plan.onset_ts)} and fails at {at(plan.failure_ts)} unless evacuated")
