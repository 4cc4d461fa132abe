"""Placement on the running engine: real Ray, Serve, feature shards, simulator and Redis."""
from __future__ import annotations

import httpx
import numpy as np
import pytest
import ray
from ray import serve

from actors.names import OPTIMIZER_NAME
from actors.placement_ingress import build_placement_app
from actors.placement_service import RayFleetSource
from aiops.placement.optimise.constraints import PlacementConstraints, VMRequest
from aiops.placement.feedback_redis import RedisFeedbackStore
from aiops.placement.plan_problem import DIMENSIONS, static_mask
from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings as _settings, system_factory, wait_for as _wait  # noqa: F401

pytestmark = pytest.mark.integration
PREFIX = "/placement-it"


@pytest.fixture
def placement_api(system_factory, clean_redis):  # noqa: F811
    # no label-free fallback here: the default evacuation must find no host at risk without a model
    settings = _settings(**{"redis.url": clean_redis, "simulator.hosts": 24, "simulator.vms_per_host": 4,
                            "failure.unsupervised.enabled": False})
    system = system_factory(settings)
    serve.run(build_placement_app(settings, refresh_s=1.0, name="placement-it"), name="placement-it",
              route_prefix=PREFIX, blocking=False)
    client = httpx.Client(base_url=system.url + PREFIX, timeout=120, headers=API_HEADERS)
    _wait(lambda: client.get("/api/ai/features/host-0003").status_code == 200, 90, what="features through the placement app")
    yield settings, client
    try:
        serve.delete("placement-it")
    finally:
        try:
            ray.kill(ray.get_actor(OPTIMIZER_NAME, namespace=settings.ray.namespace), no_restart=True)
        except ValueError:
            pass


def _fleet(settings):
    """The fleet as the API sees it, rebuilt here to check constraints independently."""
    src = RayFleetSource(settings)
    return src.fetch()


def _recommend(client, settings, vm):
    """Single-VM recommendation over the simulated fleet; shard features reached the inventory."""
    r = client.post("/api/ai/placement/recommendations", json={"vm_specs": vm, "max_recommendations": 3})
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["total_nodes"] == 24 and rec["factors_considered"] >= 100 and len(rec["recommendations"]) == 3
    scores = [x["placement_score"] for x in rec["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    top = rec["recommendations"][0]
    assert top["node_id"].startswith("host-") and len(top["factor_scores"]) >= 100
    assert top["pros"] and top["cons"] and isinstance(rec["rejections"], dict)
    # utilisation features from the shards reached the inventory (not all NaN)
    snap = _fleet(settings)
    assert np.isfinite(snap.inventory.feature["cpu_util_mean"]).sum() >= 20
    assert set(snap.inventory.zone_country.tolist()) <= {"US", "IE", "DE"}
    return rec, top


def _impossible_requests_name_constraints(client, vm):
    """Impossible VMs: 409 naming the constraints, for recommendations and plans alike."""
    r = client.post("/api/ai/placement/recommendations", json={"vm_specs": {**vm, "cpu_cores": 1000}})
    assert r.status_code == 409 and r.json()["details"]["rejections"]["insufficient_cpu"] == 24
    r = client.post("/api/ai/placement/recommendations",
                    json={"vm_specs": vm, "constraints": {"data_residency": ["JP"]}})
    assert r.status_code == 409 and r.json()["details"]["rejections"]["data_residency"] == 24
    r = client.post("/api/ai/placement/plan", json={"vms": [{**vm, "vm_id": "x1"}], "constraints": {"data_residency": ["JP"]}})
    assert r.status_code == 409 and r.json()["details"]["rejections"]["data_residency"] == 24


def _batch_plan(client, vm):
    """Batch plan: Pareto front, knee with explanation, feasible dry-run end state."""
    batch = [{**vm, "vm_id": f"new-{i}", "tenant_id": f"tenant-00{i % 3}"} for i in range(8)]
    r = client.post("/api/ai/placement/plan", json={"vms": batch, "anti_affinity_groups": [["new-0", "new-1", "new-2"]],
                                                    "time_limit_s": 2})
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["pareto_front"] and "Knee of" in plan["knee"]["explanation"]
    assert plan["end_state"]["feasible"] and not plan["end_state"]["constraints_checked"]["violations"]
    assert len({plan["assignment"][f"new-{i}"] for i in range(3)}) == 3
    assert {a["op"] for a in plan["actions"]} == {"create"} and plan["status"] == "proposed"


def _evacuate_busiest_host(client, settings):
    """Default evacuation finds no host at risk; a named host is emptied with no constraint broken."""
    r = client.post("/api/ai/placement/evacuations", json={})
    assert r.status_code == 409 and r.json()["error"] == "no_host_at_risk"  # no failure model deployed
    before = _fleet(settings)
    host = max(before.hosts, key=lambda h: sum(v.host_id == h for v in before.vms.values()))
    on_host = {v.vm_id for v in before.vms.values() if v.host_id == host}
    r = client.post("/api/ai/placement/evacuations", json={"host_ids": [host]})
    assert r.status_code == 200, r.text
    ev = r.json()
    assert ev["complete"] and not ev["stranded"] and ev["end_state"]["feasible"]
    assert {a["vm_id"] for a in ev["actions"] if a["from"] == host} == on_host
    _assert_moves_fit(before, ev["actions"], host)
    return ev, host, on_host


def _assert_moves_fit(before, actions, host):
    """Every move lands on another node that passes the hard constraints and has the capacity."""
    inv = before.inventory
    cap = np.stack([inv.node[c] for c in ("cpu_cores", "mem_gb", "disk_gb")], axis=1)
    load = np.stack([inv.node[c] for c in ("cpu_alloc", "mem_alloc", "disk_alloc")], axis=1).copy()
    for a in actions:
        v = before.vms[a["vm_id"]]
        assert a["to"] != host
        ok, _ = static_mask(inv, VMRequest(v.tenant, v.vcpus, v.memory_gb, v.disk_gb), PlacementConstraints(), 24.0)
        assert ok[inv.node_index(a["to"])], f"{a['vm_id']} -> {a['to']} breaks a hard constraint"
        d = np.array([a["demand"][k] for k in DIMENSIONS[:3]])
        load[inv.node_index(a["to"])] += d
        load[inv.node_index(a["from"])] -= d
    touched = [inv.node_index(a["to"]) for a in actions]
    assert (load[touched] <= cap[touched] + 1e-6).all()


def _apply_with_approval(client, settings, vm, plan_id, host, on_host):
    """Apply needs approval, then moves the VMs once; the drained host gets no recommendation."""
    r = client.post(f"/api/ai/placement/plans/{plan_id}/apply", json={"approve": False})
    assert r.status_code == 403 and r.json()["error"] == "approval_required"
    assert client.post(f"/api/ai/placement/plans/{plan_id}/apply", json={}).status_code == 422
    assert client.post("/api/ai/placement/plans/nope/apply", json={"approve": True}).status_code == 404
    r = client.post(f"/api/ai/placement/plans/{plan_id}/apply", json={"approve": True})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "applied" and {a["vm_id"] for a in first["applied"]} >= on_host and not first["already_applied"]
    again = client.post(f"/api/ai/placement/plans/{plan_id}/apply", json={"approve": True}).json()
    assert again["already_applied"] and again["control_plane_version"] == first["control_plane_version"]
    after = _fleet(settings)
    assert not [v for v in after.vms.values() if v.host_id == host]
    assert after.inventory.node["cordoned"][after.inventory.node_index(host)]
    _wait(lambda: client.post("/api/ai/placement/recommendations", json={"vm_specs": vm, "max_recommendations": 50})
          .json()["rejections"].get("node_unschedulable") == 1, 15, what="cordoned host in the replica's inventory")


def _feedback_persists(client, settings, redis_url, vm, rec, top):
    """Feedback on a recommendation is stored in Redis and moves the learned weights' version."""
    pid = rec["placement_id"]
    for k in range(3):
        fb = {"placement_id": pid, "vm_specs": vm, "node_id": top["node_id"], "placement_score": top["placement_score"],
              "actual_performance": 0.9, "user_satisfaction": 4, "issues": []}
        r = client.post("/api/ai/placement/feedback", json=fb)
        assert r.status_code == 200, r.text
    store = RedisFeedbackStore(redis_url, settings.redis.key_prefix)
    assert store.count_outcomes() == 3 and store.latest_weights()["version"] >= 1
    assert store.get_placement(pid)["nodes"][top["node_id"]]["factors"]
    factors = client.get("/api/ai/placement/factors").json()
    assert factors["weights_version"] == store.latest_weights()["version"] and factors["total_factors"] >= 100


def test_recommendation_plan_evacuation_apply_feedback(placement_api, clean_redis):
    """One engine, the whole placement story in order: recommend, refuse, plan, evacuate, apply, learn."""
    settings, client = placement_api
    vm = {"tenant_id": "tenant-001", "cpu_cores": 4, "memory_gb": 16, "disk_gb": 50}
    rec, top = _recommend(client, settings, vm)
    _impossible_requests_name_constraints(client, vm)
    _batch_plan(client, vm)
    ev, host, on_host = _evacuate_busiest_host(client, settings)
    _apply_with_approval(client, settings, vm, ev["plan_id"], host, on_host)
    _feedback_persists(client, settings, clean_redis, vm, rec, top)


def test_default_evacuation_follows_the_failure_monitor_snapshot(system_factory):  # noqa: F811
    """Hosts the failure monitor's snapshot puts at or above the threshold are drained by default.

    The monitor is replaced by an actor with the same name and the same ``get_snapshot``
    contract ((version, model_version, horizon_s, {target: JSON bytes})) whose probabilities the test
    chooses, so the test knows which hosts are at risk; the model side is tested elsewhere.
    """
    import json

    settings = _settings(**{"simulator.hosts": 24, "simulator.vms_per_host": 4})
    system = system_factory(settings)
    ns = settings.ray.namespace
    ray.kill(ray.get_actor("failure-monitor", namespace=ns), no_restart=True)
    probs = {f"host-{i:04d}": 0.02 + 0.01 * i for i in range(24)}
    probs.update({"host-0005": 0.93, "host-0017": 0.81})

    class Monitor:
        def __init__(self, p):
            self.snap = {t: json.dumps({"target_id": t, "target_type": "host", "failure_probability": v}).encode()
                         for t, v in p.items()}

        def get_snapshot(self, since):
            return (1, "v-test", None, self.snap)

        def stop(self):
            return None

    _wait(lambda: not any(a["name"] == "failure-monitor" for a in ray.util.list_named_actors(all_namespaces=True)
                          if a["namespace"] == ns), 30, what="the real monitor to go")
    monitor = ray.remote(Monitor).options(name="failure-monitor", namespace=ns, num_cpus=0.01).remote(probs)
    serve.run(build_placement_app(settings, refresh_s=1.0, name="placement-risk"), name="placement-risk",
              route_prefix=PREFIX, blocking=False)
    client = httpx.Client(base_url=system.url + PREFIX, timeout=120, headers=API_HEADERS)
    try:
        _wait(lambda: client.get("/api/ai/features/host-0003").status_code == 200, 90, what="features")
        r = client.post("/api/ai/placement/evacuations", json={})       # default threshold: failure.alert_threshold 0.7
        assert r.status_code == 200, r.text
        ev = r.json()
        assert ev["hosts"] == ["host-0005", "host-0017"] and ev["failure_probability"] == {"host-0005": 0.93, "host-0017": 0.81}
        assert ev["complete"] and ev["end_state"]["feasible"]
        snap = RayFleetSource(settings).fetch()
        on_hosts = {v.vm_id for v in snap.vms.values() if v.host_id in {"host-0005", "host-0017"}}
        assert on_hosts and {a["vm_id"] for a in ev["actions"] if a["from"] in {"host-0005", "host-0017"}} == on_hosts
        assert all(a["to"] not in ("host-0005", "host-0017") and a["predicted_risk_target"] < 0.7 for a in ev["actions"])
        assert client.post("/api/ai/placement/evacuations", json={"threshold": 0.9}).json()["hosts"] == ["host-0005"]
        # recommendations see the same predictions: risky hosts rank with their probability
        rec = client.post("/api/ai/placement/recommendations",
                          json={"vm_specs": {"tenant_id": "t", "cpu_cores": 2, "memory_gb": 4}, "max_recommendations": 24}).json()
        got = {x["node_id"]: x["performance_estimate"]["failure_probability"] for x in rec["recommendations"]}
        assert all(got[h] == pytest.approx(probs[h]) for h in got)
    finally:
        serve.delete("placement-risk")
        for name in (OPTIMIZER_NAME,):
            try:
                ray.kill(ray.get_actor(name, namespace=ns), no_restart=True)
            except ValueError:
                pass
        ray.kill(monitor, no_restart=True)
