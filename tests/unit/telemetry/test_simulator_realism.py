"""The simulator is as messy as a real fleet: look-alikes, fading precursors, silent failures,
drifting baselines; and it reports failures and recoveries as platform events."""
import json

import numpy as np
import pytest

from aiops.security.simulated_events import TickConverter
from aiops.settings import SimulatorSettings
from aiops.telemetry.messages import decode_events
from aiops.telemetry.scenarios import FAILURE_KINDS, HEALTH_EVENT_TYPES, LOOKALIKE_KINDS
from aiops.telemetry.simulator import FleetSimulator

FAILURE_EVENTS = {"host_failed", "vm_crashed"}


def _clean(**kw):
    """A fleet with nothing going on, so one injected episode is all there is."""
    base = dict(hosts=6, vms_per_host=2, seed=11, interval_s=30, scenario_rate_per_day=0, attack_rate_per_day=0,
                lookalike_rate=0)
    return FleetSimulator(SimulatorSettings(**{**base, **kw}))


def _values(ticks, target, metric):
    out = []
    for t in ticks:
        b = t.metrics
        sel = (b.target_idx == b.targets.index(target)) & (b.metric_idx == b.metrics.index(metric))
        out.append(float(b.values[sel][0]) if sel.any() else np.nan)
    return np.array(out)


def _kernel_lines(ticks, host, word):
    return sum(1 for t in ticks for line in t.logs if f" {host} " in line and word in line)


def _health_events(ticks):
    return [e for t in ticks for e in t.events if e["type"] in HEALTH_EVENT_TYPES]


@pytest.mark.parametrize("kind, target, metric", [
    ("load_spike", "host-0002", "temperature_c"),          # heat, as before thermal runaway
    ("summer_heat", "zone-a", "temperature_c"),           # a whole zone warms up
    ("noisy_neighbour", "host-0002", "disk_io_latency_ms"),  # latency, as before a disk failure
    ("backup_io_storm", "host-0002", "disk_io_latency_ms"),
    ("network_blip", "host-0002", "network_error_rate"),  # packet errors, as before a partition
    ("noisy_neighbour", "host-0002", "response_time_ms"),  # response time, as before ECC / partition
    ("memory_cache_growth", "vm-000001", "memory_pressure"),  # memory, as before an OOM
])
def test_lookalike_raises_a_precursor_metric_without_a_failure(kind, target, metric):
    quiet, sim = _clean(), _clean()
    t0 = sim.now + 3600
    sim.inject_episode(kind, target, t0, 2 * 3600, strength=1.0)
    series_target = "host-0000" if kind == "summer_heat" else target  # host-0000 is in zone-a
    ticks, base_ticks = sim.advance(4 * 3600), quiet.advance(4 * 3600)
    during = slice(int(3600 * 1.5 / 30), int(3600 * 2.5 / 30))
    v, q = _values(ticks, series_target, metric), _values(base_ticks, series_target, metric)
    assert np.nanmean(v[during]) > np.nanmean(q[during]) + 5 * np.nanstd(q)
    assert np.nanmean(v[-60:]) < np.nanmean(q[-60:]) + 3 * np.nanstd(q)  # over when it is over
    assert sim.ground_truth()["scenarios"] == []  # nothing to label as a failure
    assert not [e for e in _health_events(ticks) if e["type"] in FAILURE_EVENTS]


@pytest.mark.parametrize("kind, word", [("media_errors", "I/O error"), ("ecc_burst", "EDAC")])
def test_error_bursts_without_a_failure(kind, word):
    sim = _clean()
    sim.inject_episode(kind, "host-0003", sim.now + 600, 1800, strength=1.0)
    ticks = sim.advance(3 * 3600)
    assert _kernel_lines(ticks, "host-0003", word) >= 10
    assert not sim.ground_truth()["scenarios"] and not _health_events(ticks)


def test_maintenance_reboot_goes_dark_but_is_announced_not_failed():
    sim = _clean()
    ep = sim.inject_episode("maintenance_reboot", "host-0001", sim.now + 600, 900)
    ticks = sim.advance(3600)
    temp = _values(ticks, "host-0001", "temperature_c")
    assert np.isnan(temp[25:45]).all() and not np.isnan(temp[-5:]).any()
    ev = _health_events(ticks)
    assert [(e["type"], e["action"]) for e in ev] == [("host_maintenance", "start"), ("host_maintenance", "end")]
    assert ev[0]["ts"] == ep.start_ts and ev[1]["ts"] == ep.end_ts


@pytest.mark.parametrize("kind, metric", [("disk_failure", "disk_io_latency_ms"), ("thermal_runaway", "temperature_c"),
                                          ("network_partition", "network_error_rate")])
def test_faded_precursor_rises_then_fades_and_nothing_fails(kind, metric):
    quiet, sim = _clean(), _clean()
    pre = FAILURE_KINDS[kind][0]
    start = sim.now + 600
    sim.inject_episode(f"faded_{kind}", "host-0004", start, 0.8 * pre + 3600, strength=1.0, peak_s=0.8 * pre)
    n = int((0.8 * pre + 3600 + 1800) / 30)
    ticks, base = sim.advance(n * 30), quiet.advance(n * 30)
    v, q = _values(ticks, "host-0004", metric), _values(base, "host-0004", metric)
    peak = int((600 + 0.8 * pre) / 30)
    assert np.nanmean(v[peak - 10:peak]) > np.nanmean(q) + 5 * np.nanstd(q)  # looked like the real thing
    assert np.nanmean(v[-30:]) < np.nanmean(q[-30:]) + 3 * np.nanstd(q)  # and went away
    assert not np.isnan(v).any()  # the host never went down
    assert not _health_events(ticks) and not sim.ground_truth()["scenarios"]


def test_failure_without_precursor_still_fails():
    quiet, sim = _clean(), _clean()
    fail = sim.now + 7 * 3600
    sim.inject("disk_failure", "host-0002", fail, strength=0.0)
    ticks, base = sim.advance(7 * 3600 - 60), quiet.advance(7 * 3600 - 60)
    v, q = _values(ticks, "host-0002", "disk_io_latency_ms"), _values(base, "host-0002", "disk_io_latency_ms")
    assert np.allclose(v, q) and _kernel_lines(ticks, "host-0002", "I/O error") == 0  # no warning at all
    after = sim.advance(600)
    assert [e["type"] for e in _health_events(after)][0] == "host_failed"


def test_failures_and_recoveries_are_platform_events():
    sim = _clean()
    fail = sim.now + 2 * 3600
    sc = sim.inject("disk_failure", "host-0005", fail)
    vm = sim.fleet.vms[0].vm_id
    oom = sim.inject("memory_leak_oom", vm, fail + 600)
    ticks = sim.advance(7 * 3600)
    ev = _health_events(ticks)
    vms = [v.vm_id for v in sim.fleet.vms_on("host-0005")]
    failed = [e for e in ev if e["type"] == "host_failed"]
    assert [(e["host"], e["ts"], e["reason"]) for e in failed] == [("host-0005", sc.failure_ts, "disk")]
    crashed = {(e["vm_id"], e["reason"]) for e in ev if e["type"] == "vm_crashed"}
    assert crashed == {*((v, "host_failed") for v in vms), (vm, "oom_killed")}
    assert oom.failure_ts in {e["ts"] for e in ev if e["type"] == "vm_crashed" and e["vm_id"] == vm}
    kinds = [e["type"] for e in ev if e["host"] == "host-0005" and e["ts"] >= sc.recovery_ts - 60]
    assert kinds[:2] == ["disk_replaced", "host_recovered"] and kinds.count("vm_recovered") == len(vms)
    # the same format as every platform event: decodes, and security intake skips it (no rejection)
    good, bad = decode_events(json.dumps(ev).encode())
    assert len(good) == len(ev) and not bad
    conv = TickConverter()
    for t in ticks:
        conv.convert(t)
    assert not conv.rejections.counts and conv.skipped_events == len(ev)


def test_schedule_has_silent_weak_and_fading_warnings_and_every_lookalike():
    sim = FleetSimulator(SimulatorSettings(hosts=40, vms_per_host=2, seed=3, interval_s=3600, scenario_rate_per_day=0.3,
                                           attack_rate_per_day=0))
    sim.advance(30 * 86_400)
    gt = sim.ground_truth()
    strength = np.array([s["strength"] for s in gt["scenarios"]])
    assert (strength == 0).mean() > 0.02 and ((strength > 0) & (strength < 0.6)).mean() > 0.05
    assert (strength >= 0.7).mean() > 0.6  # most failures still warn
    kinds = {e["kind"] for e in gt["episodes"]}
    assert set(LOOKALIKE_KINDS) | {"backup_io_storm"} <= kinds
    assert any(k.startswith("faded_") for k in kinds)


def test_host_baselines_drift():
    sim = FleetSimulator(SimulatorSettings(hosts=20, vms_per_host=0, seed=5, interval_s=600, scenario_rate_per_day=0,
                                           attack_rate_per_day=0))
    ticks = sim.advance(20 * 86_400)
    per_day = 144
    hosts = [f"host-{i:04d}" for i in range(20)]
    temp = np.stack([_values(ticks, h, "temperature_c") for h in hosts])
    first, last = np.nanmedian(temp[:, :per_day], axis=1), np.nanmedian(temp[:, -per_day:], axis=1)
    assert np.nanmax(np.abs(last - first)) > 2.0  # some host's normal moved by more than daily noise


def test_still_deterministic_with_lookalikes():
    a = FleetSimulator(SimulatorSettings(hosts=10, vms_per_host=2, seed=9, interval_s=60, scenario_rate_per_day=0.5))
    b = FleetSimulator(SimulatorSettings(hosts=10, vms_per_host=2, seed=9, interval_s=60, scenario_rate_per_day=0.5))
    ta = a.advance(86_400)
    tb = [t for _ in range(24) for t in b.advance(3600)]
    assert all(np.array_equal(x.metrics.values, y.metrics.values) and x.events == y.events for x, y in zip(ta, tb))
    assert a.ground_truth() == b.ground_truth() and a.ground_truth()["episodes"]
