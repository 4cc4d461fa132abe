"""The chaos run's bookkeeping without a cluster: phases, acked vs stored ids, HTTP outage and recovery, the plan."""
from __future__ import annotations

import pytest

from aiops.chaos.accounting import AckBook, PhaseClock, Probe, RequestLog, build_rows
from aiops.chaos.plan import FULL_PLAN, Fault, match_actor, select_faults
from aiops.chaos.report import markdown_table, table_cells


def _clock() -> PhaseClock:
    clock = PhaseClock("baseline", 0.0)
    clock.begin("shard", 100.0)
    clock.begin("node", 200.0)
    return clock


def test_ids_belong_to_the_phase_they_were_sent_in():
    clock = _clock()
    assert [clock.phase_at(t) for t in (0.0, 99.9, 100.0, 150.0, 250.0)] == ["baseline", "baseline", "shard", "shard", "node"]
    with pytest.raises(ValueError):
        clock.begin("late", 50.0)


def test_lost_is_acked_but_never_stored_and_duplicates_are_extra_copies():
    book = AckBook()
    book.acked("baseline", samples=[("h1", 1.0), ("h1", 2.0)], events=[1, 2])
    book.acked("shard", samples=[("h2", 101.0), ("h2", 102.0)], events=[3])
    book.not_acked("shard", 2)
    stored = {("h1", 1.0): 1, ("h1", 2.0): 2, ("h2", 101.0): 1, ("h9", 5.0): 1}  # h2@102 missing; h9 never acked
    rows = build_rows(_clock(), book, stored, {1: 1, 2: 1}, RequestLog(), Probe(), end=300.0)
    base, shard, node = rows
    assert (base.samples_lost, base.sample_duplicates, base.events_lost, base.ok) == (0, 1, 0, True)
    assert (shard.samples_acked, shard.samples_lost, shard.events_lost, shard.unacked_publishes, shard.ok) == (2, 1, 1, 2, False)
    assert (node.samples_acked, node.ok) == (0, True)


def test_http_failures_span_and_recovery_are_measured_from_the_fault():
    log = RequestLog()
    log.add(101.0, "predict", False, 0, 4, 3.0)
    log.add(102.0, "placement", True, 200, 2, 1.0)
    log.add(105.0, "predict", False, 503, 4, 3.0)
    log.add(110.0, "predict", True, 200, 1, 0.5)
    probe = Probe()
    for t, as_of in ((100.5, 99.0), (104.0, None), (108.0, 99.5), (112.0, 111.0)):
        probe.add(t, as_of)
    shard = build_rows(_clock(), AckBook(), {}, {}, log, probe, end=300.0)[1]
    assert shard.http == {"http_requests": 4, "http_failed": 2, "http_retried": 1, "http_error_span_s": 7.0,
                          "http_slowest_ok_s": 1.0, "predict_back_s": 10.5}
    assert shard.ingest_back_s == 12.0  # the first poll serving a sample sent after the fault
    assert table_cells(shard)[9:] == ["2", "1", "1.0", "7.0", "10.5", "12.0"]
    assert markdown_table([shard]).count("\n") == 2


def test_the_plan_selects_by_name_and_refuses_typos():
    assert [f.name for f in select_faults(["shard", "WORKER"])] == ["feature shard", "worker node"]
    assert select_faults(None) == FULL_PLAN
    with pytest.raises(ValueError, match="no fault matches"):
        select_faults(["sharrd"])
    with pytest.raises(ValueError):
        Fault("x", "meteor", "y")


def test_actors_are_matched_by_name_replica_deployment_or_head_proxy():
    actors = [
        {"name": "feature-shard-0", "class_name": "FeatureShard", "state": "DEAD", "pid": 10, "node_id": "w"},
        {"name": "feature-shard-0", "class_name": "FeatureShard", "state": "ALIVE", "pid": 11, "node_id": "w"},
        {"name": "SERVE_REPLICA::aiops#aiops-api#x1", "class_name": "ServeReplica:aiops:aiops-api", "state": "ALIVE",
         "pid": 12, "node_id": "h"},
        {"name": "SERVE_PROXY_ACTOR-w", "class_name": "ProxyActor", "state": "ALIVE", "pid": 13, "node_id": "w"},
        {"name": "SERVE_PROXY_ACTOR-h", "class_name": "ProxyActor", "state": "ALIVE", "pid": 14, "node_id": "h"},
    ]
    by = {f.target: f for f in FULL_PLAN}
    assert match_actor(by["name:feature-shard-0"], actors)["pid"] == 11
    assert match_actor(by["replica:aiops-api"], actors)["pid"] == 12
    assert match_actor(by["proxy:head"], actors, head_node_id="h")["pid"] == 14
    assert match_actor(by["replica:failure-predictor"], actors) is None
