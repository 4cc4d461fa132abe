"""The retraining policy: episode and time triggers, one job at a time, back-off after failures, restart state."""
from __future__ import annotations

import pytest

from aiops.failure.training.schedule import (RetrainConfig, ScheduleState, backoff_s, baseline_ts, decide, new_episodes,
                                             overdue, record_finish, record_submission)
from aiops.failure.training.schedule_store import ScheduleStore

H = 3600.0
CFG = RetrainConfig(every_h=24, min_new_episodes=5, backoff_s=600, max_backoff_s=3 * H, job_timeout_h=2)


def fresh(now: float = 1000.0) -> ScheduleState:
    return ScheduleState(created_ts=now, episodes_at_baseline=0)


def test_enough_new_episodes_submit_and_fewer_wait_until_the_period() -> None:
    st = fresh()
    d = decide(CFG, st, 2000.0, 5, baseline_ts(st, None), True)
    assert d.submit and "5 new labelled episodes" in d.reason
    d = decide(CFG, st, 2000.0, 4, baseline_ts(st, None), True)
    assert not d.submit and d.next_due_ts == 1000.0 + 24 * H and "4/5" in d.reason


def test_the_period_alone_triggers_a_retraining() -> None:
    st = fresh()
    assert not decide(CFG, st, 1000.0 + 24 * H - 1, 0, baseline_ts(st, None), True).submit
    d = decide(CFG, st, 1000.0 + 24 * H, 0, baseline_ts(st, None), True)
    assert d.submit and "24 h" in d.reason


def test_no_jobs_api_never_submits_and_says_so() -> None:
    d = decide(CFG, fresh(), 1e9, 100, 0.0, False)
    assert not d.submit and "jobs API unavailable" in d.reason


def test_never_two_jobs_at_once() -> None:
    st = fresh()
    record_submission(st, "job-1", 2000.0, "test", 7)
    for status in ("PENDING", "RUNNING"):
        st.job_status = status
        d = decide(CFG, st, 1e9, 100, baseline_ts(st, None), True)
        assert not d.submit and "job-1" in d.reason


def test_a_succeeded_job_consumes_its_episodes_and_moves_the_baseline() -> None:
    st = fresh()
    record_submission(st, "job-1", 2000.0, "test", 7)
    record_finish(st, "SUCCEEDED", 2500.0, "promoted v0001", {"promoted": True})
    assert st.trained_from_ts == 2000.0 and st.consecutive_failures == 0
    assert new_episodes(st, 9) == 2  # 7 were seen by job-1
    assert baseline_ts(st, None) == 2000.0
    assert not decide(CFG, st, 2600.0, new_episodes(st, 9), baseline_ts(st, None), True).submit


def test_a_failed_job_backs_off_doubling_and_keeps_its_episodes_new() -> None:
    st = fresh()
    record_submission(st, "job-1", 2000.0, "test", 7)
    record_finish(st, "FAILED", 2100.0, "failed", None)
    assert new_episodes(st, 7) == 7 and st.trained_from_ts is None
    d = decide(CFG, st, 2100.0 + 599, 7, baseline_ts(st, None), True)
    assert not d.submit and "backing off after 1" in d.reason and d.next_due_ts == 2700.0
    assert decide(CFG, st, 2700.0, 7, baseline_ts(st, None), True).submit
    record_submission(st, "job-2", 2700.0, "test", 7)
    record_finish(st, "FAILED", 2800.0, "failed", None)
    assert backoff_s(CFG, st.consecutive_failures) == 1200.0
    assert not decide(CFG, st, 2800.0 + 1199, 7, 0.0, True).submit
    assert backoff_s(CFG, 10) == 3 * H  # capped
    record_submission(st, "job-3", 4000.0, "test", 7)
    record_finish(st, "SUCCEEDED", 4100.0, "not promoted", None)
    assert st.consecutive_failures == 0 and [h["job_id"] for h in st.history] == ["job-1", "job-2", "job-3"]


def test_a_model_registered_elsewhere_moves_the_periodic_baseline() -> None:
    st = fresh()
    assert baseline_ts(st, 50_000.0) == 50_000.0
    assert not decide(CFG, st, 50_000.0 + 23 * H, 0, baseline_ts(st, 50_000.0), True).submit


def test_an_overdue_job_is_detected() -> None:
    st = fresh()
    record_submission(st, "job-1", 2000.0, "test", 0)
    assert not overdue(CFG, st, 2000.0 + 2 * H)
    assert overdue(CFG, st, 2000.0 + 2 * H + 1)


def test_unknown_episode_count_relies_on_the_period() -> None:
    st = fresh()
    assert new_episodes(st, None) is None
    d = decide(CFG, st, 2000.0, None, baseline_ts(st, None), True)
    assert not d.submit and "unknown/5" in d.reason


def test_state_round_trips_through_the_store_and_ignores_unknown_fields() -> None:
    store = ScheduleStore(None, "t")
    assert store.load() is None
    st = fresh()
    record_submission(st, "job-1", 2000.0, "why", 3)
    store.save(st)
    back = store.load()
    assert back == st and back.running
    assert ScheduleState.from_json('{"created_ts": 1.0, "added_later": 2}').created_ts == 1.0


@pytest.mark.parametrize("bad", [{"every_h": 0}, {"min_new_episodes": 0}, {"nope": 1}])
def test_config_is_validated(bad: dict) -> None:
    with pytest.raises(ValueError):
        RetrainConfig(**bad)
