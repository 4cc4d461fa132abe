"""Point-in-time training rows from the fleet simulator, labelled from the failure events it emitted.

The simulator runs offline (no Ray) and its metrics and parsed syslog error counts go into an
in-process ``ShardState``, the same code the feature-store actors run, so the features a model
is trained on are exactly the ones it is served with. Every ``step_s`` simulated seconds the
features of every reporting target are read *as of that instant* (windows end at the step), so
no row sees later samples.

Labels come from the platform events the simulator emitted on its event stream (``host_failed``,
``vm_crashed``, recoveries), stored in an event store exactly as the collectors store them
(``aiops.telemetry.event_store``) and turned into failures by ``event_labels.failures_from_events``:
the simulator's ground truth is never read here (it only scores the simulator, in
``jobs.eval_fleet_failure``). Label: "this target fails within the horizon H" -- for a host
failure the target is the host, for a VM crash (not caused by its host) the VM. Rows in the last
H before the end are dropped: their outcome is not known yet (censored). Rows are dropped while a target is down (host-level
outage; a VM between its OOM kill and restart) and for VMs whose host is inside a host-level
scenario window (the VM is collateral, not the failing unit, and would otherwise teach the
model that VM symptoms of a host fault mean "VM fine"). Each row keeps the id, kind and failure
time of the next failure of its target so evaluation can work per scenario.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.failure.training.event_labels import failures_from_events
from aiops.features.definitions import FeatureDefinition, load_definitions
from aiops.features.shard import ShardState
from aiops.config_io import config_path
from aiops.settings import SimulatorSettings
from aiops.telemetry.batch import concat
from aiops.telemetry.event_store import EventStore, MemoryEventStore
from aiops.telemetry.logparse import events_to_batch, parse_line
from aiops.telemetry.scenarios import SIM_VERSION
from aiops.telemetry.simulator import FAILURE_KINDS, FleetSimulator

# Served and stored in every row, but not model inputs: on ten seeds they did not raise held-out PR-AUC
# (0.152 vs 0.158 mean) or the seeds passing acceptance (docs/benchmarks/fleet-failure.md, "change over time").
ERROR_HISTORY: tuple[str, ...] = ("ecc_errors_count_15m", "ecc_errors_count_6h", "disk_read_errors_count_15m",
                                  "disk_read_errors_count_6h", "io_errors_count_6h")
# Longer slopes and load against its own normal (configs/features.yaml), stored in every row.
LONGER_VIEW: tuple[str, ...] = ("disk_io_latency_trend_6h", "response_time_trend_1h", "network_error_rate_trend_1h",
                                "cpu_utilization_mean_5m_vs_baseline")
# The failure-prediction features of configs/features.yaml plus the error-log and gap counters.
FAILURE_FEATURES: tuple[str, ...] = (
    "cpu_utilization_mean_5m", "memory_pressure_max_5m", "memory_pressure_trend_1h",
    "disk_io_latency_p95_5m", "disk_io_latency_trend_1h", "disk_read_errors_rate_1h",
    "ecc_errors_count_1h", "temperature_max_5m", "temperature_trend_30m",
    "network_error_rate_mean_5m", "response_time_p99_5m", "io_errors_count_1h", "samples_count_5m",
    "disk_io_latency_p95_5m_vs_baseline", "temperature_max_5m_vs_baseline", "network_error_rate_mean_5m_vs_baseline",
    "response_time_p99_5m_vs_baseline", "memory_pressure_max_5m_vs_baseline",
    *ERROR_HISTORY, *LONGER_VIEW,
)
# Levels that differ from machine to machine (a host's normal temperature, latency, tail response):
# the model sees them as the deviation from the target's own median over the last 6 h, computed by
# the feature store itself (`*_vs_baseline` in configs/features.yaml), so it cannot learn "this
# particular host failed before" from its normal level, and serving computes exactly what training saw.
# Error counters (0 when healthy), slopes and the bounded memory pressure are used as they are.
BASELINED: tuple[str, ...] = ("disk_io_latency_p95_5m", "temperature_max_5m", "network_error_rate_mean_5m",
                              "response_time_p99_5m", "memory_pressure_max_5m")
# CPU load is an input too, as the deviation from the target's own 6 h median: heat, latency and response
# time that load explains are benign (the simulator's load spikes and backups); the same rise without load is
# not. The raw CPU level was the model's strongest input on ten seeds and mostly told hosts apart (each host has
# its own base load), which with ~15 training failures per fleet let it memorise which hosts had failed.
MODEL_FEATURES: tuple[str, ...] = (
    "cpu_utilization_mean_5m_vs_baseline", "memory_pressure_max_5m", "memory_pressure_trend_1h", "disk_io_latency_trend_1h",
    "disk_read_errors_rate_1h", "ecc_errors_count_1h", "io_errors_count_1h", "temperature_trend_30m",
    *(f"{c}_vs_baseline" for c in BASELINED),
)
HOST_KINDS = tuple(k for k, v in FAILURE_KINDS.items() if v[3] == "host")
HARDWARE_KINDS = ("disk_failure", "ecc_host_crash", "thermal_runaway", "network_partition")
LABEL_SOURCE = "events-v1"  # part of the cache key: datasets labelled another way are not reused
META_COLUMNS = ("ts", "target_id", "target_type", "host_id", "label", "next_failure_ts", "scenario_id", "kind")


@dataclass(frozen=True)
class FleetDatasetConfig:
    """Fleet size, simulated period and sampling; defaults fit a ~5 minute run on 2 shared cores."""

    hosts: int = 40
    vms_per_host: int = 2
    days: float = 20.0
    step_s: float = 600.0
    interval_s: float = 30.0
    scenario_rate_per_day: float = 0.1
    attack_rate_per_day: float = 1.0
    lookalike_rate: float = 1.0
    seed: int = 7
    horizon_s: float = 8 * 3600.0
    warmup_s: float = 3600.0
    features: tuple[str, ...] = FAILURE_FEATURES
    # (failure kind, seconds): a shorter label horizon for kinds that warn late (see label_from_events)
    label_horizons: tuple[tuple[str, float], ...] = ()

    def simulator_settings(self) -> SimulatorSettings:
        return SimulatorSettings(hosts=self.hosts, vms_per_host=self.vms_per_host, seed=self.seed,
                                 interval_s=self.interval_s, scenario_rate_per_day=self.scenario_rate_per_day,
                                 attack_rate_per_day=self.attack_rate_per_day, lookalike_rate=self.lookalike_rate)

    def fingerprint(self) -> str:
        """Stable hash of everything that changes the features (the cache key; labels are recomputed)."""
        d = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
             for k, v in asdict(self).items() if k not in ("horizon_s", "label_horizons")}
        d["simulator_version"] = SIM_VERSION
        d["labels"] = LABEL_SOURCE
        blob = json.dumps(d, sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class FleetDataset:
    """Labelled rows, the failures observed in the events, the unlabelled rows and the events themselves.

    ``raw`` holds every feature row (no labels); ``frame`` is ``raw`` labelled from ``events``
    (see :func:`label_from_events`), so the labels can be rebuilt from other events at any time.
    """

    frame: pd.DataFrame
    scenarios: pd.DataFrame
    config: FleetDatasetConfig
    feature_names: list[str]
    start_ts: float
    end_ts: float
    stats: dict = field(default_factory=dict)
    raw: pd.DataFrame | None = None
    events: list[dict] = field(default_factory=list)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (self.raw if self.raw is not None else self.frame).to_parquet(folder / "rows.parquet", index=False)
        (folder / "events.json").write_text(json.dumps(self.events, default=float))
        meta = {"config": asdict(self.config), "feature_names": self.feature_names, "start_ts": self.start_ts,
                "end_ts": self.end_ts, "stats": self.stats}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=list))

    @classmethod
    def load(cls, folder: Path) -> "FleetDataset":
        """The cached rows and events, labelled again (labels depend on the horizon, not on the cache)."""
        meta = json.loads((folder / "meta.json").read_text())
        cfg_d = meta["config"]
        cfg_d["features"] = tuple(cfg_d["features"])
        cfg_d["label_horizons"] = tuple(tuple(kv) for kv in cfg_d.get("label_horizons", ()))
        raw = pd.read_parquet(folder / "rows.parquet")
        events = json.loads((folder / "events.json").read_text())
        cfg = FleetDatasetConfig(**cfg_d)
        frame, failures, _ = label_from_events(raw, events, cfg.horizon_s, meta["end_ts"], dict(cfg.label_horizons))
        return cls(frame, failures, cfg, list(meta["feature_names"]), meta["start_ts"], meta["end_ts"],
                   meta.get("stats", {}), raw, events)


def label_from_events(raw: pd.DataFrame, events: Sequence[dict], horizon_s: float, known_until: float,
                      label_horizons: Mapping[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Label feature rows from stored failure events: (labelled rows, failures, rows dropped).

    Dropped: a target that is down, a VM on a host in the horizon before its failure (collateral,
    not the failing unit), and rows whose horizon reaches past ``known_until`` (outcome unknown).
    ``label_horizons`` (failure kind -> seconds, at most ``horizon_s``): rows further than that before a
    failure of that kind (its reason is on the event) are labelled 0, because a kind that warns an hour
    ahead shows nothing six hours ahead, and a positive label on a row with no sign teaches noise.
    """
    failures = failures_from_events(events, horizon_s)
    ts, tid = raw["ts"].to_numpy(np.float64), raw["target_id"].to_numpy()
    drop = excluded_rows(ts, tid, raw["host_id"].to_numpy(), raw["target_type"].to_numpy(), failures)
    drop |= ts > known_until - horizon_s
    frame = raw.loc[~drop].reset_index(drop=True)
    nf_t, nf_i = next_failure(frame["ts"].to_numpy(), frame["target_id"].to_numpy(), failures)
    frame["next_failure_ts"] = nf_t
    has = nf_i >= 0
    row_h = np.full(len(frame), float(horizon_s))
    if label_horizons and len(failures):
        kinds = failures["kind"].to_numpy(dtype=object)[np.clip(nf_i, 0, None)]
        for kind, h in label_horizons.items():
            row_h[has & (kinds == kind)] = min(float(h), float(horizon_s))
    frame["label"] = horizon_label(frame["ts"].to_numpy(), nf_t, row_h)
    frame["scenario_id"] = np.where(has, failures["scenario_id"].to_numpy(dtype=object)[np.clip(nf_i, 0, None)], None) \
        if len(failures) else None
    frame["kind"] = np.where(has, failures["kind"].to_numpy(dtype=object)[np.clip(nf_i, 0, None)], None) \
        if len(failures) else None
    return frame, failures, int(drop.sum())


def scenario_frame(ground_truth: dict) -> pd.DataFrame:
    """Simulator ground truth as a table with the scenario's level (host or vm)."""
    cols = ["scenario_id", "kind", "target_id", "host_id", "onset_ts", "failure_ts", "recovery_ts"]
    sc = pd.DataFrame(ground_truth["scenarios"], columns=cols)
    sc["level"] = sc["kind"].map(lambda k: FAILURE_KINDS[k][3])
    return sc.sort_values("failure_ts", kind="stable").reset_index(drop=True)


def next_failure(ts: np.ndarray, targets: np.ndarray, scenarios: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the failure time and scenario index of the target's next failure strictly after ``ts``.

    (NaN, -1) when no failure of that target follows. Vectorised per target with searchsorted.
    """
    ts = np.asarray(ts, dtype=np.float64)
    targets = np.asarray(targets)
    out_t = np.full(ts.shape, np.nan)
    out_i = np.full(ts.shape, -1, dtype=np.int64)
    for tid, grp in scenarios.groupby("target_id", sort=False):
        rows = np.flatnonzero(targets == tid)
        if rows.size == 0:
            continue
        order = np.argsort(grp["failure_ts"].to_numpy(), kind="stable")
        f = grp["failure_ts"].to_numpy()[order]
        idx = grp.index.to_numpy()[order]
        pos = np.searchsorted(f, ts[rows], side="right")
        has = pos < f.size
        out_t[rows[has]] = f[pos[has]]
        out_i[rows[has]] = idx[pos[has]]
    return out_t, out_i


def horizon_label(ts: np.ndarray, next_failure_ts: np.ndarray, horizon_s: float | np.ndarray) -> np.ndarray:
    """1 when the next failure lies in (ts, ts + H] (H per row or one for all); NaN next-failure times give 0."""
    dt = np.asarray(next_failure_ts) - np.asarray(ts)
    with np.errstate(invalid="ignore"):
        return ((dt > 0) & (dt <= horizon_s)).astype(np.int8)


def excluded_rows(ts: np.ndarray, targets: np.ndarray, hosts: np.ndarray, target_types: np.ndarray,
                  scenarios: pd.DataFrame) -> np.ndarray:
    """Rows to drop: a target that is down, or a VM whose host is inside a host-level scenario window."""
    ts = np.asarray(ts, dtype=np.float64)
    drop = np.zeros(ts.shape, dtype=bool)
    is_vm = np.asarray(target_types) == "vm"
    for sc in scenarios.itertuples(index=False):
        if sc.level == "host":
            down = (targets == sc.host_id) & (ts >= sc.failure_ts) & (ts < sc.recovery_ts)
            collateral = is_vm & (hosts == sc.host_id) & (ts >= sc.onset_ts) & (ts < sc.recovery_ts)
            drop |= down | collateral
        else:  # the VM is killed and restarted between failure and recovery
            drop |= (targets == sc.target_id) & (ts >= sc.failure_ts) & (ts < sc.recovery_ts)
    return drop


def select_definitions(names: Sequence[str], path: Path | None = None) -> list[FeatureDefinition]:
    """The named definitions (and their dependencies) from configs/features.yaml."""
    defs = {d.name: d for d in load_definitions(path or config_path("features.yaml"))}
    missing = [n for n in names if n not in defs]
    if missing:
        raise KeyError(f"features not defined in features.yaml: {missing}")
    keep: dict[str, FeatureDefinition] = {}
    stack = list(names)
    while stack:
        n = stack.pop()
        if n not in keep:
            keep[n] = defs[n]
            stack.extend(defs[n].dependencies)
    return list(keep.values())


def _max_window(defs: Sequence[FeatureDefinition]) -> float:
    return max((d.window_s for d in defs if not d.derived), default=3600.0)


def _raw_frame(rows_ts: list[float], rows_tid: list[str], values: list[list[float]], names: Sequence[str],
               ttypes: dict[str, str], host_of: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(values, dtype=np.float32).reshape(len(values), len(names)), columns=list(names))
    frame.insert(0, "ts", np.asarray(rows_ts, dtype=np.float64))
    frame.insert(1, "target_id", np.asarray(rows_tid, dtype=object))
    frame.insert(2, "target_type", np.array([ttypes[t] for t in rows_tid], dtype=object))
    frame.insert(3, "host_id", np.array([host_of[t] for t in rows_tid], dtype=object))
    return frame


def build_fleet_dataset(cfg: FleetDatasetConfig, progress: Callable[[str], None] | None = None,
                        definitions: Sequence[FeatureDefinition] | None = None,
                        store: EventStore | None = None) -> FleetDataset:
    """Simulate ``cfg.days`` days, ingest it as the simulator collector does, read point-in-time features
    of every target every ``step_s`` and label them from the events stored on the way (never ground truth).

    ``store``: where the simulator's events go (default: an in-memory event store, same semantics as Redis).
    """
    t_start = time.perf_counter()
    sim = FleetSimulator(cfg.simulator_settings())
    store = store if store is not None else MemoryEventStore()
    defs = list(definitions) if definitions is not None else select_definitions(cfg.features)
    # Ring large enough for the longest window even for bursty error-log series (up to ~1000 lines/h).
    ring = int(math.ceil(_max_window(defs) / cfg.interval_s)) * 4 + 2048
    shard = ShardState(0, defs, ring)
    names = [n for n in cfg.features]
    host_of = {v.vm_id: v.host_id for v in sim.fleet.vms}
    host_of.update({h.host_id: h.host_id for h in sim.fleet.hosts})
    year = datetime.fromtimestamp(sim.now, tz=timezone.utc).year
    n_steps = int(cfg.days * 86_400 // cfg.step_s)
    warm_steps = int(math.ceil(cfg.warmup_s / cfg.step_s))
    rows_ts: list[float] = []
    rows_tid: list[str] = []
    values: list[list[float]] = []
    t_sim = t_feat = 0.0
    start_ts = sim.now
    for step in range(n_steps):
        a = time.perf_counter()
        ticks = sim.advance(cfg.step_s)
        metrics = concat([t.metrics for t in ticks])
        events = [e for t in ticks for line in t.logs if (e := parse_line(line, year=year)) is not None]
        shard.ingest(metrics)
        err = events_to_batch(events)
        if len(err):
            shard.ingest(err)
        store.append(e for t in ticks for e in t.events)
        b = time.perf_counter()
        t_sim += b - a
        if step + 1 < warm_steps:
            continue
        now = sim.now
        # Only targets with a sample in the last step are "reporting"; a down target is skipped.
        live = {metrics.targets[i] for i in np.unique(metrics.target_idx)}
        for tid in sim.targets:
            if tid not in live:
                continue
            feats = shard.get_features(tid, at=now)["features"]
            rows_ts.append(now)
            rows_tid.append(tid)
            values.append([np.nan if feats.get(n) is None else float(feats[n]) for n in names])
        t_feat += time.perf_counter() - b
        if progress and (step + 1) % max(1, n_steps // 10) == 0:
            progress(f"  simulated {(step + 1) * cfg.step_s / 86_400:.1f}/{cfg.days:g} days, {len(rows_ts)} rows "
                     f"(sim+ingest {t_sim:.0f}s, features {t_feat:.0f}s)")
    end_ts = sim.now
    raw = _raw_frame(rows_ts, rows_tid, values, names, sim.target_types, host_of)
    stored = store.query(start_ts - 1.0, end_ts)
    frame, failures, dropped = label_from_events(raw, stored, cfg.horizon_s, end_ts, dict(cfg.label_horizons))
    stats = {"rows": int(len(frame)), "rows_dropped": dropped, "positive_rows": int(frame["label"].sum()),
             "targets": len(sim.targets), "failures_from_events": int(len(failures)), "events": len(stored),
             "sim_ingest_s": round(t_sim, 1), "features_s": round(t_feat, 1),
             "wall_s": round(time.perf_counter() - t_start, 1),
             "feature_ms_per_row": round(1e3 * t_feat / max(1, len(rows_ts)), 3)}
    return FleetDataset(frame, failures, cfg, names, start_ts, end_ts, stats, raw, stored)


def load_or_build(cfg: FleetDatasetConfig, cache_dir: Path | None, progress: Callable[[str], None] | None = None,
                  rebuild: bool = False) -> FleetDataset:
    """Reuse a dataset cached under ``cache_dir/<fingerprint>`` when the config is unchanged."""
    folder = cache_dir / f"fleet-{cfg.fingerprint()}" if cache_dir is not None else None
    if folder is not None and not rebuild and (folder / "meta.json").exists():
        ds = FleetDataset.load(folder)
        ds.config = cfg  # the cache key leaves out the horizons: label with the ones asked for
        ds = relabel(ds)
        ds.stats["cached"] = True
    else:
        ds = build_fleet_dataset(cfg, progress)
        if folder is not None:
            ds.save(folder)
        ds.stats["cached"] = False
    return with_model_features(ds)


def relabel(ds: FleetDataset, events: Sequence[dict] | None = None, horizon_s: float | None = None) -> FleetDataset:
    """The same rows labelled from ``events`` (default: the dataset's own) at ``horizon_s``."""
    ds.events = list(ds.events if events is None else events)
    h = ds.config.horizon_s if horizon_s is None else horizon_s
    ds.frame, ds.scenarios, dropped = label_from_events(ds.raw if ds.raw is not None else ds.frame, ds.events, h,
                                                        ds.end_ts, dict(ds.config.label_horizons))
    ds.stats.update(rows=int(len(ds.frame)), rows_dropped=dropped, positive_rows=int(ds.frame["label"].sum()),
                    failures_from_events=int(len(ds.scenarios)))
    return ds


def with_model_features(ds: FleetDataset) -> FleetDataset:
    """``feature_names`` becomes the model's inputs (all served by the feature store)."""
    ds.feature_names = [c for c in MODEL_FEATURES if c in ds.frame]
    return ds
