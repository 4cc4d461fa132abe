"""A candidate that is not promoted: which threshold, by how much, what to change; the job's result line."""
from __future__ import annotations

import math

from aiops.failure.config import AcceptanceConfig
from aiops.failure.training.verdict import acceptance_shortfalls, explain_decision, parse_result_line, result_line

ACC = AcceptanceConfig(min_recall=0.9, min_precision=0.8, min_median_lead_min=30)


def test_each_missed_threshold_with_its_gap_and_lever() -> None:
    s = acceptance_shortfalls({"recall": 0.81, "precision": 0.95, "median_lead_min": 12.0}, ACC)
    assert [x.metric for x in s] == ["recall", "median_lead_min"]
    assert math.isclose(s[0].gap, 0.09) and math.isclose(s[1].gap, 18.0)
    assert "short by 0.090" in s[0].line() and "10% of the threshold" in s[0].line()
    assert "configs/features.yaml" in s[1].line()


def test_unmeasured_metrics_say_there_was_nothing_to_score() -> None:
    s = acceptance_shortfalls({"recall": None, "precision": float("nan"), "median_lead_min": 40}, ACC)
    assert [x.metric for x in s] == ["recall", "precision"] and all(x.value is None for x in s)
    assert "not measured" in s[0].line()


def test_passing_metrics_have_no_shortfalls() -> None:
    assert acceptance_shortfalls({"recall": 0.9, "precision": 0.8, "median_lead_min": 30}, ACC) == []


def test_explain_decision_for_rejected_promoted_and_beaten() -> None:
    metrics = {"recall": 0.5, "precision": 0.9, "median_lead_min": 60}
    v = explain_decision({"version": "v0002", "metrics": metrics,
                          "decision": {"promoted": False, "reason": "acceptance failed: recall 0.5 < 0.9"}}, ACC)
    assert not v["promoted"] and v["shortfalls"][0]["metric"] == "recall" and v["what_to_change"]
    assert v["summary"].startswith("not promoted: acceptance failed")
    ok = {"recall": 0.95, "precision": 0.9, "median_lead_min": 60}
    v = explain_decision({"version": "v0003", "metrics": ok, "decision": {"promoted": True, "reason": "ok"}}, ACC)
    assert v["promoted"] and v["summary"] == "promoted v0003" and v["what_to_change"] == []
    v = explain_decision({"version": "v0004", "metrics": ok,
                          "decision": {"promoted": False, "reason": "pr_auc 0.5 does not beat production v0003"}}, ACC)
    assert v["shortfalls"] == [] and "--force-promote" in v["what_to_change"][0]


def test_result_line_round_trips_through_a_log() -> None:
    log = "noise\n[train_failure 3s] dataset: ...\n" + result_line({"summary": "promoted v1", "x": [1]}) + "\ntrailer\n"
    assert parse_result_line(log) == {"summary": "promoted v1", "x": [1]}
    assert parse_result_line("crashed before the end") is None
