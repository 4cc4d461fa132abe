"""The scheduler's round against a fake Jobs API: submit on enough episodes, poll, record the verdict, back off,
resume from stored state, and say "jobs API unavailable" without a dashboard. The real Jobs API is exercised
by tests/integration/test_retrain_jobs.py."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from actors.retrain_scheduler import RetrainScheduler, train_entrypoint
from aiops.failure.training.schedule_store import ScheduleStore
from aiops.failure.training.verdict import result_line
from aiops.settings import Settings


class FakeRedis:
    """What the scheduler reads: event sorted sets' sizes and its own state value."""

    def __init__(self) -> None:
        self.zsets: dict[str, int] = {}
        self.values: dict[str, str] = {}

    def type(self, key: str) -> bytes:
        return b"zset" if key in self.zsets else b"none"

    def zcard(self, key: str) -> int:
        return self.zsets[key]

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


class FakeJobs:
    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}
        self.logs: dict[str, str] = {}

    def submit_job(self, **kw: Any) -> str:
        self.submitted.append(kw)
        self.status[kw["submission_id"]] = "PENDING"
        return kw["submission_id"]

    def get_job_info(self, job_id: str) -> Any:
        return SimpleNamespace(status=self.status[job_id], message=f"job {self.status[job_id].lower()}")

    def get_job_logs(self, job_id: str) -> str:
        return self.logs.get(job_id, "")

    def stop_job(self, job_id: str) -> None:
        self.status[job_id] = "STOPPED"


def scheduler(tmp_path: Any, jobs: FakeJobs | None, redis: FakeRedis, clock: list[float], **retrain: Any) -> RetrainScheduler:
    s = Settings().with_overrides(**{"failure.registry_uri": str(tmp_path / "registry"),
                                     **{f"failure.retrain.{k}": v for k, v in retrain.items()}})
    factory = (lambda address, headers: jobs) if jobs else (lambda a, h: (_ for _ in ()).throw(ConnectionError("refused")))
    sched = RetrainScheduler(s, "127.0.0.1:8265", client_factory=factory, clock=lambda: clock[0])
    sched.store = ScheduleStore(redis, "aiops")
    sched.state = sched.store.load() or sched.state
    return sched


def test_submits_on_enough_episodes_then_records_the_verdict(tmp_path: Any) -> None:
    redis, jobs, clock = FakeRedis(), FakeJobs(), [1000.0]
    sched = scheduler(tmp_path, jobs, redis, clock, min_new_episodes=3)
    redis.zsets["aiops:events:host_failed"] = 2
    assert sched.tick()["decision"].startswith("waiting: 2/3") and not jobs.submitted
    redis.zsets["aiops:events:vm_crashed"] = 1
    st = sched.tick()
    assert len(jobs.submitted) == 1 and st["last_job_status"] == "PENDING"
    assert "-m jobs.train_failure --source store --registry" in jobs.submitted[0]["entrypoint"]
    jid = st["last_job_id"]
    jobs.status[jid] = "RUNNING"
    clock[0] += 30
    assert sched.tick()["last_job_status"] == "RUNNING" and len(jobs.submitted) == 1
    jobs.status[jid] = "SUCCEEDED"
    jobs.logs[jid] = "...\n" + result_line({"summary": "not promoted: acceptance failed: recall 0.5 < 0.9",
                                              "what_to_change": ["recall 0.500 < 0.9 (short by 0.400): more episodes"]})
    st = sched.tick()
    assert st["last_job_status"] == "SUCCEEDED" and "short by 0.400" in st["last_outcome"]
    assert st["new_episodes"] == 0 and not jobs.submitted[1:]


def test_failed_job_backs_off_and_restart_resumes_from_redis(tmp_path: Any) -> None:
    redis, jobs, clock = FakeRedis(), FakeJobs(), [1000.0]
    redis.zsets["aiops:events:host_failed"] = 9
    sched = scheduler(tmp_path, jobs, redis, clock, min_new_episodes=3, backoff_s=600)
    jid = sched.tick()["last_job_id"]
    jobs.status[jid] = "FAILED"
    clock[0] += 10
    st = sched.tick()
    assert st["last_outcome"].startswith("failed") and st["consecutive_failures"] == 1
    assert "backing off" in st["decision"] and len(jobs.submitted) == 1
    again = scheduler(tmp_path, jobs, redis, clock, min_new_episodes=3, backoff_s=600)  # a restarted actor
    assert again.state.consecutive_failures == 1 and again.state.job_id == jid
    clock[0] += 600
    assert again.tick()["last_job_status"] == "PENDING" and len(jobs.submitted) == 2


def test_without_a_dashboard_it_reports_and_never_submits(tmp_path: Any) -> None:
    redis, clock = FakeRedis(), [1000.0]
    redis.zsets["aiops:events:host_failed"] = 50
    st = scheduler(tmp_path, None, redis, clock).tick()
    assert "jobs API unavailable" in st["decision"] and "refused" in st["jobs_error"] and st["last_job_id"] is None


def test_entrypoint_runs_the_engine_checkout_with_configured_args(tmp_path: Any) -> None:
    s = Settings().with_overrides(**{"failure.retrain.entrypoint_args": ["--dry-run"], "failure.registry_uri": "/x y"})
    cmd = train_entrypoint(s, python="/venv/bin/python")
    assert cmd.endswith("/venv/bin/python -m jobs.train_failure --dry-run --registry '/x y'") and cmd.startswith("cd ")
