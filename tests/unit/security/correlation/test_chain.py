"""Chains of ATT&CK-tagged Sigma detections on one entity open an incident even inside one tactic."""
from __future__ import annotations

from aiops.security.correlation.graph import CorrelatorConfig, GraphCorrelator
from aiops.security.correlation.signals import Signal


def _sig(name: str, score: float, ts: float, techniques: tuple[str, ...] = ("T1003.001",)) -> Signal:
    return Signal(ts=ts, kind="sigma", name=name, score=score, entities=("host:ws1",), tactics=("credential_access",),
                  techniques=techniques, severity="medium" if score >= 0.999 else "low")


def test_two_distinct_tagged_rules_one_medium_open_an_incident() -> None:
    g = GraphCorrelator()
    assert g.observe(_sig("lsass access", 0.999, 0.0)) == []
    assert g.observe(_sig("lsass access", 0.999, 5.0)) == []  # the same rule again is not a chain
    got = g.observe(_sig("whoami", 0.99, 10.0, ("T1033",)))
    assert got and set(g.incidents) == {got[0].incident_id}


def test_untagged_rules_or_chain_disabled_do_not_open_one() -> None:
    g = GraphCorrelator()
    g.observe(_sig("a", 0.999, 0.0, ()))
    assert g.observe(_sig("b", 0.999, 1.0, ())) == []
    off = GraphCorrelator(CorrelatorConfig(chain_rules=0))
    off.observe(_sig("a", 0.999, 0.0))
    assert off.observe(_sig("b", 0.999, 1.0)) == []


def test_chain_outside_the_window_does_not_count() -> None:
    g = GraphCorrelator(CorrelatorConfig(window_s=60))
    g.observe(_sig("a", 0.999, 0.0))
    assert g.observe(_sig("b", 0.999, 1000.0)) == []
