import numpy as np
import pytest

from aiops.settings import SimulatorSettings
from aiops.telemetry.logparse import events_to_batch, parse_line
from aiops.telemetry.simulator import FAILURE_KINDS, FleetSimulator


@pytest.mark.parametrize("line, kind, host", [
    ("Mar  3 10:00:01 host-0003 kernel: [12.5] blk_update_request: I/O error, dev sdb, sector 77 op 0x0:(READ) flags 0x0", "disk_read_error", "host-0003"),
    ("Mar  3 10:00:01 host-0003 kernel: [12.5] Buffer I/O error on dev sdb1, logical block 5, async page read", "io_error", "host-0003"),
    ("Mar  3 10:00:01 h9 kernel: [1.0] EDAC MC0: 1 CE memory read error on CPU_SrcID#0_MC#0_Chan#1_DIMM#0 (channel:1)", "ecc_error", "h9"),
    ("Mar  3 10:00:01 h9 sshd[24200]: Failed password for invalid user admin from 203.0.113.9 port 5555 ssh2", "ssh_auth_failure", "h9"),
    ("Mar  3 10:00:01 h9 sshd[24200]: Accepted password for root from 203.0.113.9 port 5555 ssh2", "ssh_auth_success", "h9"),
    ("Mar  3 10:00:01 h9 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash", "sudo", "h9"),
    ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ", "ssh_auth_failure", "combo"),
    ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected", "ecc_error", "R02-M1-N0-C:J12-U11"),
])
def test_parse_line_kinds(line, kind, host):
    ev = parse_line(line)
    assert ev is not None and ev.kind == kind and ev.host == host


def test_unrelated_and_garbage_lines_are_ignored():
    assert parse_line("Mar  3 10:00:01 h9 cron[1]: (root) CMD (run-parts)") is None
    assert parse_line("\x00\xff garbage") is None
    assert parse_line("") is None


def test_log_events_count_as_metric_samples():
    lines = [f"Mar  3 10:00:0{i} h1 sshd[1]: Failed password for bob from 10.0.0.1 port 1 ssh2" for i in range(3)]
    b = events_to_batch([parse_line(l) for l in lines])
    assert len(b) == 3 and b.metrics == ("ssh_auth_failures",) and b.values.sum() == 3


def _sim(**kw):
    return FleetSimulator(SimulatorSettings(hosts=20, vms_per_host=3, seed=3, **kw))


def test_simulator_is_deterministic_whatever_the_step():
    a, b = _sim(), _sim()
    ta = a.advance(3600)
    tb = [t for _ in range(6) for t in b.advance(600)]
    assert len(ta) == len(tb) == 360
    for x, y in zip(ta, tb):
        assert np.array_equal(x.metrics.values, y.metrics.values) and x.logs == y.logs
    assert a.ground_truth() == b.ground_truth()
    c = FleetSimulator(SimulatorSettings(hosts=20, vms_per_host=3, seed=4))
    assert not np.array_equal(c.advance(10)[0].metrics.values, ta[0].metrics.values)


def test_inventory_is_heterogeneous_and_consistent():
    sim = _sim()
    assert len({(h.cores, h.gpus) for h in sim.fleet.hosts}) > 2
    assert len({h.zone for h in sim.fleet.hosts}) == 3
    for h in sim.fleet.hosts:
        vms = sim.fleet.vms_on(h.host_id)
        assert sum(v.vcpus for v in vms) <= h.cores and sum(v.memory_gb for v in vms) <= h.memory_gb


def _series(sim, ticks, target, metric):
    out = []
    for t in ticks:
        b = t.metrics
        ti, mi = b.targets.index(target), b.metrics.index(metric)
        sel = (b.target_idx == ti) & (b.metric_idx == mi)
        out.append(float(b.values[sel][0]) if sel.any() else None)
    return out


@pytest.mark.parametrize("kind, metric", [
    ("disk_failure", "disk_io_latency_ms"),
    ("thermal_runaway", "temperature_c"),
    ("network_partition", "network_error_rate"),
])
def test_precursors_show_before_failure_then_host_goes_dark(kind, metric):
    sim = FleetSimulator(SimulatorSettings(hosts=10, vms_per_host=2, seed=1, scenario_rate_per_day=0, attack_rate_per_day=0,
                                           lookalike_rate=0))
    pre = FAILURE_KINDS[kind][0]
    fail_at = sim.now + pre + 3600
    sim.inject(kind, "host-0004", fail_at)
    ticks = sim.advance(pre + 3600 + 600)
    vals = _series(sim, ticks, "host-0004", metric)
    n_before = int(3600 / 10)
    base = np.array(vals[:n_before])
    late = np.mean([v for v in vals[n_before + int(0.8 * pre / 10): n_before + int(pre / 10) - 1]])
    assert late > base.mean() + 10 * base.std()  # far outside normal variation
    assert vals[-1] is None  # host down after the failure


def test_memory_leak_and_ecc_storm_precursors():
    sim = FleetSimulator(SimulatorSettings(hosts=10, vms_per_host=2, seed=1, scenario_rate_per_day=0, attack_rate_per_day=0,
                                           lookalike_rate=0))
    vm = sim.fleet.vms[0].vm_id
    sim.inject("memory_leak_oom", vm, sim.now + 3 * 3600)
    sim.inject("ecc_host_crash", "host-0007", sim.now + 2 * 3600)
    ticks = sim.advance(3 * 3600 - 60)
    mem = _series(sim, ticks, vm, "memory_pressure")
    assert mem[-1] > 0.9 > mem[0]
    ecc = [l for t in ticks for l in t.logs if "host-0007" in l and "EDAC" in l]
    early = sum(1 for t in ticks[:180] for l in t.logs if "host-0007" in l and "EDAC" in l)
    assert len(ecc) > 50 and early < len(ecc) / 5


def test_attack_campaign_leaves_every_step_in_telemetry():
    sim = FleetSimulator(SimulatorSettings(hosts=10, vms_per_host=2, seed=5, scenario_rate_per_day=0, attack_rate_per_day=3))
    ticks = sim.advance(86_400)
    truth = sim.ground_truth()["campaigns"]
    assert truth
    camp = truth[0]["steps"]
    kinds = [parse_line(l) for t in ticks for l in t.logs]
    src = camp[0]["src_ip"]
    assert sum(1 for e in kinds if e and e.kind == "ssh_auth_failure" and e.fields.get("ip") == src) >= 10
    assert any(e and e.kind == "ssh_auth_success" and e.fields.get("ip") == src for e in kinds)
    assert any(e and e.kind == "sudo" and e.host == camp[2]["host_id"] for e in kinds)
    flows = [e for t in ticks for e in t.events if e["type"] == "network_flow" and e["dst_ip"] == camp[4]["dst_ip"]]
    assert flows and flows[0]["bytes_out"] > 1e9
