"""Simulator → normalised events → detectors → graph: each attack is one incident, no false ones."""
from __future__ import annotations

from aiops.security.pipeline import SecurityPipeline
from aiops.security.detection.network import NetworkConfig
from aiops.security.detection.ueba import UebaConfig
import pytest

from aiops.security.parsers.base import ParseError
from aiops.security.parsers.platform_events import parse_platform_event
from aiops.security.simulated_events import TickConverter
from aiops.settings import SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator
from jobs.security_eval.campaigns import score_campaigns


def test_simulated_events_are_normalised():
    sim = FleetSimulator(SimulatorSettings(hosts=5, interval_s=60, seed=3, attack_rate_per_day=0))
    conv = TickConverter()
    evs = [e for t in sim.advance(6 * 3600) for e in conv.convert(t)]
    assert evs and all(a.timestamp <= b.timestamp for a, b in zip(evs, evs[1:]))
    acts = {e.action for e in evs}
    assert "network_flow" in acts and conv.rejections.total == 0
    with pytest.raises(ParseError, match="unknown_type"):
        parse_platform_event({"type": "nope", "ts": 0})


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


def test_sigma_alerts_feed_the_graph():
    from aiops.security.parsers.linux import AuthSyslogParser
    from aiops.security.sigma.pipeline import DetectionPipeline
    from aiops.security.sigma.rules import load_rules
    from aiops.settings import PROJECT_ROOT

    pipe = SecurityPipeline(sigma=DetectionPipeline(load_rules([PROJECT_ROOT / "configs" / "rules"])))
    parse = AuthSyslogParser(2026)
    lines = [f"Jan  1 10:00:{k:02d} host-0003 sshd[77]: Failed password for invalid user u{k} from 203.0.113.9 port 4{k:04d} ssh2"
             for k in range(12)]
    lines.append("Jan  1 10:01:30 host-0003 sshd[78]: Accepted password for admin from 203.0.113.9 port 40999 ssh2")
    for line in lines:
        pipe.process(parse(line))
    kinds = {s.name for s in pipe.recent if s.kind == "sigma"}
    assert {"ssh_bruteforce", "ssh_bruteforce_then_login"} <= kinds
    bf = next(s for s in pipe.recent if s.name == "ssh_bruteforce_then_login")
    assert "ip:203.0.113.9" in bf.entities and "host:host-0003" in bf.entities
    assert "credential_access" in bf.tactics and "initial_access" in bf.tactics
