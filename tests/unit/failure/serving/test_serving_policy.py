"""Cache, model-source polling, VM counts, snapshot and monitor policy: no Ray, fakes injected."""
from __future__ import annotations

import asyncio
import json

import orjson
import pytest

from aiops.failure.errors import NoModel
from aiops.failure.registry import ModelVersion
from aiops.alerting.alerter import Alerter
from aiops.alerting.delivery import AlertmanagerSink, Backoff
from aiops.failure.serving.cache import PredictionCache, cache_key
from aiops.failure.serving.horizon import at_horizon_json
from aiops.failure.serving.inventory import VmCounts, count_vms
from aiops.failure.serving.model_source import ModelSource, model_info
from aiops.failure.serving.monitor import FleetMonitor
from aiops.failure.serving.service import FleetPredictions
from aiops.failure.serving.snapshot import SnapshotReplica
from aiops.errors import UnavailableError


def run(coro):
    return asyncio.run(coro)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeRedis:
    def __init__(self, fail: bool = False) -> None:
        self.data: dict[str, bytes] = {}
        self.fail = fail

    async def mget(self, keys):
        if self.fail:
            raise ConnectionError("down")
        return [self.data.get(k) for k in keys]

    def pipeline(self, transaction=False):
        redis = self

        class Pipe:
            def __init__(self):
                self.ops = []

            def set(self, k, v, ex=None):
                self.ops.append((k, v))

            async def execute(self):
                if redis.fail:
                    raise ConnectionError("down")
                redis.data.update(self.ops)
        return Pipe()


def test_cache_key_changes_with_features_horizon_and_version():
    v = {"target_id": "h1", "features": {"a": 1.0}}
    k = cache_key(v, 7200, "v1")
    assert k.startswith("aiops:failpred:v1:h1:7200:")
    assert k != cache_key({**v, "features": {"a": 2.0}}, 7200, "v1") != cache_key(v, 3600, "v1") != cache_key(v, 7200, "v2")


def test_cache_serves_fresh_bytes_and_expires_them():
    clock = Clock()
    cache = PredictionCache(ttl_s=30, clock=clock)
    run(cache.put_many({"k": (clock.t, b'{"p":1}')}))
    assert run(cache.get_many(["k", "x"])) == [b'{"p":1}', None]
    clock.t += 31
    assert run(cache.get_many(["k"])) == [None]


def test_cache_lru_evicts_oldest_and_clear_forgets():
    cache = PredictionCache(ttl_s=30, size=2, clock=Clock())
    run(cache.put_many({"a": (1000.0, b"a"), "b": (1000.0, b"b"), "c": (1000.0, b"c")}))
    assert len(cache) == 2 and run(cache.get_many(["a", "c"])) == [None, b"c"]
    cache.clear()
    assert len(cache) == 0


def test_cache_reads_and_writes_redis_and_treats_its_errors_as_misses():
    redis = FakeRedis()
    cache = PredictionCache(ttl_s=30, redis=redis, clock=Clock())
    run(cache.put_many({"k": (1000.0, b"body")}))
    assert redis.data == {"k": b"body"}
    other_replica = PredictionCache(ttl_s=30, redis=redis, clock=Clock())
    assert run(other_replica.get_many(["k", "x"])) == [b"body", None]
    redis.fail = True
    assert run(other_replica.get_many(["y"])) == [None]
    run(other_replica.put_many({"z": (1000.0, b"z")}))  # no exception
    assert run(other_replica.get_many(["z"])) == [b"z"]


class FakeRegistry:
    def __init__(self) -> None:
        self.versions: dict[str, ModelVersion] = {}
        self.prod: str | None = None
        self.reads = 0

    def add(self, version: str, **meta) -> None:
        self.versions[version] = ModelVersion("m", version, meta)

    def production(self, name):
        self.reads += 1
        return None if self.prod is None else self.versions[self.prod]

    def get(self, name, version):
        return self.versions[version]

    def fetch(self, name, version):
        return f"/cache/{version}"


class FakeModel:
    feature_names = ["a"]


def _source(reg: FakeRegistry, clock: Clock, changes: list) -> ModelSource:
    return ModelSource(reg, "m", "production", poll_s=5, default_horizon_s=3600, definitions=[],
                       vms_on_host=lambda h: 0, load=lambda folder: (FakeModel(), None), clock=clock,
                       on_change=lambda: changes.append(1))


def test_model_source_polls_at_most_every_poll_s_and_follows_promotions():
    reg, clock, changes = FakeRegistry(), Clock(), []
    src = _source(reg, clock, changes)
    with pytest.raises(NoModel) as err:
        src.need_core()
    assert isinstance(err.value, UnavailableError) and "no failure model" in str(err.value)
    reg.add("v1", horizon_s=7200, decision_threshold=0.4)
    reg.prod = "v1"
    assert not src.refresh()  # polled a moment ago
    clock.t += 5
    core = src.need_core()
    assert core.version == "v1" and core.horizon_s == 7200 and src.decision_threshold == 0.4 and changes == [1]
    clock.t += 5
    assert not src.refresh()  # same version: nothing reloaded
    reg.add("v2")
    reg.prod = "v2"
    clock.t += 5
    assert src.need_core().version == "v2" and src.need_core().horizon_s == 3600 and changes == [1, 1]


def test_model_source_pins_a_version():
    reg, clock, changes = FakeRegistry(), Clock(), []
    reg.add("v1", horizon_s=7200)
    reg.add("v2", horizon_s=7200)
    reg.prod = "v2"
    src = _source(reg, clock, changes)
    assert src.pin_version("v1") and src.core.version == "v1"
    info = model_info(src.meta, "cpu", "r1")
    assert info["id"] == "m:v1" and info["performance_metrics"] == {"device": "cpu", "horizon_s": 7200, "replica": "r1"}


def test_vm_counts_refresh_periodically_and_keep_counts_when_the_source_fails():
    clock, answers = Clock(), [{"vms": [{"host_id": "h1"}, {"host_id": "h1"}]}, None, {"vms": [{"host_id": "h2"}]}]
    calls = []

    async def fetch():
        calls.append(1)
        answer = answers[len(calls) - 1]
        return answer

    counts = VmCounts(fetch, refresh_s=60, clock=clock)
    run(counts.refresh())
    assert counts("h1") == 2 and counts("h2") == 0
    run(counts.refresh())
    assert len(calls) == 1  # fresh enough
    clock.t += 60
    run(counts.refresh())
    assert counts("h1") == 2  # no inventory this time: the last counts stay
    clock.t += 60
    run(counts.refresh())
    assert counts("h1") == 0 and counts("h2") == 1 and len(calls) == 3
    assert count_vms({"vms": []}) == {}
    assert counts.stats() == {"hosts": 1, "refreshes": 3, "errors": 0, "last_error": None}


def test_vm_counts_count_failed_refreshes_and_keep_the_last_error():
    clock, answers = Clock(), [{"vms": [{"host_id": "h1"}]}, ConnectionError("simulator gone"), {"vms": "broken"}]

    async def fetch():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    counts = VmCounts(fetch, refresh_s=60, clock=clock)
    run(counts.refresh())
    clock.t += 60
    run(counts.refresh())
    assert counts("h1") == 1  # the last counts stay
    assert counts.stats() == {"hosts": 1, "refreshes": 1, "errors": 1, "last_error": "ConnectionError: simulator gone"}
    clock.t += 60
    run(counts.refresh())  # a malformed answer is a failure too, not a crash of the request that triggered it
    st = counts.stats()
    assert st["errors"] == 2 and st["last_error"].startswith("TypeError") and counts("h1") == 1


def _body(t: str, p: float, **extra) -> bytes:
    return orjson.dumps({"target_id": t, "failure_probability": p, "confidence_interval": [p, p], "severity": "high",
                         "contributing_factors": [{"description": "disk rising"}], "recommendations": ["drain"],
                         "model_version": "v1", "last_updated": 5.0, **extra})


def test_snapshot_replica_serves_bytes_and_restates_other_horizons():
    snap = SnapshotReplica(default_horizon_s=3600)
    snap.apply(3, "v1", 7200, {"h1": _body("h1", 0.5)})
    snap.apply(3, "v1", 7200, None)  # nothing new
    assert snap.get("h1") == _body("h1", 0.5) and snap.trained_horizon_s == 7200 and len(snap) == 1
    same, rest = snap.lookup(["h1", "ghost"], 7200)
    assert same == [_body("h1", 0.5)] and rest == ["ghost"]
    longer, _ = snap.lookup(["h1"], 14400)
    assert orjson.loads(longer[0])["failure_probability"] == pytest.approx(0.75)
    assert at_horizon_json(_body("h1", 0.5), 7200, 7200) == _body("h1", 0.5)
    assert SnapshotReplica(3600).trained_horizon_s == 3600


def _alerter(posted: list | None = None) -> Alerter:
    """A failure alerter whose Alertmanager sink only queues (its task is not started): `posted` sees the queue."""
    async def post(alerts):
        posted.extend(alerts)
    sink = AlertmanagerSink(post, Backoff(0.01, 0.02)) if posted is not None else None
    return Alerter("failure", 20.0, "low", sink)


def _fleet(version: str, probs: dict[str, float], threshold=None) -> FleetPredictions:
    return FleetPredictions(version, 7200, threshold, {t: _body(t, p) for t, p in probs.items()}, probs)


def test_monitor_snapshots_alerts_once_and_follows_the_models_operating_point():
    rounds = [_fleet("v1", {"h1": 0.8, "h2": 0.2}), _fleet("v1", {"h1": 0.9, "h2": 0.5}),
              _fleet("v2", {"h1": 0.9, "h2": 0.5}, threshold=0.42)]
    async def predict():
        return rounds.pop(0)

    mon = FleetMonitor(predict, _alerter(), None, 0.5)
    run(mon.step())
    assert [a["target_id"] for a in mon.sent] == ["h1"] and mon.sent[0]["contributing_factors"] == ["disk rising"]
    assert mon.get_snapshot(-1) == (1, "v1", 7200, {"h1": _body("h1", 0.8), "h2": _body("h2", 0.2)})
    assert mon.get_snapshot(1)[3] is None
    run(mon.step())
    assert len(mon.sent) == 1  # same episode
    run(mon.step())
    assert mon.book.threshold == 0.42 and [a["target_id"] for a in mon.sent] == ["h1", "h2"]
    stats = mon.stats("failure-monitor")
    assert stats["model_version"] == "v2" and stats["alerting"]["firing"] == 2 and stats["alerting"]["evaluations"] == 3


def test_monitor_is_quiet_without_a_model_and_counts_other_errors():
    async def no_model():
        raise NoModel()

    async def broken():
        raise KeyError("x")

    quiet = FleetMonitor(no_model, _alerter(), None, 0.5)
    run(quiet.step())
    assert quiet.errors == 0 and quiet.version == 0
    loud = FleetMonitor(broken, _alerter(), None, 0.5)
    run(loud.step())
    assert loud.errors == 1 and loud.last_error.startswith("KeyError")


def test_monitor_records_mitigations_and_rearms_the_target():
    stored = []

    async def predict():
        return _fleet("v1", {"h1": 0.8})

    async def store(record: bytes):
        stored.append(json.loads(record))

    mon = FleetMonitor(predict, _alerter(), None, 0.5, store)
    run(mon.step())
    rec = run(mon.record_mitigation("h1", "drained", "moved"))
    assert rec["prediction"] == 0.8 and stored == [rec] and "h1" not in mon.book.active
    run(mon.step())
    assert len(mon.sent) == 2  # a relapse after mitigation alerts again
    assert mon.alerter.resolved == 1  # the mitigation resolved the first episode's alert at once


def test_prediction_service_serialises_once_caches_bytes_and_counts_vms():
    from aiops.failure.serving.service import PredictionService
    from tests.unit.failure.serving.models import FEATURES, small_model

    model, X, _ = small_model()
    reg, clock = FakeRegistry(), Clock()
    reg.add("v1", horizon_s=7200)
    reg.prod = "v1"
    inventory_calls = []

    async def inventory():
        inventory_calls.append(1)
        return {"vms": [{"host_id": "h1"}] * 3}

    counts = VmCounts(inventory, clock=clock)
    src = ModelSource(reg, "m", "production", 5, 3600, [], counts, lambda folder: (model, None), clock=clock)
    vec = {"target_id": "h1", "target_type": "host", "features": {FEATURES[0]: 4.0, FEATURES[1]: 0.0, FEATURES[2]: 0.0}}

    async def one(t):
        return vec if t == "h1" else None

    async def many(ts):
        return [vec if t == "h1" else None for t in ts]

    async def everything():
        return [vec]

    svc = PredictionService(src, PredictionCache(30, clock=clock), counts, one, many, everything)
    fleet = run(svc.predict_fleet())
    body = fleet.bodies["h1"]
    pred = orjson.loads(body)
    assert fleet.model_version == "v1" and fleet.horizon_s == 7200 and fleet.probabilities["h1"] == pred["failure_probability"]
    assert "3 VMs to move" in pred["recommendations"][0] and inventory_calls == [1]
    assert run(svc.predict_one(["h1", "ghost"])) == [body, None]  # the cached bytes, not a re-encoding
    bodies, missing, version = run(svc.predict_many(["h1", "ghost"], 4 * 7200, True))
    assert missing == ["ghost"] and version == "v1" and orjson.loads(bodies[0])["failure_probability"] >= pred["failure_probability"]
    assert svc.model_info("cpu", "r")["version"] == "v1"


def test_member_probabilities_come_from_the_same_pass_as_the_combined_one():
    import numpy as np

    from tests.unit.failure.serving.models import small_model

    model, X, _ = small_model()
    p, members = model.predict_proba_members(X)
    assert np.allclose(p, model.predict_proba(X)) and members.shape == (3, len(X))
    single, _, _ = small_model(n_bags=1)
    assert single.predict_proba_members(X)[1] is None
