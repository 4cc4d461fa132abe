"""The Grafana dashboard queries only metrics the engine exports, in valid PromQL; the scrape config is valid."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter

import pytest
import yaml

from aiops.api.metrics import ApiMetrics
from aiops.api.security_metrics import security_metric_families
from aiops.failure.serving.metrics import failure_metric_families
from aiops.settings import PROJECT_ROOT
from tests.promql import GRAFANA_INTERVALS, dashboard_exprs, metric_names, missing_metrics

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "aiops.json"
SCRAPE = PROJECT_ROOT / "deploy" / "prometheus" / "scrape.yml"
ENGINE_ROWS = {"Ingestion", "Feature shards", "Failure prediction", "Alerts", "Placement", "Security correlator"}


def _promtool() -> str:
    tool = shutil.which("promtool")
    if not tool:
        pytest.fail("promtool is required (installed with prometheus by scripts/services.sh)")
    return tool


def _exposition() -> str:
    """What /metrics renders with one shard, one collector, a correlator with incidents and a loaded model."""
    shard = {"points_ingested": 10, "points_held": 5, "buffer_bytes": 640, "targets": 2, "duplicates_skipped": 0}
    collector = {"name": "simulator", "samples_stored": 10, "errors": 0, "samples_per_s": 1.0, "rejections": {"stale": 1}}
    sec = {"events_in": 3, "batches_in": 1, "busy_s": 0.1, "rejections": {"syslog:bad": 1}, "event_errors": {"x:y": 1},
           "incident_latency": {"n": 1, "p50_s": 0.1, "p99_s": 0.2, "max_s": 0.3}}
    model = {"version": "v0001", "accuracy": 0.9, "precision": 0.8, "recall": 0.7, "f1_score": 0.75}
    extra = security_metric_families(sec) + failure_metric_families(model, 3)
    return ApiMetrics().render([shard], [collector], extra).decode()


@pytest.mark.parametrize("expr, names", [
    ('histogram_quantile(0.99, sum by (le) (rate(a_bucket{route=~"/p/.*", x="{b}"}[$__rate_interval])))', {"a_bucket"}),
    ("rate(a_total[5m] offset 1h) / on(job) group_left(x) b * 1e3 + 0x1F > bool 5", {"a_total", "b"}),
    ("sum without (instance, le) (rate(c[5m:1m])) and on() vector(1)", {"c"}),
    ('topk(5, ns:rule_rate5m) unless absent(d{job="$job"})', {"ns:rule_rate5m", "d"}),
    ('label_replace(e, "dst", "$1", "src", "(.*)") or nan_named', {"e", "nan_named"}),
    ("sum(rate(f[${__rate_interval}])) @ start() > inf", {"f"}),
])
def test_extractor_finds_exactly_the_metric_names(expr, names):
    assert metric_names(expr) == names


def test_a_dashboard_naming_a_missing_metric_fails():
    exposition = _exposition()
    assert missing_metrics(["rate(aiops_points_ingested_total[5m])", "aiops_shard_up"], exposition) == {}
    missing = missing_metrics(["sum(rate(aiops_points_ingested_total[5m])) / sum(aiops_no_such_metric)",
                               "rate(aiops_shard_up_total[5m])", "aiops_http_request_duration_seconds_bucket",
                               "aiops_security_incident_latency_seconds_bucket"], exposition)
    # a gauge has no _total, a summary-style gauge no _bucket; the histogram's _bucket exists with no samples
    assert set(missing) == {"aiops_no_such_metric", "aiops_shard_up_total", "aiops_security_incident_latency_seconds_bucket"}


def test_dashboard_queries_only_exported_metrics():
    dash = json.loads(DASHBOARD.read_text())
    exprs = dashboard_exprs(dash)
    assert len(exprs) >= 25 and missing_metrics(exprs, _exposition()) == {}


def test_dashboard_covers_every_engine_and_is_well_formed():
    dash = json.loads(DASHBOARD.read_text())
    panels = dash["panels"]
    assert ENGINE_ROWS <= {p["title"] for p in panels if p["type"] == "row"}
    ids = Counter(p["id"] for p in panels)
    assert max(ids.values()) == 1, ids
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] not in ("row", "alertlist"):
            assert p["targets"] and p["datasource"]["uid"] == "${datasource}" and p["description"], p["title"]
            assert [t["refId"] for t in p["targets"]] == [chr(65 + i) for i in range(len(p["targets"]))], p["title"]
    assert [v["name"] for v in dash["templating"]["list"]] == ["datasource"]


def test_dashboard_exprs_are_valid_promql(tmp_path):
    exprs = dashboard_exprs(json.loads(DASHBOARD.read_text()))
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:expr_{i}", "expr": GRAFANA_INTERVALS.sub("5m", e)}
                                                        for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    out = subprocess.run([_promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and f"{len(exprs)} rules found" in out.stdout, out.stdout + out.stderr
    path.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "x", "expr": "sum(rate(a[5m])"}]}]}))
    assert subprocess.run([_promtool(), "check", "rules", str(path)], capture_output=True).returncode != 0


def test_scrape_config_is_valid_and_scrapes_engine_and_ray():
    out = subprocess.run([_promtool(), "check", "config", str(SCRAPE)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    jobs = {j["job_name"]: j for j in yaml.safe_load(SCRAPE.read_text())["scrape_configs"]}
    assert jobs["aiops"]["metrics_path"] == "/metrics"
    assert jobs["ray"]["file_sd_configs"][0]["files"] == ["/tmp/ray/prom_metrics_service_discovery.json"]
