"""Each detector saves and restores its own learned state as JSON + numpy (no reaching into privates)."""
from __future__ import annotations

import copy
import json

import numpy as np

from aiops.security.detection.network import HostBaseline, NetworkAnomalyDetector, NetworkConfig
from aiops.security.detection.ueba import Profile, UebaConfig, UebaDetector
from aiops.security.intake import SecurityIntake
from aiops.settings import SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator


def _events() -> list:
    ticks = FleetSimulator(SimulatorSettings(hosts=20, interval_s=60, seed=5, attack_rate_per_day=2.0)).advance(86400)
    return SecurityIntake().parse_ticks(ticks)


def _through_json(doc: object) -> object:
    return json.loads(json.dumps(doc))


def test_profile_and_host_baseline_round_trip():
    p = Profile(12.5)
    for v in ["a", "b", "a", 3]:
        p.add(v)
    q = Profile.restore(_through_json(p.snapshot()))
    assert (q.counts, q.n, q.n1, q.first_ts) == (p.counts, p.n, p.n1, p.first_ts) and q.p("zz") == p.p("zz")
    b = HostBaseline()
    for i in range(40):
        b.add(float(i % 7), 22 if i % 3 else 443)
    c = HostBaseline.restore(_through_json(b.snapshot()))
    assert c.stats() == b.stats() and c.p_port(8080) == b.p_port(8080) and c.ports == b.ports


def test_ueba_snapshot_restore_scores_the_same():
    events = _events()
    half = len(events) // 2
    det = UebaDetector(UebaConfig(population_warmup=50))
    for e in events[:half]:
        det.observe(copy.copy(e))
    again = UebaDetector(UebaConfig(population_warmup=50))
    again.restore(_through_json(det.snapshot()))
    assert again.profiles() == det.profiles()
    got = [(s.name, s.ts, s.score) for e in events[half:] for s in again.observe(copy.copy(e))]
    assert got == [(s.name, s.ts, s.score) for e in events[half:] for s in det.observe(copy.copy(e))] and got


def test_network_snapshot_is_json_and_arrays_and_restores():
    flows = [e for e in _events() if e.action == "network_flow" or "bytes_out" in e.fields]
    det = NetworkAnomalyDetector(NetworkConfig(warmup_flows=300))
    det.fit(flows[:600])
    doc, arrays = det.snapshot()
    assert det.ready and doc["ready"] and set(arrays) >= {"calib"}
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    again = NetworkAnomalyDetector(NetworkConfig(warmup_flows=300))
    again.restore(_through_json(doc), arrays)
    assert again.ready
    rest = flows[600:900]
    got = [(s.name, s.ts, s.score) for s in again.score(rest, learn=False, min_score=0.0) if s]
    assert got == [(s.name, s.ts, s.score) for s in det.score(rest, learn=False, min_score=0.0) if s] and got


def test_an_unfitted_network_detector_snapshots_without_arrays():
    doc, arrays = NetworkAnomalyDetector().snapshot()
    assert arrays == {} and doc["ready"] is False
    fresh = NetworkAnomalyDetector()
    fresh.restore(_through_json(doc))
    assert not fresh.ready
