"""The plain-Python parts behind the console: fleet view, risk history, registry versions, dry-run policy."""
from __future__ import annotations

import json

import orjson
import pytest

from aiops.failure.registry import META_SHA_TAG, ModelRegistry
from aiops.failure.registry_view import version_summaries
from aiops.failure.serving.risk_history import RiskHistory
from aiops.fleet_view import fleet_hosts, prediction_summary
from aiops.security.response.auth import Principal
from aiops.security.response.config import ResponseConfig
from aiops.security.response.engine import ResponseEngine

INVENTORY = {"hosts": [{"host_id": "h2", "zone": "b", "rack": "b-r1", "cores": 8, "memory_gb": 64},
                       {"host_id": "h1", "zone": "a", "rack": "a-r2", "cores": 8, "memory_gb": 64},
                       {"host_id": "h0", "zone": "a", "rack": "a-r1", "cores": 8, "memory_gb": 64}],
             "vms": [{"vm_id": "v1", "host_id": "h1", "vcpus": 2}, {"vm_id": "v2", "host_id": "h1", "vcpus": 4}]}


def test_fleet_hosts_groups_by_zone_and_rack_and_follows_moved_vms():
    pred = orjson.dumps({"failure_probability": 0.9, "severity": "high", "time_to_failure": 600.0, "model_version": "m",
                         "contributing_factors": [{"feature": "ecc_errors_count_1h"}]})
    rows = fleet_hosts(INVENTORY, {"v1": "h1", "v2": "h2"}, {"h2": pred}, {"h2"})
    assert [r["host_id"] for r in rows] == ["h0", "h1", "h2"]  # zone a (racks a-r1, a-r2), then zone b
    by = {r["host_id"]: r for r in rows}
    assert by["h1"]["vms"] == ["v1"] and by["h2"]["vms"] == ["v2"] and by["h2"]["vcpus_allocated"] == 4
    assert by["h2"]["cordoned"] and not by["h1"]["cordoned"]
    assert by["h2"]["prediction"]["top_factor"] == "ecc_errors_count_1h" and by["h0"]["prediction"] is None


def test_prediction_summary_reads_bytes_and_dicts():
    body = {"failure_probability": 0.25, "severity": "low", "contributing_factors": []}
    assert prediction_summary(json.dumps(body).encode()) == prediction_summary(body)
    assert prediction_summary(None) is None


def test_risk_history_is_bounded_per_target_and_in_order():
    h = RiskHistory(max_points=3, max_targets=2)
    for i in range(5):
        h.record(float(i), {"a": i / 10, "b": 0.5, "c": 0.1}, "m")
    pts = h.points("a")
    assert [p["ts"] for p in pts] == [2.0, 3.0, 4.0] and pts[-1]["probability"] == 0.4
    assert h.points("a", limit=1) == [{"ts": 4.0, "probability": 0.4, "model_version": "m"}]
    assert h.points("c") is None and len(h) == 2  # the third target is beyond max_targets
    with pytest.raises(ValueError):
        RiskHistory(max_points=0)


def test_version_summaries_mark_production_and_survive_a_bad_version(tmp_path):
    """Three versions in a real (SQLite) MLflow registry, v0002 the champion, v0003's pinned meta.json hash
    broken: the listing marks production and shows v0003 with an error instead of failing the page."""
    reg = ModelRegistry(str(tmp_path / "reg"), cache_dir=tmp_path / "cache")
    for tag, auc in (("1", 0.6), ("2", 0.7), ("3", 0.5)):
        folder = tmp_path / f"model-{tag}"
        folder.mkdir()
        (folder / "model.json").write_text(json.dumps({"tag": tag}))
        reg.register("fleet-failure", folder, {"pr_auc": auc}, ["a"], f"fp{tag}", extra={"model_type": "xgboost"})
    assert reg.promote("fleet-failure", "v0002", "pr_auc", 0.0, force=True).promoted
    reg.client.set_model_version_tag("fleet-failure", "3", META_SHA_TAG, "0" * 64)
    out = version_summaries(ModelRegistry(str(tmp_path / "reg"), cache_dir=tmp_path / "cache2"), "fleet-failure")
    assert out["production"] == "v0002"
    assert [r["version"] for r in out["versions"]] == ["v0003", "v0002", "v0001"]
    assert "error" in out["versions"][0] and out["versions"][1]["production"] and not out["versions"][2]["production"]
    assert out["versions"][1]["metrics"] == {"pr_auc": 0.7} and out["versions"][1]["model_type"] == "xgboost"


ANOM = {"id": "a-1", "kind": "incident", "severity": "high", "score": 0.9, "targets": {"vm_id": "vm-7", "ip": "203.0.113.5"}}


@pytest.mark.parametrize("action, roles, policy", [
    ("block_ip", {"responder"}, "needs_approval"),
    ("block_ip", {"responder", "approver"}, "auto"),
    ("snapshot_vm", {"responder"}, "auto"),
])
def test_a_dry_run_says_what_the_policy_would_do(action, roles, policy):
    eng = ResponseEngine(ResponseConfig(audit_log=None))
    rec = eng.request(ANOM, action, {}, principal=Principal("p", frozenset(roles)), dry_run=True)
    assert rec.status == "dry_run" and rec.result["policy"] == policy
    assert not eng.cp.blocked
