"""The first-run demo schedule (simulator.demo): a failing host and an attack campaign early enough to see."""
from __future__ import annotations

import numpy as np

from aiops.settings import Settings, SimulatorSettings, load_settings
from aiops.telemetry.demo import apply_demo, describe, plan_demo
from aiops.telemetry.simulator import FleetSimulator

WATCH_S = 600.0  # the "within 10 minutes" of `aiops up`


def test_demo_is_on_by_default_and_off_when_asked():
    assert Settings().simulator.demo and load_settings(None).simulator.demo
    assert plan_demo(SimulatorSettings(demo=False)) is None


def test_plan_is_seeded_and_picks_a_host_with_vms():
    cfg = SimulatorSettings(hosts=30, vms_per_host=4)
    plan = plan_demo(cfg)
    assert plan is not None and plan == plan_demo(cfg) and plan.vms >= 2
    sim = FleetSimulator(cfg)
    assert len(sim.fleet.vms_on(plan.host_id)) == plan.vms
    assert plan_demo(SimulatorSettings(hosts=30, vms_per_host=4, seed=8)) != plan  # another seed, another schedule


def test_at_the_default_speedup_everything_happens_within_ten_wall_minutes():
    cfg = load_settings(None).simulator
    sim = FleetSimulator(cfg)
    plan = plan_demo(cfg, sim.fleet)
    assert plan is not None
    sc, camp = apply_demo(sim, plan)
    watched_until = cfg.start_ts + WATCH_S * cfg.speedup
    assert camp.steps[-1].ts < cfg.start_ts + 0.5 * WATCH_S * cfg.speedup  # the campaign is over by half-time
    assert plan.onset_ts + 3600 < watched_until < sc.failure_ts  # heat clear for an hour, host still up: evacuable
    assert plan.host_id not in {s.host_id for s in camp.steps}  # two stories, two hosts
    assert "~2 wall min" in describe(plan, cfg.speedup) and plan.host_id in describe(plan, cfg.speedup)


def test_the_host_heats_without_load_then_fails_and_random_failures_keep_off_it():
    cfg = SimulatorSettings(hosts=12, vms_per_host=3)
    sim = FleetSimulator(cfg)
    plan = plan_demo(cfg, sim.fleet)
    assert plan is not None
    apply_demo(sim, plan)
    hi, temp, cpu = sim.targets.index(plan.host_id), sim.metrics.index("temperature_c"), sim.metrics.index("cpu_utilization")

    def reading(at_s: float) -> tuple[float, float]:
        b = sim.advance(cfg.start_ts + at_s - sim.now)[-1].metrics
        pick = lambda m: b.values[(b.target_idx == hi) & (b.metric_idx == m)]  # noqa: E731
        return float(pick(temp)[0]), float(pick(cpu)[0])

    t_before, c_before = reading(2 * 3600)
    t_warn, c_warn = reading(4.5 * 3600)
    assert t_warn - t_before > 10 and c_warn <= c_before + 0.1  # heat without load
    events = [e for t in sim.advance(2 * 3600) for e in t.events if e["type"] == "host_failed"]
    assert [e["host"] for e in events if abs(e["ts"] - plan.failure_ts) < 1] == [plan.host_id]
    assert np.isclose(sim.scenarios[0].failure_ts, plan.failure_ts)
    assert not [s for s in sim.scenarios[1:] if s.host_id == plan.host_id and s.onset_ts < sim.scenarios[0].recovery_ts]
