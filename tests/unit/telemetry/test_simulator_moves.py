"""A VM the control plane moved runs on its new host: telemetry from there, and the old host's failure
no longer takes it down."""
import numpy as np

from aiops.settings import SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator


def _sim(**kw):
    base = dict(hosts=6, vms_per_host=2, seed=11, interval_s=30, scenario_rate_per_day=0, attack_rate_per_day=0,
                lookalike_rate=0)
    return FleetSimulator(SimulatorSettings(**{**base, **kw}))


def _value(tick, target, metric):
    b = tick.metrics
    sel = (b.target_idx == b.targets.index(target)) & (b.metric_idx == b.metrics.index(metric))
    return float(b.values[sel][0]) if sel.any() else np.nan


def test_moved_vm_escapes_its_old_hosts_failure_and_emits_a_migration_event():
    sim = _sim()
    vms = [v.vm_id for v in sim.fleet.vms_on("host-0002")]
    sc = sim.inject("disk_failure", "host-0002", sim.now + 3600)
    sim.advance(1800)
    ev = sim.move(vms[0], "host-0004")
    assert ev["type"] == "vm_migrated" and ev["source_host"] == "host-0002" and sim.host_of(vms[0]) == "host-0004"
    assert sim.move(vms[0], "host-0004") is None  # already there
    ticks = sim.advance(3 * 3600)
    events = [e for t in ticks for e in t.events]
    assert events[0]["type"] == "vm_migrated" and events[0]["vm_id"] == vms[0]  # with the next tick
    crashed = {e["vm_id"] for e in events if e["type"] == "vm_crashed"}
    assert crashed == set(vms[1:])  # the one that left is not taken down
    down = [t for t in ticks if sc.failure_ts < t.ts < sc.recovery_ts]
    assert down and all(not np.isnan(_value(t, vms[0], "cpu_utilization")) for t in down)
    assert all(np.isnan(_value(t, vms[1], "cpu_utilization")) for t in down)
    recovered = [e["vm_id"] for e in sim.advance(2 * 3600)[-1:][0].events] + \
        [e["vm_id"] for t in ticks for e in t.events if e["type"] == "vm_recovered"]
    assert vms[0] not in recovered


def test_vm_telemetry_comes_from_the_new_host_from_the_next_tick():
    sim = _sim()
    vm = sim.fleet.vms_on("host-0001")[0].vm_id
    sim.inject("network_partition", "host-0003", sim.now + 3600, precursor_s=3600)  # packet errors on host-0003's VMs
    sim.advance(3000)
    before = _value(sim.advance(30)[0], vm, "network_error_rate")
    sim.move(vm, "host-0003")
    after = _value(sim.advance(30)[0], vm, "network_error_rate")
    assert after > 100 * before  # the VM's packet errors are now its new host's


def test_moves_do_not_change_what_fails_when():
    a, b = _sim(scenario_rate_per_day=1.0), _sim(scenario_rate_per_day=1.0)
    b.advance(600)
    for v in b.fleet.vms:
        b.move(v.vm_id, "host-0000")
    a.advance(3 * 86_400)
    b.advance(3 * 86_400 - 600)
    assert a.ground_truth()["scenarios"] == b.ground_truth()["scenarios"] and a.ground_truth()["scenarios"]
