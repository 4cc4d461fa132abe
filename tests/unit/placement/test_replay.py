"""The closed-loop replay measures downtime from platform events, and acting on the truth removes it."""
import pytest

from aiops.failure.training.fleet_dataset import select_definitions
from aiops.placement.replay import ReplayConfig, downtime, oracle_risk, replay
from aiops.settings import SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator


def test_downtime_pairs_crashes_with_recoveries_and_counts_open_ones_to_the_end():
    ev = [{"ts": 0, "type": "vm_crashed", "vm_id": "a", "reason": "host_failed"},   # before count_from: ignored
          {"ts": 60, "type": "vm_recovered", "vm_id": "a"},
          {"ts": 600, "type": "vm_crashed", "vm_id": "b", "reason": "host_failed"},
          {"ts": 1800, "type": "vm_recovered", "vm_id": "b"},
          {"ts": 1200, "type": "vm_crashed", "vm_id": "c", "reason": "oom_killed"}]
    total, by, n = downtime(ev, 100, 2400)
    assert total == pytest.approx(20 + 20) and by == {"host_failed": 20, "oom_killed": 20} and n == 2


def test_evacuating_on_the_truth_removes_host_failure_downtime():
    sim = SimulatorSettings(hosts=8, vms_per_host=2, seed=11, interval_s=60, scenario_rate_per_day=0.5,
                            attack_rate_per_day=0, lookalike_rate=0)
    cfg = ReplayConfig(sim, days=1.0, count_from_s=0)
    ahead = FleetSimulator(sim)
    ahead.advance(2 * 86_400)
    defs = select_definitions(("cpu_utilization_mean_5m",))
    none = replay("none", cfg, defs, None).summary()
    best = replay("ceiling", cfg, defs, oracle_risk(ahead.ground_truth()["scenarios"], 3600)).summary()
    assert none["downtime_by_reason"].get("host_failed", 0) > 0 and none["evacuations"] == 0
    assert best["downtime_by_reason"].get("host_failed", 0) == 0 and best["migrations"] > 0
    assert best["unnecessary_evacuations"] == 0 and best["vm_moves_applied"] >= best["migrations"]
