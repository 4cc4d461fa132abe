"""The loop closes on the running engine: an applied evacuation moves the simulated VMs (real Ray, Serve,
shards, simulator): the simulator collector follows the control plane, and with ``placement.auto_evacuate``
a host at risk is drained without an operator."""
from __future__ import annotations

import json

import httpx
import pytest
import ray

from actors.names import MONITOR_NAME, OPTIMIZER_NAME, SIMULATOR_COLLECTOR_NAME
from actors.placement_service import RayFleetSource
from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings, system_factory, wait_for  # noqa: F401

pytestmark = pytest.mark.integration


def _client(system) -> httpx.Client:
    return httpx.Client(base_url=system.url, timeout=120, headers=API_HEADERS)


def _collector(settings):
    return ray.get_actor(SIMULATOR_COLLECTOR_NAME, namespace=settings.ray.namespace)


def _migrated(settings) -> dict[str, str]:
    events = ray.get(_collector(settings).events.remote(10_000))
    return {e["vm_id"]: e["host"] for e in events if e["type"] == "vm_migrated"}


def test_approved_evacuation_moves_the_vms_telemetry_to_the_new_hosts(system_factory):  # noqa: F811
    settings = make_settings(**{"simulator.hosts": 12, "simulator.vms_per_host": 3})
    system = system_factory(settings)
    client = _client(system)
    wait_for(lambda: client.get("/api/ai/features/host-0003").status_code == 200, 90, what="features")
    before = ray.get(_collector(settings).placement.remote())
    host = max(sorted(set(before.values())), key=lambda h: sum(v == h for v in before.values()))
    leaving = {vm for vm, h in before.items() if h == host}
    r = client.post("/api/ai/placement/evacuations", json={"host_ids": [host]})
    assert r.status_code == 200, r.text
    plan = r.json()
    r = client.post(f"/api/ai/placement/plans/{plan['plan_id']}/apply", json={"approve": True})
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    moved = {a["vm_id"]: a["to"] for a in r.json()["applied"]}
    assert set(moved) >= leaving and all(to != host for to in moved.values())
    # the simulator follows the control plane within a few polls, and says so on its event stream
    wait_for(lambda: ray.get(_collector(settings).placement.remote()).items() >= moved.items(), 60,
             what="the simulator to run the VMs on their new hosts")
    wait_for(lambda: _migrated(settings).items() >= moved.items(), 60, what="vm_migrated events")
    assert not {vm for vm, h in ray.get(_collector(settings).placement.remote()).items() if h == host}
    # the inventory's view agrees, and the moved VMs keep reporting from their new hosts
    fleet = RayFleetSource(settings).fetch()
    assert all(fleet.vms[vm].host_id == to for vm, to in moved.items())
    vm = sorted(leaving)[0]
    t0 = client.get(f"/api/ai/features/{vm}").json()["as_of"]
    wait_for(lambda: client.get(f"/api/ai/features/{vm}").json()["as_of"] > t0, 60, what="the moved VM's telemetry")


def test_auto_evacuate_drains_a_host_at_risk_without_approval(system_factory):  # noqa: F811
    settings = make_settings(**{"simulator.hosts": 12, "simulator.vms_per_host": 3, "placement.auto_evacuate": True,
                                "placement.auto_evacuate_threshold": 0.9, "placement.auto_evacuate_interval_s": 1.0})
    system_factory(settings)
    ns = settings.ray.namespace
    ray.kill(ray.get_actor(MONITOR_NAME, namespace=ns), no_restart=True)
    probs = {f"host-{i:04d}": 0.05 for i in range(12)}
    probs["host-0007"] = 0.95

    class Monitor:  # the failure monitor's get_snapshot contract (version, model, horizon_s, bodies), risks chosen here
        def get_snapshot(self, since):
            return (1, "v-test", None, {t: json.dumps({"target_id": t, "target_type": "host", "failure_probability": p}).encode()
                                  for t, p in probs.items()})

        def stop(self):
            return None

    wait_for(lambda: not any(a["name"] == MONITOR_NAME for a in ray.util.list_named_actors(all_namespaces=True)
                             if a["namespace"] == ns), 30, what="the real monitor to go")
    monitor = ray.remote(Monitor).options(name=MONITOR_NAME, namespace=ns, num_cpus=0.01).remote()
    try:
        opt = ray.get_actor(OPTIMIZER_NAME, namespace=ns)
        try:
            done = wait_for(lambda: ray.get(opt.auto_evacuations.remote()), 90, what="an automatic evacuation")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; optimiser stats: {ray.get(opt.stats.remote())}") from None
        assert [d["host_id"] for d in done] == ["host-0007"] and done[0]["status"] == "applied", done
        wait_for(lambda: "host-0007" not in ray.get(_collector(settings).placement.remote()).values(), 60,
                 what="host-0007 emptied in the simulator")
    finally:
        ray.kill(monitor, no_restart=True)
