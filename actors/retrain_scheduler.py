"""Actor `retrain-scheduler`: submits `python -m jobs.train_failure` as a Ray job when the schedule
(`aiops.failure.training.schedule`) says so, polls it, and records its outcome.

The job goes through Ray's Jobs API (`JobSubmissionClient`), so it shows in the dashboard's Jobs tab like
one submitted with `ray job submit`. Where the cluster has no dashboard (the test cluster, a head started
with `--include-dashboard=false`) the scheduler says "jobs API unavailable" and submits nothing.
"""
from __future__ import annotations

import logging
import asyncio
import os
import shlex
import sys
import time
from typing import Any, Callable

import ray

from actors.names import RETRAIN_NAME
from aiops.config_io import PROJECT_ROOT
from aiops.failure.registry import ModelRegistry
from aiops.failure.training import schedule as policy
from aiops.failure.training.schedule_store import ScheduleStore, count_stored_episodes
from aiops.failure.training.verdict import parse_result_line
from aiops.settings import Settings

__all__ = ["RetrainScheduler", "start_retrain_scheduler", "train_entrypoint"]

log = logging.getLogger(__name__)


def train_entrypoint(settings: Settings, python: str = sys.executable) -> str:
    """The job's shell command: the engine's own checkout and interpreter, its registry, the configured args."""
    cfg = settings.failure.retrain
    args = [*cfg.entrypoint_args, "--registry", settings.failure.registry_uri]
    return f"cd {shlex.quote(str(PROJECT_ROOT))} && {shlex.quote(python)} -m jobs.train_failure {shlex.join(args)}"


def _job_client(address: str, headers: dict[str, str] | None) -> Any:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address, headers=headers)


class RetrainScheduler:
    """The retraining schedule on a timer; state in Redis when configured, so a restart resumes the job it polls."""

    def __init__(self, settings: Settings, jobs_address: str | None = None, headers: dict[str, str] | None = None,
                 client_factory: Callable[[str, dict[str, str] | None], Any] = _job_client,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings, self.cfg, self.clock = settings, settings.failure.retrain, clock
        address = self.cfg.jobs_address or jobs_address
        self.address = (address if "://" in address else f"http://{address}") if address else None
        self._headers, self._factory, self._client = headers, client_factory, None
        self.store = ScheduleStore.from_url(settings.redis.url, settings.redis.key_prefix)
        self.registry = ModelRegistry(settings.failure.registry_uri)
        self.state = self.store.load() or policy.ScheduleState(created_ts=clock())
        self.jobs_error: str | None = None if self.address else "no Ray dashboard address"
        self.decision: policy.Decision | None = None
        self.episodes_total: int | None = None
        self.errors, self.last_error = 0, ""
        self._stop = asyncio.Event()

    # ---- the Jobs API ----------------------------------------------------------------------------------------------
    def client(self) -> Any | None:
        """A Jobs API client, or None (and `jobs_error` says why): retried on every tick."""
        if self._client is None and self.address:
            try:
                self._client = self._factory(self.address, self._headers)
                self.jobs_error = None
            except Exception as exc:  # noqa: BLE001 - unreachable dashboard, auth: report, retry later
                self.jobs_error = f"{type(exc).__name__}: {exc}"[:300]
        return self._client

    def _registry_ts(self) -> float | None:
        try:
            versions = self.registry.versions(self.settings.failure.model_name)
            return float(self.registry.get(self.settings.failure.model_name, versions[-1]).meta["created_at"]) if versions else None
        except Exception:  # noqa: BLE001 - an unreadable registry only loses this baseline
            return None

    # ---- one round -------------------------------------------------------------------------------------------------
    def tick(self) -> dict[str, Any]:
        """Poll the running job, then submit one if the policy says so; returns the status."""
        now, client = self.clock(), self.client()
        self.episodes_total = count_stored_episodes(self.store.client, self.cfg, self.settings.redis.key_prefix)
        registry_ts = self._registry_ts()
        if self.state.episodes_at_baseline is None and self.episodes_total is not None:
            # first start: episodes stored before a model existed are all new; with a model, they were seen
            self.state.episodes_at_baseline = self.episodes_total if registry_ts else 0
        if client is not None and self.state.running:
            self._poll(client, now)
        new = policy.new_episodes(self.state, self.episodes_total)
        self.decision = policy.decide(self.cfg, self.state, now, new, policy.baseline_ts(self.state, registry_ts),
                                      client is not None)
        if self.decision.submit and client is not None:
            self._submit(client, now, self.decision.reason)
        self.store.save(self.state)
        return self.status()

    def _submit(self, client: Any, now: float, trigger: str) -> None:
        env = {"AIOPS_REDIS_URL": self.settings.redis.url} if self.settings.redis.url else {}
        job_id = client.submit_job(entrypoint=train_entrypoint(self.settings),
                                   submission_id=f"retrain-failure-{int(now)}-{os.urandom(2).hex()}",
                                   runtime_env={"env_vars": env} if env else None,
                                   metadata={"aiops": "retrain-scheduler", "trigger": trigger[:200]})
        policy.record_submission(self.state, job_id, now, trigger, self.episodes_total)

    def _poll(self, client: Any, now: float) -> None:
        job_id = self.state.job_id
        if policy.overdue(self.cfg, self.state, now):
            client.stop_job(job_id)
            policy.record_finish(self.state, "FAILED", now, f"stopped after {self.cfg.job_timeout_h:g} h", None)
            return
        info = client.get_job_info(job_id)
        status = str(getattr(info.status, "value", info.status))
        if status not in policy.TERMINAL:
            self.state.job_status = status
            return
        result = parse_result_line(client.get_job_logs(job_id))
        policy.record_finish(self.state, status, now, _outcome(status, info, result), result)

    # ---- the actor's surface ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception as exc:  # noqa: BLE001 - keep scheduling; status shows the error
                self.errors, self.last_error = self.errors + 1, f"{type(exc).__name__}: {exc}"[:300]
                log.warning("retrain schedule tick failed: %s", self.last_error, exc_info=True)
            try:
                await asyncio.wait_for(self._stop.wait(), self.cfg.check_every_s)
            except asyncio.TimeoutError:
                pass

    def status(self) -> dict[str, Any]:
        """What `aiops status` shows: next due, new episodes, the last job and its outcome."""
        st, d = self.state, self.decision
        return {"name": RETRAIN_NAME, "jobs_api": self.address if self._client is not None else None,
                "jobs_error": self.jobs_error, "decision": d.reason if d else None,
                "next_due_ts": d.next_due_ts if d else None,
                "new_episodes": policy.new_episodes(st, self.episodes_total), "min_new_episodes": self.cfg.min_new_episodes,
                "last_job_id": st.job_id, "last_job_status": st.job_status, "last_trigger": st.trigger,
                "last_submitted_ts": st.last_submitted_ts, "last_outcome": st.outcome, "last_result": st.result,
                "consecutive_failures": st.consecutive_failures, "jobs_submitted": st.jobs_submitted,
                "errors": self.errors, "last_error": self.last_error}

    async def stats(self) -> dict[str, Any]:
        return self.status()

    async def stop(self) -> None:
        self._stop.set()


def _outcome(status: str, info: Any, result: dict[str, Any] | None) -> str:
    """One line for the job's end: the verdict (and what to change) or why it failed."""
    if status == "SUCCEEDED" and result:
        if result.get("dry_run"):
            return "dry run: " + ("checks passed" if result.get("ok") else "checks failed")
        change = "; ".join(result.get("what_to_change") or [])
        return str(result.get("summary", "succeeded")) + (f" -> {change}" if change else "")
    if status == "SUCCEEDED":
        return "succeeded (the job printed no result line)"
    return f"{status.lower()}: {getattr(info, 'message', '') or ''}"[:500]


def start_retrain_scheduler(settings: Settings, jobs_address: str | None) -> Any:
    """Create (or attach to) the named, restartable scheduler actor."""
    return ray.remote(RetrainScheduler).options(
        name=RETRAIN_NAME, namespace=settings.ray.namespace, num_cpus=settings.failure.retrain.num_cpus,
        max_restarts=-1, max_concurrency=4, get_if_exists=True,
    ).remote(settings, jobs_address)
