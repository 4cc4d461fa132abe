"""Collector-side intake: parse and pre-match where records arrive, correlate in one place."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from aiops.security.correlation.entities import is_external
from aiops.security.pipeline import SecurityPipeline
from aiops.security.service import SecurityService
from aiops.security.detection.network import HostBaseline
from aiops.security.events import Rejection, RejectionCounter
from aiops.security.intake import SecurityIntake
from aiops.security.sigma.pipeline import DetectionPipeline
from aiops.security.sigma.rules import load_rules
from aiops.settings import PROJECT_ROOT, SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator

BRUTE = [f"Jan  1 10:00:{k:02d} host-0003 sshd[77]: Failed password for invalid user u{k} from 203.0.113.9 port 4{k:04d} ssh2"
         for k in range(12)] + ["Jan  1 10:01:30 host-0003 sshd[78]: Accepted password for admin from 203.0.113.9 port 40999 ssh2"]


def _rules() -> DetectionPipeline:
    return DetectionPipeline(load_rules([PROJECT_ROOT / "configs" / "rules"]))


def _alerts(pipe: SecurityPipeline) -> list[tuple[str, float]]:
    return sorted((s.name, s.ts) for s in pipe.recent if s.kind == "sigma")


def test_prematched_events_give_the_same_alerts_as_matching_in_the_correlator():
    intake = SecurityIntake(year=2026, matcher=_rules())
    shipped = pickle.loads(pickle.dumps(intake.parse_payload("sshd", "\n".join(BRUTE).encode())))
    assert all(e.rule_hits is not None for e in shipped) and any(e.rule_hits for e in shipped)
    local = SecurityIntake(year=2026).parse_payload("sshd", "\n".join(BRUTE))
    assert all(e.rule_hits is None for e in local)
    a, b = SecurityPipeline(sigma=_rules()), SecurityPipeline(sigma=_rules())
    a.process_many(shipped)
    b.process_many(local)
    assert _alerts(a) == _alerts(b) and {"ssh_bruteforce", "ssh_bruteforce_then_login"} <= {n for n, _ in _alerts(a)}


def test_unknown_prematched_rule_ids_are_counted_not_fatal():
    intake = SecurityIntake(year=2026, matcher=_rules())
    ev = intake.parse_payload("sshd", BRUTE[-1])[0]
    ev.rule_hits = ("no-such-rule",)
    sigma = _rules()
    SecurityPipeline(sigma=sigma).process(ev)
    assert sigma.stats()["unknown_prematched_rule_ids"] == 1


def test_intake_counts_rejections_and_hands_them_over_once():
    intake = SecurityIntake(year=2026)
    assert intake.parse_payload("nosuchformat", b"x") == []
    evs = intake.parse_payload("platform", b'{"type":"api_call","ts":1,"action":"GetVM"}\n{"type":"x","ts":1}\nnot json')
    assert [e.action for e in evs] == ["GetVM"]
    counts, samples = intake.rejections.take()
    assert counts == {("nosuchformat", "unknown_format"): 1, ("platform", "unknown_type:x"): 1, ("platform", "bad_json"): 1}
    assert len(samples) == 3 and intake.rejections.take() == ({}, [])
    into = RejectionCounter(keep_samples=2)
    into.add(Rejection("auth", "bad_line"))
    into.merge(counts, samples)
    assert into.total == 4 and len(into.samples) == 2


def test_simulator_ticks_parse_the_same_as_the_tick_converter():
    from aiops.security.simulated_events import TickConverter

    ticks = FleetSimulator(SimulatorSettings(hosts=5, interval_s=60, seed=3, attack_rate_per_day=0)).advance(3600)
    a = SecurityIntake().parse_ticks(ticks)
    b = [e for t in ticks for e in TickConverter().convert(t)]
    assert [(e.timestamp, e.action, e.host) for e in a] == [(e.timestamp, e.action, e.host) for e in b] and a


def test_incident_latency_is_measured_from_arrival():
    svc = SecurityService(SecurityPipeline(sigma=_rules()))
    intake = SecurityIntake(year=2026)
    assert svc.latency_summary()["n"] == 0
    import time

    arrived = time.perf_counter() - 0.25  # the batch waited 250 ms before reaching the correlator
    svc.ingest_events(intake.parse_payload("sshd", "\n".join(BRUTE)), arrived)
    lat = svc.latency_summary()
    assert lat["n"] >= 1 and 0.25 <= lat["p50_s"] < 5.0 and lat["max_s"] >= lat["p99_s"] >= lat["p50_s"]


def test_host_baseline_counts_singleton_ports_incrementally():
    rng = np.random.default_rng(1)
    hb = HostBaseline()
    for _ in range(700):
        hb.add(float(rng.normal(10, 1)), int(rng.choice([22, 443, 8080, int(rng.integers(1, 65535))])))
        assert hb.n1 == sum(1 for c in hb.ports.values() if c == 1)
    med, mad = hb.stats()
    assert 9.5 < med < 10.5 and 0.7 < mad < 1.4
    assert hb.p_port(443) == (hb.ports[443] + 1) / (hb.n + 1) and hb.p_port(0) == (hb.n1 + 1) / (hb.n + 1)


@pytest.mark.parametrize("ip,expected", [("10.1.2.3", False), ("192.168.0.9", False), ("172.20.1.1", False),
                                         ("172.32.1.1", True), ("8.8.8.8", True), ("203.0.113.7", True),
                                         ("127.0.0.1", False), ("fd00::1", False), ("2001:4860::1", True),
                                         ("not-an-ip", False), ("10.x.y.z", False), ("", False), (None, False)])
def test_is_external_fast_path_agrees_with_ipaddress(ip, expected):
    assert is_external(ip) is expected


def test_an_event_a_detector_fails_on_costs_only_itself():
    from aiops.security.events import LogSource, SecurityEvent

    svc = SecurityService(SecurityPipeline(sigma=_rules()))
    api = LogSource(product="novacron", service="api_audit")
    odd = SecurityEvent(timestamp=1.0, source="novacron", logsource=api, user={"not": "hashable"}, action="GetVM")  # type: ignore[arg-type]
    good = [SecurityEvent(timestamp=2.0 + i, source="novacron", logsource=api, user="u", action="GetVM") for i in range(3)]
    out = svc.ingest_events([odd, *good])
    assert out["events"] == 3 and sum(svc.event_errors.values()) == 1
    assert next(iter(svc.event_errors)).startswith("novacron:")


def test_flow_byte_counts_from_any_source_field_never_break_a_batch():
    from aiops.security.detection.network import flow_features
    from aiops.security.events import LogSource, SecurityEvent

    ls = LogSource(product="zeek", service="conn")
    evs = [SecurityEvent(timestamp=1.0, source="zeek", logsource=ls, dst_ip="10.0.0.1", fields={"orig_bytes": v, "id.resp_p": p})
           for v, p in (("-", "x"), (float("nan"), float("inf")), ("1500", 443), (None, None), (-5, 22))]
    x = flow_features(evs, {443: 0.5})
    assert np.isfinite(x).all() and x[2, 0] == pytest.approx(np.log1p(1500.0)) and x[0, 0] == 0.0


def test_a_failing_anomaly_store_costs_correlation_nothing(monkeypatch):
    import aiops.security.service as cs

    class FlakyStore:
        def __init__(self) -> None:
            self.up, self.saved = False, []

        def load(self):
            return []

        def save(self, rows):
            if not self.up:
                raise ConnectionError("redis away")
            self.saved.extend(r["id"] for r in rows)

    store = FlakyStore()
    svc = SecurityService(SecurityPipeline(sigma=_rules()), store=store)
    intake = SecurityIntake(year=2026)
    svc.ingest_events(intake.parse_payload("sshd", "\n".join(BRUTE)))
    assert svc.store_errors == 1 and svc.anomalies and not store.saved
    monkeypatch.setattr(cs, "STORE_RETRY_S", 0.0)
    svc._store_retry_at = 0.0
    store.up = True
    svc.ingest_events([])
    assert set(store.saved) == set(svc.anomalies)  # everything changed during the outage is written now


def test_security_metrics_for_prometheus():
    from prometheus_client import CollectorRegistry, generate_latest

    from aiops.api.security_metrics import security_metric_families

    class Source:
        def __init__(self, stats):
            self.stats = stats

        def collect(self):
            return security_metric_families(self.stats)

    reg = CollectorRegistry()
    reg.register(Source({"events_in": 42, "batches_in": 3, "busy_s": 1.5, "anomalies": 2, "network_ready": True,
                         "rejections": {"platform:unknown_type:x": 1}, "event_errors": {},
                         "incident_latency": {"n": 3, "p50_s": 0.2, "p99_s": 0.6, "max_s": 0.6}}))
    text = generate_latest(reg).decode()
    for line in ('aiops_security_correlator_up 1.0', 'aiops_security_events_total 42.0', 'aiops_security_busy_seconds_total 1.5',
                 'aiops_security_rejections_total{reason="unknown_type:x",source="platform"} 1.0',
                 'aiops_security_incident_latency_seconds{quantile="0.99"} 0.6'):
        assert line in text, line
    down = CollectorRegistry()
    down.register(Source(None))
    assert "aiops_security_correlator_up 0.0" in generate_latest(down).decode()
