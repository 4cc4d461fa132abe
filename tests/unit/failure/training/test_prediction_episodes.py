"""Episode building and scenario matching: the rules the fleet benchmark's figures rest on."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aiops.failure.training.episodes import alert_episodes, evaluate, score_episodes

STEP = 600.0


def _series(above_steps: list[int], n: int = 30, target: str = "h1"):
    ts = np.arange(n) * STEP
    p = np.full(n, 0.1)
    p[above_steps] = 0.9
    return ts, np.array([target] * n), p


def test_dip_shorter_than_cooldown_keeps_one_episode():
    ts, tg, p = _series([3, 4, 5, 8, 9])  # dip of 2 steps (1200 s) < 1800 s cool-down
    eps = alert_episodes(ts, tg, p, 0.5, STEP, cooldown_s=1800)
    assert [(e.start_ts, e.end_ts, e.steps_above) for e in eps] == [(1800.0, 5400.0, 5)]


def test_dip_longer_than_cooldown_splits():
    ts, tg, p = _series([3, 4, 10])  # dip of 5 steps (3000 s) > 1800 s
    eps = alert_episodes(ts, tg, p, 0.5, STEP, cooldown_s=1800)
    assert [e.start_ts for e in eps] == [1800.0, 6000.0]


def test_missing_rows_close_an_episode():
    ts, tg, p = _series([3, 4, 5, 6])
    keep = np.arange(30) != 5  # the target stopped reporting for one step
    eps = alert_episodes(ts[keep], tg[keep], p[keep], 0.5, STEP, cooldown_s=1800)
    assert [e.start_ts for e in eps] == [1800.0, 3600.0]


def test_rows_in_any_order_and_targets_kept_apart():
    ts1, tg1, p1 = _series([2, 3], target="a")
    ts2, tg2, p2 = _series([3], target="b")
    ts, tg, p = np.concatenate([ts1, ts2]), np.concatenate([tg1, tg2]), np.concatenate([p1, p2])
    perm = np.random.default_rng(0).permutation(len(ts))
    eps = alert_episodes(ts[perm], tg[perm], p[perm], 0.5, STEP)
    assert [(e.target_id, e.start_ts) for e in eps] == [("a", 1200.0), ("b", 1800.0)]


def _scen(target: str, failure: float, kind: str = "disk_failure", level: str = "host") -> dict:
    return {"scenario_id": f"sc-{target}-{failure:.0f}", "kind": kind, "target_id": target, "host_id": target,
            "onset_ts": failure - 3600, "failure_ts": failure, "recovery_ts": failure + 3600, "level": level}


def test_detection_window_lead_time_and_precision():
    H = 4 * 3600.0
    ts = np.arange(200) * STEP
    p = np.full(200, 0.0)
    p[[100, 101]] = 0.9  # episode starts at 60000 s
    p[[10]] = 0.9  # a false alarm long before anything
    sc = pd.DataFrame([_scen("h1", 60000 + 3000)])  # failure 50 min after the episode starts
    res = evaluate(ts, np.array(["h1"] * 200), p, 0.5, recall_scenarios=sc, all_failures=sc, horizon_s=H,
                   step_s=STEP, target_level={"h1": "host"})
    assert res.scenarios["detected"].tolist() == [True]
    assert res.scenarios["lead_s"].tolist() == [3000.0]
    assert res.episodes["true_alert"].tolist() == [False, True]
    s = res.summary(["disk_failure"], ["disk_failure"])
    assert s["hardware"]["recall"] == 1.0 and s["hardware"]["precision"] == 0.5
    assert s["hardware"]["median_lead_min"] == 50.0


def test_alert_earlier_than_horizon_is_a_miss_and_a_false_alarm():
    H = 3600.0
    ts = np.arange(50) * STEP
    p = np.zeros(50)
    p[10:20] = 0.9  # opens at 6000 s and stays open past failure - H
    sc = pd.DataFrame([_scen("h1", 6000 + 2 * H)])
    res = score_episodes(alert_episodes(ts, np.array(["h1"] * 50), p, 0.5, STEP), sc, H, {"h1": "host"})
    assert not res.scenarios["detected"].iloc[0]
    assert not res.episodes["true_alert"].iloc[0]


def test_vm_alerts_scope_memory_leak_precision():
    H = 4 * 3600.0
    ts = np.arange(100) * STEP
    tg = np.array(["vm1"] * 100)
    p = np.zeros(100)
    p[50] = 0.9
    sc = pd.DataFrame([_scen("vm1", 50 * STEP + 1200, kind="memory_leak_oom", level="vm")])
    res = evaluate(ts, tg, p, 0.5, recall_scenarios=sc, all_failures=sc, horizon_s=H, step_s=STEP,
                   target_level={"vm1": "vm"})
    s = res.summary(["disk_failure", "memory_leak_oom"], ["disk_failure"])
    assert s["memory_leak_oom"]["precision"] == 1.0 and s["memory_leak_oom"]["recall"] == 1.0
    assert s["hardware"]["episodes"] == 0  # a VM alert says nothing about host hardware precision


def test_no_alert_in_grace_period_after_target_resumes():
    ts, tg, p = _series([7, 8, 15])
    keep = (np.arange(30) < 3) | (np.arange(30) >= 7)  # down for steps 3..6, back at step 7
    eps = alert_episodes(ts[keep], tg[keep], p[keep], 0.5, STEP, resume_grace_s=1800)
    assert [e.start_ts for e in eps] == [15 * STEP]  # steps 7-8 are within 30 min of resuming
    eps0 = alert_episodes(ts[keep], tg[keep], p[keep], 0.5, STEP, resume_grace_s=0)
    assert [e.start_ts for e in eps0] == [7 * STEP, 15 * STEP]


def test_an_alert_too_late_to_act_on_is_no_detection_but_still_a_true_alert():
    """With a least lead L, a failure is caught only by an alert starting in [failure - H, failure - L]."""
    H = 4 * 3600.0
    ts = np.arange(200) * STEP
    p = np.full(200, 0.0)
    p[[100, 101]] = 0.9  # episode starts at 60000 s
    sc = pd.DataFrame([_scen("h1", 60000 + 1200), _scen("h2", 60000 + 2400)])  # 20 and 40 min after the start
    tg = np.array(["h1"] * 200 + ["h2"] * 200)
    args = dict(recall_scenarios=sc, all_failures=sc, horizon_s=H, step_s=STEP, target_level={"h1": "host", "h2": "host"})
    late = evaluate(np.tile(ts, 2), tg, np.tile(p, 2), 0.5, min_lead_s=1800, **args)
    assert late.scenarios["detected"].tolist() == [False, True]
    assert late.scenarios["lead_s"].iloc[1] == 2400
    assert late.episodes["true_alert"].tolist() == [True, True]  # right, if late: not a false alarm
    anytime = evaluate(np.tile(ts, 2), tg, np.tile(p, 2), 0.5, **args)
    assert anytime.scenarios["detected"].tolist() == [True, True]
