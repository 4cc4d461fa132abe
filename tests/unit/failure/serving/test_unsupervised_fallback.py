"""The label-free fallback: fitted on a simulated fleet's stored history (a real ShardState), served through the
model source until a supervised model is promoted, and back after a rollback; alerts and placement read it as
a risk, not a probability."""
from __future__ import annotations

import asyncio

import numpy as np
import orjson
import pytest

from aiops.failure.errors import NoModel
from aiops.failure.health.config import FleetHealthConfig, HealthConfig
from aiops.failure.serving.fallback import HealthFallback, history_window
from aiops.failure.serving.monitor import FleetMonitor
from aiops.failure.serving.service import FleetPredictions
from aiops.failure.serving.snapshot import SnapshotReplica
from aiops.failure.serving.unsupervised import UNSUPERVISED_PREFIX, is_unsupervised, unsupervised_version
from aiops.features.definitions import load_definitions
from aiops.features.shard import ShardState
from aiops.placement.inventory.fleet import failure_probabilities
from aiops.settings import Settings, SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator
from aiops.alerting.alerter import Alerter
from tests.unit.failure.serving.test_serving_policy import Clock, FakeModel, FakeRegistry
from aiops.failure.serving.model_source import ModelSource


class Fleet:
    """A simulated fleet stored in one shard, as the engine's collectors would store it."""

    def __init__(self, seconds: float = 3000, hosts: int = 8) -> None:
        self.sim = FleetSimulator(SimulatorSettings(hosts=hosts, vms_per_host=1, seed=11, scenario_rate_per_day=0.0,
                                                    attack_rate_per_day=0.0))
        self.shard = ShardState(0, load_definitions(Settings().store.features_file), 100_000)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        for tick in self.sim.advance(seconds):
            self.shard.ingest(tick.metrics)

    async def targets(self):
        return self.shard.list_targets()

    async def history(self, target, start, end, step):
        return self.shard.get_historical_features(target, start, end, step)

    def fallback(self, clock=None, **cfg) -> HealthFallback:
        return HealthFallback(FleetHealthConfig(**cfg), HealthConfig(), 7200, self.targets, self.history,
                              clock=clock or Clock(), in_thread=False)


@pytest.fixture(scope="module")
def fitted():
    fleet = Fleet()
    fb = fleet.fallback()
    assert asyncio.run(fb.fit_once())
    return fleet, fb


def test_history_window_reads_what_a_young_target_has_at_step_and_widens_the_step_later():
    cfg = FleetHealthConfig(step_s=60, lookback_s=6 * 3600, max_rows_per_target=60)
    assert history_window(1000.0, 1000.0 + 1800, cfg) == (1000.0, 2800.0, 60.0)  # 31 rows at step
    start, end, step = history_window(0.0, 100_000.0, cfg)
    assert step == 360.0 and end == 100_000.0 and (end - start) / step + 1 == 60


def test_fit_is_per_type_with_a_baseline_per_target_and_says_it_is_unsupervised(fitted):
    fleet, fb = fitted
    core = fb.core()
    assert set(core.fleet.types) == {"host", "vm"} and is_unsupervised(core.version)
    hosts = core.fleet.types["host"]
    assert len(hosts.baselines) == 8 and len(hosts.columns) > 20 and "temperature_max_5m" in hosts.columns
    temps = sorted(float(b[hosts.columns.index("temperature_p50_6h")]) for b in hosts.baselines.values())
    assert temps[-1] - temps[0] > 0.5  # each host's own level, not one fleet level
    info = core.describe("cpu", "r1")
    assert info["supervised"] is False and info["type"] == "unsupervised-health" and info["precision"] is None
    assert "not a probability" in info["description"] and info["performance_metrics"]["per_type"]["vm"]["targets"] == 8


def test_normal_fleet_is_mostly_low_risk_and_scoring_the_same_row_twice_changes_nothing(fitted):
    fleet = Fleet()
    fb = fleet.fallback()
    sev, risks = [], []
    for _ in range(8):
        assert asyncio.run(fb.fit_once())  # refitted as the engine does while the history is young
        core = fb.core()
        fleet.advance(300)
        preds = core.predict(fleet.shard.all_features())
        sev += [p.severity for p in preds]
        risks += [p.failure_probability for p in preds]
    assert len(preds) == 16 and all(0 <= r <= 1 for r in risks)
    # no failure scenarios, but the simulator's benign look-alikes and drifting baselines are unusual too:
    # measured 12.5 % of rows above "low" (why alerts on this score are off by default)
    assert sum(s != "low" for s in sev) / len(sev) <= 0.2
    assert all(p.time_to_failure is None for p in preds)
    again = core.predict(fleet.shard.all_features())
    assert [p.failure_probability for p in again] == [p.failure_probability for p in preds]
    lo, hi = preds[0].confidence_interval
    assert lo <= preds[0].failure_probability <= hi and hi - lo > 0.2  # wide: few rows say little


def test_a_host_far_from_its_baseline_alarms_and_blames_the_metric(fitted):
    fleet, fb = fitted
    core = fb.core()
    vec = fleet.shard.get_features("host-0003")
    hot = dict(vec["features"])
    for k in ("temperature_max_5m", "temperature_max_5m_vs_baseline"):
        hot[k] = hot[k] + 25.0
    p = None
    for i in range(1, 30):  # the smoothed score climbs over a few steps
        p = core.predict([{**vec, "as_of": vec["as_of"] + 60 * i, "features": hot}])[0]
    assert p.severity in ("high", "critical") and p.failure_probability > 0.95
    assert p.contributing_factors[0]["feature"].startswith("temperature_max_5m")
    assert "above this target's baseline" in p.contributing_factors[0]["description"]
    assert any("evacuations" in r for r in p.recommendations)


def test_model_source_serves_the_fallback_until_a_promotion_and_again_after_a_rollback_to_none(fitted):
    _, fb = fitted
    reg, clock, changes = FakeRegistry(), Clock(), []
    src = ModelSource(reg, "m", "production", poll_s=5, default_horizon_s=3600, definitions=[], vms_on_host=lambda h: 0,
                      load=lambda folder: (FakeModel(), None), clock=clock, on_change=lambda: changes.append(1),
                      fallback=fb.core)
    assert src.need_core() is fb.core()
    reg.add("v1")
    reg.prod = "v1"
    clock.t += 5
    assert src.need_core().version == "v1" and changes == [1]
    reg.prod = None  # rolled back to nothing
    clock.t += 5
    assert src.need_core() is fb.core() and changes == [1, 1] and src.meta is None
    not_yet = ModelSource(reg, "m", "production", 5, 3600, [], lambda h: 0, lambda f: (FakeModel(), None),
                          clock=clock, fallback=lambda: None)
    with pytest.raises(NoModel, match="not fitted yet"):
        not_yet.need_core()


def test_fallback_schedule_retries_until_fitted_then_doubles_up_to_refit_s_and_counts_errors():
    clock = Clock(0.0)
    fleet = Fleet(seconds=240)  # 4 minutes of data: too little to fit
    fb = fleet.fallback(clock, retry_s=10, refit_s=100)
    assert not asyncio.run(fb.maybe_fit()) and fb.core() is None and fb.next_fit_at == 10
    fleet.advance(1200)
    clock.t = 10
    assert asyncio.run(fb.maybe_fit()) and fb.next_fit_at == 20  # just fitted: soon again
    clock.t = 70
    assert asyncio.run(fb.maybe_fit()) and fb.next_fit_at == 70 + 60  # the model is 60 s old
    clock.t = 500
    assert asyncio.run(fb.maybe_fit()) and fb.next_fit_at == 600  # capped at refit_s

    async def broken():
        raise RuntimeError("shards restarting")
    fb._list_targets = broken
    clock.t = 600
    assert not asyncio.run(fb.maybe_fit()) and fb.errors == 1 and "shards restarting" in fb.last_error
    assert fb.core() is not None  # the last fit keeps serving
    off = fleet.fallback(clock, enabled=False)
    assert not asyncio.run(off.maybe_fit()) and off.core() is None


def _fleet_round(version: str, probs: dict[str, float]) -> FleetPredictions:
    bodies = {t: orjson.dumps({"target_id": t, "target_type": "host", "failure_probability": p, "severity": "high",
                               "confidence_interval": [0, 1], "model_version": version}) for t, p in probs.items()}
    return FleetPredictions(version, 7200, None, bodies, probs)


def test_monitor_never_alerts_on_the_unsupervised_risk_by_default_and_at_the_configured_level_when_set():
    version = unsupervised_version(0.0)
    for threshold, expected in ((None, 0), (0.999, 1)):
        mon = FleetMonitor(lambda: None, Alerter("failure", 20.0, "low", None), None, 0.5, unsupervised_threshold=threshold)
        f = _fleet_round(version, {"h1": 0.9995, "h2": 0.7})
        mon.apply(f)
        asyncio.run(mon._alert(f))
        assert len(mon.sent) == expected and mon.stats("m")["unsupervised"]
    mon.apply(_fleet_round("v1", {"h1": 0.9}))  # a supervised model: its usual operating point again
    assert mon.book.threshold == 0.7


def test_snapshot_does_not_restate_an_unsupervised_risk_for_another_horizon():
    snap = SnapshotReplica(7200)
    body = orjson.dumps({"failure_probability": 0.8, "confidence_interval": [0.5, 0.9]})
    snap.apply(1, UNSUPERVISED_PREFIX + "x", 7200, {"h1": body})
    hits, _ = snap.lookup(["h1"], 3600)
    assert hits == [body]


def test_placement_reads_only_alarmed_hosts_from_the_unsupervised_snapshot():
    snap = {"h1": orjson.dumps({"target_type": "host", "failure_probability": 0.8, "severity": "low"}),
            "h2": orjson.dumps({"target_type": "host", "failure_probability": 0.999, "severity": "high"})}
    assert failure_probabilities(snap) == {"h1": 0.8, "h2": 0.999}
    assert failure_probabilities(snap, alarmed_only=True) == {"h2": 0.999}


def test_registry_rollback_restores_the_previous_version_or_none(tmp_path, reg_root):
    from aiops.failure.registry import ModelRegistry

    reg = ModelRegistry(reg_root, cache_dir=tmp_path / "cache")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.json").write_text("{}")
    for _ in range(2):
        mv = reg.register("fleet-failure", folder, {"pr_auc": 0.5 + 0.1 * len(reg.versions("fleet-failure"))}, [], "x")
        assert reg.promote("fleet-failure", mv.version, "pr_auc", 0.1).promoted
    assert reg.rollback("fleet-failure") == "v0001" and reg.production("fleet-failure").version == "v0001"
    assert reg.rollback("fleet-failure") is None and reg.production("fleet-failure") is None


def test_prediction_service_serves_the_fallback_and_describes_it(fitted):
    from aiops.failure.serving.cache import PredictionCache
    from aiops.failure.serving.inventory import VmCounts
    from aiops.failure.serving.service import PredictionService

    fleet, fb = fitted
    src = ModelSource(FakeRegistry(), "m", "production", 5, 7200, [], lambda h: 0, lambda f: (FakeModel(), None),
                      clock=Clock(), fallback=fb.core)

    async def none():
        return None

    async def one(t):
        return fleet.shard.get_features(t)

    async def many(ts):
        return [fleet.shard.get_features(t) if t in fleet.shard.targets else None for t in ts]

    async def every():
        return fleet.shard.all_features()
    svc = PredictionService(src, PredictionCache(30), VmCounts(none), one, many, every)
    rnd = asyncio.run(svc.predict_fleet())
    assert is_unsupervised(rnd.model_version) and rnd.decision_threshold is None and len(rnd.bodies) == 16
    assert np.isclose(orjson.loads(rnd.bodies["host-0001"])["failure_probability"], rnd.probabilities["host-0001"])
    bodies, missing, version = asyncio.run(svc.predict_many(["host-0001", "ghost"], 3600, True))
    assert len(bodies) == 1 and missing == ["ghost"] and version == rnd.model_version
    assert svc.model_info("cpu", "r")["supervised"] is False
