"""Simulator → normalised events → detectors → graph: each attack is one incident, no false ones."""
from __future__ import annotations

from aiops.security.correlator_pipeline import SecurityPipeline
from aiops.security.detectors import NetworkConfig, UebaConfig
from aiops.security.simulated_events import TickConverter, dict_event
from aiops.settings import SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator
from jobs.eval_security import score_campaigns


def test_simulated_events_are_normalised():
    sim = FleetSimulator(SimulatorSettings(hosts=5, interval_s=60, seed=3, attack_rate_per_day=0))
    conv = TickConverter()
    evs = [e for t in sim.advance(6 * 3600) for e in conv.convert(t)]
    assert evs and all(a.timestamp <= b.timestamp for a, b in zip(evs, evs[1:]))
    acts = {e.action for e in evs}
    assert "network_flow" in acts and conv.rejections.total == 0
    assert dict_event({"type": "nope", "ts": 0}) is None


def test_attacks_become_single_incidents():
    sim = FleetSimulator(SimulatorSettings(hosts=20, interval_s=60, seed=5, attack_rate_per_day=2.0))
    conv = TickConverter()
    events = [e for t in sim.advance(2.5 * 86400) for e in conv.convert(t)]
    pipe = SecurityPipeline(network=NetworkConfig(warmup_flows=600), ueba=UebaConfig(population_warmup=100))
    pipe.process_many(events)
    pipe.drain()
    start = sim.cfg.start_ts
    res = score_campaigns(pipe.graph, sim.ground_truth(), start + 86400, sim.now)
    assert res["n_campaigns"] >= 2
    assert res["passed"] == res["n_campaigns"], res["campaigns"]
    assert len(res["false_incidents"]) <= 1
