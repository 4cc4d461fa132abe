"""The CLI's table rendering (jobs.client.tables), on answers shaped like the API's."""
from __future__ import annotations

from jobs.client import tables
from tests.unit.api.full_app import INCIDENT, NOW, prediction


def test_table_aligns_columns_and_numbers() -> None:
    out = tables.table(["name", "n"], [["a", 5], ["longer", 123]], right=(1,)).splitlines()
    assert out == ["name      n", "a         5", "longer  123"]
    assert len({len(line) for line in out}) == 1


def test_table_cuts_wide_cells_and_shows_missing_values() -> None:
    out = tables.table(["x", "y"], [["z" * 200, None], ["multi\nline", ""]])
    rows = out.splitlines()
    assert len(rows) == 3 and "…" in rows[1] and len(rows[1]) < tables.MAX_CELL + 10
    assert rows[1].rstrip().endswith("-") and "multi line" in rows[2]


def test_formatters() -> None:
    assert tables.fmt_pct(0.8234) == "82.3%" and tables.fmt_pct(None) == "-"
    assert tables.fmt_ts(NOW) == "2026-01-01 00:00:00Z" and tables.fmt_ts(None) == "-"
    assert tables.fmt_age(5400) == "1h30m" and tables.fmt_age(None) == "-"


def test_one_prediction_shows_risk_factors_and_advice() -> None:
    out = tables.render_prediction(prediction("host-0004"))
    head, row = out.splitlines()[:2]
    assert head.split()[:3] == ["target", "type", "failure"]
    assert "host-0004" in row and "82.0%" in row and "70.0%-90.0%" in row and "1h30m" in row and "lgbm-test-1" in row
    assert "disk_read_errors_rate_1h" in out and "+1.310" in out and "drain host-0004" in out


def test_batch_is_sorted_by_risk_and_names_the_missing() -> None:
    batch = {"predictions": [prediction("host-1", 0.2), prediction("host-2", 0.9)], "not_found": ["ghost"],
             "time_horizon_s": 86400, "model_version": "m1"}
    lines = tables.render_predictions(batch).splitlines()
    assert lines[1].startswith("host-2") and lines[2].startswith("host-1")
    assert "horizon 1d" in lines[3] and lines[4] == "no telemetry for: ghost"


def test_recommendations_table() -> None:
    answer = {"placement_id": "p1", "total_nodes": 300, "feasible_nodes": 290, "nodes_scored": 120, "analysis_time": 0.042,
              "rejections": {"insufficient_cpu": 7, "zone_not_allowed": 0}, "recommendations": [
                  {"rank": 1, "node_id": "node-00055", "zone": "eu-1a", "placement_score": 0.7531, "confidence": 0.41,
                   "estimated_cost": {"hourly": 0.1234, "currency": "EUR"}, "pros": ["cheap"], "cons": []}]}
    out = tables.render_recommendations(answer).splitlines()
    assert out[1].split()[:5] == ["1", "node-00055", "eu-1a", "0.753", "0.41"] and "0.123 EUR" in out[1]
    assert "290 of 300 nodes feasible" in out[2] and "42 ms" in out[2] and out[3] == "ruled out: insufficient_cpu 7"


def test_incidents_plans_and_apply() -> None:
    out = tables.render_incidents({"anomalies": [INCIDENT], "total": 1})
    assert "inc-1" in out and "critical" in out and "host:host-0007, user:mallory" in out and "1 of 1 incidents" in out
    assert tables.render_incidents({"anomalies": [], "total": 0}) == "no incidents"
    plans = {"plans": [{"plan_id": "abc", "kind": "evacuation", "status": "proposed", "created": NOW, "actions": 4,
                        "hosts": ["host-0004"], "stranded": 0, "applied_at": None}]}
    row = tables.render_plans(plans).splitlines()[1]
    assert row.split()[:3] == ["abc", "evacuation", "proposed"] and "host-0004" in row
    assert tables.render_plans({"plans": []}).startswith("no plans")
    applied = {"plan_id": "abc", "status": "partially_applied", "already_applied": False, "control_plane_version": 3,
               "applied": [{"op": "migrate", "vm_id": "vm-1", "from": "host-0004", "to": "host-0001"}],
               "skipped": [{"op": "migrate", "vm_id": "vm-2", "from": "host-0004", "to": "host-0002",
                            "reason": "target host-0002 is cordoned"}]}
    out = tables.render_apply(applied)
    assert "1 applied, 1 skipped" in out and "done" in out and "target host-0002 is cordoned" in out
