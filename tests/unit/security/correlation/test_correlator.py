"""Graph correlator: linking, pivots, expiry, deduplication, merging, thresholds."""
from __future__ import annotations

from aiops.security.correlation.graph import CorrelatorConfig, GraphCorrelator, incident_risk, progression
from aiops.security.correlation.signals import Signal, tactics_from_tags
from aiops.security.correlation.export import incident_graph, incident_report, pivots, render_png

T0 = 1_767_225_600.0


def sig(ts, ents, tactics=(), score=0.9995, name=None, edges=(), kind="ueba"):
    return Signal(ts=T0 + ts, kind=kind, name=name or f"s{ts}", score=score, entities=tuple(ents),
                  edges=tuple(edges), tactics=tuple(tactics))


def chain(g: GraphCorrelator, base: float = 0.0, atk="ip:203.0.113.5", a="host:h1", b="host:h2", drop="ip:198.51.100.9"):
    out = []
    out += g.observe(sig(base + 0, [atk, a], ["credential_access"], edges=[(atk, a, "ssh_login")]))
    out += g.observe(sig(base + 300, [atk, a, f"user:admin@{a[5:]}"], ["initial_access"], edges=[(atk, a, "ssh_login")]))
    out += g.observe(sig(base + 400, [a, f"user:admin@{a[5:]}"], ["privilege_escalation"]))
    out += g.observe(sig(base + 900, [a, b, f"user:root@{b[5:]}"], ["lateral_movement"], edges=[(a, b, "ssh_login")]))
    out += g.observe(sig(base + 1800, [b, drop], ["exfiltration"], edges=[(b, drop, "network_flow")]))
    return out


def test_multi_hop_chain_becomes_one_incident_with_pivot(tmp_path):
    g = GraphCorrelator()
    updates = chain(g)
    ids = {i.incident_id for i in updates}
    assert len(ids) == 1 and len(g.incidents) == 1
    inc = next(iter(g.incidents.values()))
    assert set(inc.tactics) == {"credential_access", "initial_access", "privilege_escalation", "lateral_movement", "exfiltration"}
    assert inc.progression == 4 and inc.severity == "critical" and inc.risk > 0.99
    # raised at the second kill-chain *stage* (privilege escalation), not at the end; brute force +
    # login are two tactics of the same "get in" stage, which alone stays below the raise threshold
    assert inc.created_ts == T0 + 400
    rep = incident_report(g, inc.incident_id)
    assert rep is not None and len(rep["timeline"]) == 5
    assert ["ip:203.0.113.5", "host:h1", "host:h2", "ip:198.51.100.9"] in rep["pivots"]
    png = render_png(rep, tmp_path / "inc.png")
    assert png.stat().st_size > 5000


def test_pivot_must_respect_time_order():
    g = GraphCorrelator()
    g.observe(sig(1000, ["host:a", "host:b"], ["lateral_movement"], edges=[("host:a", "host:b", "ssh")]))
    g.observe(sig(0, ["host:b", "host:c"], ["exfiltration"], edges=[("host:b", "host:c", "flow")]))  # earlier hop
    comp = g.component_of_entity("host:b")
    assert comp is not None and g.incidents == {}  # out-of-order stages do not progress either
    assert pivots(incident_graph(comp)) == []


def test_single_tactic_activity_is_not_an_incident():
    g = GraphCorrelator()
    for k in range(20):
        g.observe(sig(k * 10, ["host:h1", f"ip:10.9.0.{k}"], ["discovery"]))
    assert g.incidents == {}
    assert g.live_components() == 1


def test_unrelated_activity_stays_apart():
    g = GraphCorrelator()
    chain(g, atk="ip:203.0.113.5", a="host:h1", b="host:h2", drop="ip:198.51.100.9")
    chain(g, base=100, atk="ip:203.0.113.77", a="host:h7", b="host:h8", drop="ip:198.51.100.10")
    assert len([i for i in g.incidents.values() if i.status == "open"]) == 2


def test_weak_signal_attaches_only_to_live_activity():
    g = GraphCorrelator(CorrelatorConfig(seed_score=0.999, attach_score=0.99))
    g.observe(sig(0, ["host:x", "ip:1.2.3.4"], ["lateral_movement"], score=0.995))
    assert g.stats["orphans"] == 1 and g.live_components() == 0
    g.observe(sig(10, ["host:x", "ip:5.6.7.8"], ["credential_access"], score=0.9995))
    g.observe(sig(20, ["host:x", "host:y"], ["lateral_movement"], score=0.995))
    assert g.stats["linked"] >= 1 and len(g.incidents) == 1
    g.observe(sig(30, ["host:q"], ["exfiltration"], score=0.5))
    assert g.stats["below_attach"] == 1


def test_window_expiry_starts_a_new_generation():
    g = GraphCorrelator(CorrelatorConfig(window_s=600, sweep_every_s=100))
    chain(g)
    first = next(iter(g.incidents))
    # the same host, long after the window: a fresh component, the old incident closes
    g.observe(sig(10_000, ["host:h2", "ip:8.8.8.8"], ["credential_access"]))
    g.observe(sig(10_010, ["host:h2", "ip:8.8.8.8"], ["privilege_escalation"]))
    assert g.incidents[first].status == "closed"
    assert len(g.incidents) == 2
    second = [i for i in g.incidents if i != first][0]
    comp = g.component_of(second)
    assert comp is not None and "ip:203.0.113.5" not in comp.entities
    assert g.component_of(first) is not None  # closed incidents stay exportable


def test_duplicates_are_counted_not_repeated():
    g = GraphCorrelator()
    for k in range(50):
        g.observe(Signal(ts=T0 + k, kind="sigma", name="ssh_bruteforce", score=0.999, entities=("ip:203.0.113.5", "host:h1"),
                         tactics=("credential_access",)))
    assert g.stats["deduplicated"] == 49
    g.observe(sig(60, ["host:h1", "user:bob@h1"], ["initial_access"]))
    comp = g.component_of_entity("host:h1")
    assert comp is not None and comp.n_signals == 2
    assert comp.signals[0].detail["repeats"] == 50


def test_only_high_level_rules_raise_alone():
    g = GraphCorrelator()
    g.observe(Signal(ts=T0, kind="sigma", name="medium_rule", score=0.999, entities=("host:a",), tactics=("execution",)))
    assert g.incidents == {}  # a medium Sigma alert alone is evidence, not an incident
    g.observe(Signal(ts=T0 + 1, kind="sigma", name="high_rule", score=0.9995, entities=("host:b",), tactics=("execution",)))
    assert len(g.incidents) == 1


def test_two_incidents_merge_into_the_older():
    g = GraphCorrelator()
    g.observe(sig(0, ["host:a", "ip:203.0.113.1"], ["credential_access"]))
    g.observe(sig(1, ["host:a", "user:u@a"], ["privilege_escalation"]))
    g.observe(sig(5, ["host:b", "ip:203.0.113.2"], ["credential_access"]))
    g.observe(sig(6, ["host:b", "user:v@b"], ["privilege_escalation"]))
    assert len(g.incidents) == 2
    g.observe(sig(10, ["host:a", "host:b"], ["lateral_movement"]))
    merged = [i for i in g.incidents.values() if i.status == "merged"]
    assert len(merged) == 1 and merged[0].merged_into == "inc-000001"
    assert g.incidents["inc-000001"].merged_from == ["inc-000002"]
    assert g.component_of("inc-000002") is g.component_of("inc-000001")


def test_progression_and_risk():
    assert progression({0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}) == 4
    assert progression({3: 1.0, 0: 2.0}) == 1  # exfiltration before access is not progression
    lo, _ = incident_risk({"discovery": 0.99}, {2: 0.0}, 0.0)
    hi, _ = incident_risk({"credential_access": 0.99, "lateral_movement": 0.99, "exfiltration": 0.99}, {0: 0, 2: 1, 3: 2}, 0.0)
    assert 0 <= lo < hi <= 1
    assert tactics_from_tags(["attack.credential-access", "attack.t1110.001", "cve.2021"]) == (("credential_access",), ("T1110.001",))


def test_sweep_bounds_memory():
    g = GraphCorrelator(CorrelatorConfig(window_s=100, sweep_every_s=50))
    for k in range(5000):
        g.observe(sig(k * 5.0, [f"host:h{k}", f"ip:203.0.113.{k % 250}"], ["discovery"]))
    assert g.live_components() < 60
    assert len(g._cur) < 200  # expired entities were deleted, not kept forever
