"""When to retrain the failure model: Ray-free policy and the state it keeps.

A retraining is due when at least `min_new_episodes` labelled episodes (stored failure events such as
`host_failed`, `vm_crashed`) have arrived since the data the last training consumed, or when `every_h` hours
have passed since then. Never two jobs at once; after a failed job the next submission waits, doubling the
wait after each further failure, so a broken configuration does not resubmit every few seconds. The actor
(`actors/retrain_scheduler.py`) only supplies the clock, the episode count and the Jobs API.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetrainConfig", "ScheduleState", "Decision", "TERMINAL", "decide", "backoff_s", "baseline_ts",
           "new_episodes", "record_submission", "record_finish", "overdue"]

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})  # Ray JobStatus values that end a job


class RetrainConfig(BaseModel):
    """`failure.retrain`: the retraining schedule inside the engine."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="run the scheduler; it submits only where the Ray Jobs API (dashboard) "
                                            "answers, and reports 'jobs API unavailable' otherwise")
    every_h: float = Field(24.0, gt=0, description="retrain at least this often (hours since the last training's data)")
    min_new_episodes: int = Field(5, ge=1, description="retrain once this many new labelled episodes have arrived")
    episode_events: tuple[str, ...] = Field(("host_failed", "vm_crashed"),
                                            description="stored event types that each label one failure episode")
    events_key: str = Field("{prefix}:events:{type}", description="Redis key of each event type's store "
                            "(stream, sorted set by ts, or list of JSON with 'ts'); {prefix} = redis.key_prefix")
    check_every_s: float = Field(30.0, gt=0, description="how often the policy is evaluated")
    backoff_s: float = Field(600.0, gt=0, description="wait after a failed job; doubles with each further failure")
    max_backoff_s: float = Field(6 * 3600.0, gt=0)
    job_timeout_h: float = Field(6.0, gt=0, description="a job running longer is stopped and counted as failed")
    entrypoint_args: tuple[str, ...] = Field(("--source", "store"), description="arguments to python -m jobs.train_failure")
    jobs_address: str | None = Field(None, description="dashboard URL for the Jobs API (http://head:8265); "
                                                       "None: the one `aiops up` started or attached to")
    num_cpus: float = Field(0.05, gt=0, le=1, description="CPU reserved by the scheduler actor (it only polls)")


@dataclass
class ScheduleState:
    """What the scheduler must remember across restarts (kept in Redis when configured)."""
    created_ts: float
    trained_from_ts: float | None = None   # submission time of the last job that completed (its data is consumed)
    last_submitted_ts: float | None = None
    job_id: str | None = None
    job_status: str | None = None          # a Ray JobStatus value
    trigger: str | None = None             # why the last job was submitted
    finished_ts: float | None = None
    outcome: str | None = None             # one human line: promoted v0004 / not promoted: ... / failed: ...
    result: dict[str, Any] | None = None   # the job's own summary (decision, shortfalls)
    consecutive_failures: int = 0
    jobs_submitted: int = 0
    episodes_at_baseline: int | None = None    # stored episodes the last training saw (None: not counted yet)
    episodes_at_submission: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.job_id is not None and self.job_status not in TERMINAL

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> "ScheduleState":
        data = json.loads(raw)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Decision:
    submit: bool
    reason: str
    next_due_ts: float | None


def backoff_s(cfg: RetrainConfig, failures: int) -> float:
    """Wait after `failures` consecutive failed jobs: backoff_s, doubled per further failure, capped."""
    return 0.0 if failures <= 0 else min(cfg.backoff_s * 2 ** (failures - 1), cfg.max_backoff_s)


def baseline_ts(state: ScheduleState, registry_ts: float | None) -> float:
    """Start of 'new' data: the last training's data cut-off, by this scheduler or any job that registered a model
    (`ray job submit`, a developer's run), else the scheduler's first start."""
    return max(t for t in (state.trained_from_ts, registry_ts, state.created_ts) if t is not None)


def new_episodes(state: ScheduleState, total: int | None) -> int | None:
    """Episodes stored since the last training's data: counted by arrival (the store's size), not by event time,
    which is simulated time under the simulator and may lag on a real fleet's late deliveries."""
    if total is None:
        return None
    return max(0, total - (state.episodes_at_baseline or 0))


def decide(cfg: RetrainConfig, state: ScheduleState, now: float, new_episodes: int | None, baseline: float,
           jobs_available: bool) -> Decision:
    """Whether to submit a training job now, and why (the reason is what `aiops status` shows)."""
    periodic = baseline + cfg.every_h * 3600.0
    if not jobs_available:
        return Decision(False, "jobs API unavailable (no Ray dashboard): retraining is not scheduled", None)
    if state.running:
        return Decision(False, f"job {state.job_id} is {state.job_status}", None)
    if state.consecutive_failures and state.finished_ts is not None:
        wait_until = state.finished_ts + backoff_s(cfg, state.consecutive_failures)
        if now < wait_until:
            return Decision(False, f"backing off after {state.consecutive_failures} failed job(s)", max(wait_until, 0.0))
    if new_episodes is not None and new_episodes >= cfg.min_new_episodes:
        return Decision(True, f"{new_episodes} new labelled episodes (>= {cfg.min_new_episodes})", now)
    if now >= periodic:
        return Decision(True, f"{cfg.every_h:g} h since the last training", now)
    count = "unknown" if new_episodes is None else str(new_episodes)
    return Decision(False, f"waiting: {count}/{cfg.min_new_episodes} new episodes", periodic)


def overdue(cfg: RetrainConfig, state: ScheduleState, now: float) -> bool:
    """A running job past `job_timeout_h` (it is stopped and counted as a failure)."""
    return state.running and state.last_submitted_ts is not None and now - state.last_submitted_ts > cfg.job_timeout_h * 3600


def record_submission(state: ScheduleState, job_id: str, now: float, trigger: str, episodes_total: int | None) -> None:
    """Remember a submitted job (its status is polled until it ends) and how many episodes it can see."""
    state.episodes_at_submission = episodes_total
    state.job_id, state.job_status, state.trigger = job_id, "PENDING", trigger
    state.last_submitted_ts, state.finished_ts, state.outcome, state.result = now, None, None, None
    state.jobs_submitted += 1


def record_finish(state: ScheduleState, status: str, now: float, outcome: str,
                  result: dict[str, Any] | None, keep_history: int = 20) -> None:
    """A job ended: a succeeded one consumed the data up to its submission; a failed one counts towards back-off."""
    state.job_status, state.finished_ts, state.outcome, state.result = status, now, outcome, result
    if status == "SUCCEEDED":
        state.consecutive_failures = 0
        state.trained_from_ts = state.last_submitted_ts
        if state.episodes_at_submission is not None:
            state.episodes_at_baseline = state.episodes_at_submission
    else:
        state.consecutive_failures += 1
    state.history = [*state.history, {"job_id": state.job_id, "status": status, "submitted_ts": state.last_submitted_ts,
                                      "finished_ts": now, "trigger": state.trigger, "outcome": outcome}][-keep_history:]
