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
    assert plan.onset_ts + 2 * 3600 < watched_until < sc.failure_ts  # warning for 2 h, host still up: evacuable
    assert plan.host_id not in {s.host_id for s in camp.steps}  # two stories, two hosts
    assert "~2 wall min" in describe(plan, cfg.speedup) and plan.host_id in describe(plan, cfg.speedup)


def _hour(sim: FleetSimulator, host: str, until_s: float) -> tuple[float, int]:
    """Median disk latency of ``host`` and its disk read-error lines over the hour before ``until_s``."""
    hi, disk = sim.targets.index(host), sim.metrics.index("disk_io_latency_ms")
    ticks = sim.advance(sim.cfg.start_ts + until_s - sim.now)[-360:]
    lat = [float(t.metrics.values[(t.metrics.target_idx == hi) & (t.metrics.metric_idx == disk)][0]) for t in ticks]
    return float(np.median(lat)), sum(host in line and "I/O error" in line for t in ticks for line in t.logs)


def test_the_disk_warns_with_latency_and_read_errors_then_fails_and_random_failures_keep_off_it():
    cfg = SimulatorSettings(hosts=12, vms_per_host=3)
    sim, same_without = FleetSimulator(cfg), FleetSimulator(cfg)
    plan = plan_demo(cfg, sim.fleet)
    assert plan is not None
    apply_demo(sim, plan)
    lat_demo, err_demo = _hour(sim, plan.host_id, 5 * 3600)
    lat_plain, err_plain = _hour(same_without, plan.host_id, 5 * 3600)
    assert lat_demo - lat_plain > 8 and err_demo > err_plain + 5  # the same seed, with and without the demo
    events = [e for t in sim.advance(2 * 3600) for e in t.events if e["type"] == "host_failed"]
    assert [e["host"] for e in events if abs(e["ts"] - plan.failure_ts) < 1] == [plan.host_id]
    assert np.isclose(sim.scenarios[0].failure_ts, plan.failure_ts)
    assert not [s for s in sim.scenarios[1:] if s.host_id == plan.host_id and s.onset_ts < sim.scenarios[0].recovery_ts]
