"""One typed settings object for the whole engine.

Everything that varies between a laptop and a cluster lives here and is passed in
explicitly; nothing reads configuration from module globals. YAML files are
validated on load and errors name the offending key.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiops.alerting.config import AlertingSettings
from aiops.auth import ApiSettings
from aiops.config_io import (CONFIG_DIR, PROJECT_ROOT, ConfigError, config_path, load_config_file, load_yaml, settings_path,
                             validate_config)
from aiops.failure.config import FailureConfig, TrainConfig
from aiops.failure.registry_store import default_registry_uri
from aiops.failure.health.config import FleetHealthConfig, HealthConfig
from aiops.failure.training.schedule import RetrainConfig
from aiops.placement.factors.catalog import FactorCatalog, parse_catalog
from aiops.security.config import SecurityConfig
from aiops.security.response.config import ResponseConfig
from aiops.telemetry.bounds import IngestSettings

DEFAULT_CONFIG = CONFIG_DIR / "aiops.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RaySettings(_Strict):
    address: str | None = Field(None, description="None starts a local cluster; 'auto' or 'ray://host:10001' attaches")
    namespace: str = "aiops"
    num_cpus: int | None = None
    object_store_memory: int | None = 300 * 1024 * 1024
    actor_num_cpus: float = Field(0.1, gt=0, le=8, description="CPU reserved by each collector/shard actor")


class StoreSettings(_Strict):
    num_shards: int = Field(2, ge=1, le=256)
    virtual_nodes: int = Field(64, ge=1, le=4096, description="consistent-hash points per shard")
    max_points_per_series: int = Field(2160, ge=16, le=10_000_000, description="ring size per series (6 h at 10 s)")
    features_file: Path = CONFIG_DIR / "features.yaml"
    default_window_s: float = Field(300.0, gt=0)

    @field_validator("features_file")
    @classmethod
    def _find(cls, v: Path) -> Path:
        return config_path(v, Path.cwd())


class RedisSettings(_Strict):
    url: str | None = Field(None, description="redis://host:port/db; None keeps shards in memory only")
    ttl_s: int = Field(86_400, ge=60)
    snapshot_every_batches: int = Field(200, ge=1, description="compact the write-ahead log after this many batches")
    key_prefix: str = "aiops"


class NatsSettings(_Strict):
    url: str | None = Field(None, description="nats://host:4222; None disables the JetStream collector")
    stream: str = "AIOPS"
    subject_prefix: str = Field("aiops", pattern=r"^[A-Za-z0-9_-]+$", description="consumes <prefix>.metrics.>, .logs.>, .events.>")
    durable: str = "aiops-collector"
    fetch_batch: int = Field(256, ge=1, le=10_000)
    ack_wait_s: float = Field(10.0, gt=0)

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(f"{self.subject_prefix}.{kind}.>" for kind in ("metrics", "logs", "events"))

    def kind_of(self, subject: str) -> tuple[str, str]:
        """'aiops.logs.host-7' -> ('logs', 'host-7'): message kind and the rest of the subject."""
        rest = subject[len(self.subject_prefix) + 1 :]
        kind, _, tail = rest.partition(".")
        return kind, tail


class PrometheusQuery(_Strict):
    metric: str
    promql: str
    target_label: str = "instance"
    target_template: str = Field("{value}", description="target id from the label value, e.g. 'host-{value}'")


NODE_EXPORTER_QUERIES = (
    PrometheusQuery(metric="cpu_utilization", promql='1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m]))'),
    PrometheusQuery(metric="memory_pressure", promql="1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    PrometheusQuery(metric="network_error_rate",
                    promql="sum by (instance) (rate(node_network_receive_errs_total[1m]) + rate(node_network_transmit_errs_total[1m]))"),
    PrometheusQuery(metric="disk_io_latency_ms",
                    promql="1000 * max by (instance) (rate(node_disk_io_time_seconds_total[1m]) / clamp_min(rate(node_disk_reads_completed_total[1m]) + rate(node_disk_writes_completed_total[1m]), 1))"),
)


class PrometheusSettings(_Strict):
    url: str | None = None
    interval_s: float = Field(15.0, gt=0)
    queries: tuple[PrometheusQuery, ...] = Field(NODE_EXPORTER_QUERIES, description="default: node exporter metrics")


class LogSource(_Strict):
    path: Path
    target: str | None = Field(None, description="target id for lines that do not name a host")
    fmt: str = Field("syslog", pattern="^(syslog|bgl)$")
    security: str | None = Field(None, description="also send the lines to the security correlator, parsed as this "
                                                   "format (auth, auditd, cloudtrail, zeek, ...; JSON formats one object per "
                                                   "line); the name is checked at start-up (actors.system.validate_settings), "
                                                   "as the security package owns the formats")


class SimulatorSettings(_Strict):
    enabled: bool = True
    hosts: int = Field(50, ge=1, le=100_000)
    vms_per_host: int = Field(6, ge=0, le=200)
    zones: int = Field(3, ge=1, le=64)
    racks_per_zone: int = Field(4, ge=1, le=1024)
    seed: int = 7
    interval_s: float = Field(10.0, gt=0, description="simulated seconds between samples")
    speedup: float = Field(1.0, gt=0, description="simulated seconds per wall second; 1 = real time")
    start_ts: float = Field(1_767_225_600.0, description="simulated epoch start (2026-01-01 UTC)")
    scenario_rate_per_day: float = Field(0.02, ge=0, description="failure scenarios per host per simulated day")
    attack_rate_per_day: float = Field(1.0, ge=0, description="attack campaigns per simulated day")
    lookalike_rate: float = Field(1.0, ge=0, description="scales benign look-alikes (load spikes, backups, warm "
                                  "afternoons, ...) and baseline drift; 0 = a clean fleet")
    demo: bool = Field(True, description="`aiops up` adds, in the first simulated hours, one failing host and one "
                       "multi-step attack campaign (aiops/telemetry/demo.py) to the random ones; false: random only")


class ServeSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    app_name: str = "aiops"
    ingress_replicas: int = Field(1, ge=1)
    ingress_num_cpus: float = Field(0.2, gt=0)
    max_ongoing_requests: int = Field(64, ge=1)
    max_queued_requests: int = Field(512, ge=1)
    request_timeout_s: float = Field(30.0, gt=0)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_records_per_request: int = Field(50_000, ge=1)


class FailureSettings(_Strict):
    registry_uri: str = Field(default_factory=default_registry_uri,
                              description="the model registry, MLflow's: a tracking URI (sqlite:///path/mlflow.db, "
                                          "http(s)://an MLflow server, postgresql://...) or a folder (its mlflow.db); "
                                          "default $MLFLOW_TRACKING_URI, else sqlite:///~/.local/share/aiops/mlflow.db "
                                          "($XDG_DATA_HOME) with the artefacts beside it in mlartifacts/")
    mlflow_experiment: str = Field("aiops-failure", min_length=1, max_length=200,
                                   description="MLflow experiment of the Tune trials and the registered models' runs")
    model_name: str = "fleet-failure"
    model_version: str = Field("production", description="'production' (or 'champion') follows the MLflow alias champion, "
                                                       "'challenger' the newest candidate; or pin a version, e.g. v0003")
    horizon_s: float = Field(7200.0, gt=0, description="horizon the model was trained for")
    refresh_s: float = Field(5.0, gt=0, description="how often fleet-wide predictions are recomputed")
    registry_poll_s: float = Field(5.0, gt=0)
    alert_threshold: float | None = Field(
        None, gt=0, lt=1, description="alert at this failure probability; null: the deployed model's decision threshold "
                                      "(chosen by jobs.train_failure at its operating point), 0.7 for a model without one")
    alert_rearm_below: float = Field(0.5, gt=0, lt=1, description="an alerted target alerts again only after dropping below "
                                                                  "this (and below 0.8 x the alert threshold)")
    predictor_replicas: int = Field(1, ge=1)
    predictor_num_cpus: float = Field(0.2, gt=0)
    predictor_num_gpus: float = Field(0.0, ge=0, description="fractional GPUs per model replica; 0 = CPU")
    max_batch_size: int = Field(256, ge=1)
    cache_ttl_s: float = Field(30.0, gt=0)
    evaluation: FailureConfig = Field(default_factory=lambda: _engine_file("failure"),
                                      description="configs/failure.yaml: Backblaze data, labels, features, CV, models")
    training: TrainConfig = Field(default_factory=lambda: _engine_file("training"),
                                  description="configs/train_failure.yaml: what jobs.train_failure learns from, searches, accepts")
    health: HealthConfig = Field(default_factory=HealthConfig,
                                 description="the label-free multivariate health score (aiops/failure/health/multivariate.py)")
    retrain: RetrainConfig = Field(default_factory=RetrainConfig,
                                   description="the retraining schedule (actors/retrain_scheduler.py): a Ray job when enough "
                                               "new labelled episodes arrived or every N hours")
    unsupervised: FleetHealthConfig = Field(
        default_factory=FleetHealthConfig,
        description="the label-free fleet health model served until a supervised one is promoted (fallback.py)")


class SecuritySettings(_Strict):
    sigma_rules: Literal["pack", "configured"] = Field(
        "pack", description="'pack': our rules in configs/rules (loads in well under a second); 'configured': also the "
                            "SigmaHQ folders listed in configs/security.yaml (3,000+ rules, 15-35 s to load per process)")
    match_in_collectors: bool = Field(
        True, description="collectors run Sigma's single-event matching on the events they parse, so the correlator's "
                          "core only correlates (each collector then loads the rules too)")
    learned_snapshot_s: float = Field(
        60.0, gt=0, description="with redis.url: how often the detectors' learned baselines are saved, so a restarted "
                                "correlator resumes with them instead of warming up again")
    detection: SecurityConfig = Field(default_factory=lambda: _engine_file("security"),
                                      description="configs/security.yaml: rule folders, threat intel, suppressions")
    response: ResponseConfig = Field(default_factory=lambda: _engine_file("response"),
                                     description="configs/security_response.yaml: actions, policy, approvals, tokens")


class PlacementSettings(_Strict):
    factors: FactorCatalog = Field(default_factory=lambda: _engine_file("factors"),
                                   description="configs/factors.yaml: the placement factor catalog")
    default_tenant: str = Field("default", min_length=1, max_length=200,
                                description="the tenant of a placement request that names none (vm_specs.tenant_id)")
    auto_evacuate: bool = Field(False, description="evacuate (plan and apply, no approval) every host whose predicted "
                                "failure risk reaches auto_evacuate_threshold")
    auto_evacuate_threshold: float | None = Field(None, gt=0, le=1, description="risk that triggers an automatic "
                                                  "evacuation; None = the failure alert threshold")
    auto_evacuate_interval_s: float = Field(30.0, gt=0, description="wall seconds between automatic evacuation rounds")
    evacuation_hold_s: float = Field(8 * 3600.0, ge=0, description="simulated seconds an evacuated host stays cordoned "
                                     "when it does not fail (then it takes VMs again)")


class ConfigFiles(_Strict):
    """Where each engine's own YAML lives. `load_settings` reads them into the typed sections
    (failure.evaluation, failure.training, security.detection, security.response, placement.factors), so every
    component gets its configuration from the one Settings object and never opens a file itself."""
    failure: Path = CONFIG_DIR / "failure.yaml"
    training: Path = CONFIG_DIR / "train_failure.yaml"
    security: Path = CONFIG_DIR / "security.yaml"
    response: Path = CONFIG_DIR / "security_response.yaml"
    factors: Path = CONFIG_DIR / "factors.yaml"


# (section, field, key in ConfigFiles): the engine files and where their validated contents live.
ENGINE_FILES = (("failure", "evaluation", "failure"), ("failure", "training", "training"), ("security", "detection", "security"),
                ("security", "response", "response"), ("placement", "factors", "factors"))


def _engine_file(key: str, path: Path | None = None) -> Any:
    """Read and validate one engine file (the shipped default unless `path`); errors name the file and key."""
    p = config_path(path, Path.cwd()) if path is not None else getattr(ConfigFiles(), key)
    if key == "factors":
        return parse_catalog(load_yaml(p), str(p))
    model, what = {"failure": (FailureConfig, "failure configuration"), "training": (TrainConfig, "training configuration"),
                   "security": (SecurityConfig, "security configuration"),
                   "response": (ResponseConfig, "response policy")}[key]
    return load_config_file(model, p, what)


class LoggingSettings(_Strict):
    """Structured JSON logs (aiops/logs.py): the level for the driver, the ingress and every Ray worker."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = Field(True, description="one INFO line per HTTP request (route, status, latency, request id)")


class PatternSettings(_Strict):
    """Caps applied before any regex sees outside input (aiops.patterns); cut input is counted, not rejected."""

    max_line_chars: int = Field(8 * 1024, ge=256, le=1 << 20, description="log lines are cut to this many characters")
    max_field_chars: int = Field(32 * 1024, ge=256, le=1 << 22, description="security event field values are cut to this")


class Settings(_Strict):
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("AIOPS_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data")))
    ray: RaySettings = RaySettings()
    store: StoreSettings = StoreSettings()
    redis: RedisSettings = RedisSettings()
    nats: NatsSettings = NatsSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    logs: tuple[LogSource, ...] = ()
    simulator: SimulatorSettings = SimulatorSettings()
    serve: ServeSettings = ServeSettings()
    ingest: IngestSettings = IngestSettings()
    failure: FailureSettings = Field(default_factory=FailureSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    placement: PlacementSettings = Field(default_factory=PlacementSettings)
    alerting: AlertingSettings = AlertingSettings()
    patterns: PatternSettings = PatternSettings()
    api: ApiSettings = ApiSettings()
    files: ConfigFiles = ConfigFiles()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="before")
    @classmethod
    def _read_engine_files(cls, data: Any) -> Any:
        """Fill each engine section not given inline from the file `files` names for it."""
        if not isinstance(data, dict) or not data.get("files"):
            return data
        files = data["files"] if isinstance(data["files"], ConfigFiles) else ConfigFiles.model_validate(data["files"])
        data = dict(data)
        for section, field, key in ENGINE_FILES:
            given = data.get(section)
            if isinstance(given, BaseModel):
                continue
            given = dict(given or {})
            if field not in given:
                given[field] = _engine_file(key, getattr(files, key))
            data[section] = given
        return data

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v if v.is_absolute() else (PROJECT_ROOT / v).resolve()

    def with_overrides(self, **dotted: Any) -> "Settings":
        """Copy with 'section.key' overrides (CLI flags), validated like the file."""
        data = self.model_dump()
        for key, value in dotted.items():
            if value is None:
                continue
            node = data
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return _validate(data, "<overrides>")




def _validate(data: dict[str, Any], origin: str) -> Settings:
    return validate_config(Settings, data, origin)



def load_settings(path: Path | str | None = None) -> Settings:
    """Load settings from `path`, else $AIOPS_CONFIG, else the shipped configs/aiops.yaml (aiops.config_io.settings_path)."""
    return load_config_file(Settings, settings_path(path))
