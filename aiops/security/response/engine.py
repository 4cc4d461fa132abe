"""Safe automated response: quarantine_vm, block_ip, disable_user, snapshot_vm.

Handlers sit behind a :class:`ControlPlane` interface: :class:`SimulatedControlPlane` is the
embedded default (keeps state in memory, can inject latency and failures), and
:class:`NovaCronControlPlane` calls a NovaCron API over HTTP. The engine adds what makes
automation safe and unsteerable:

* parameters validated per action (``aiops.security.response.actions``) before anything happens;
* destructive actions need an approver, or an ``auto_allow`` rule, which covers only what the
  engine itself proposes (no principal) on the anomaly's own entities; a client's ``manual``
  claim plays no part;
* idempotency keys scoped to (anomaly, action); state changes under one lock;
* the audit row is written before the action and the outcome after it; if the first write fails
  nothing is kept (the key is free again) and the caller gets :class:`AuditUnavailableError`;
* a call that times out and answers later is recorded as a late outcome (``executed_late``);
* escalation when something fails, times out or waits too long for approval.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Callable

from aiops.security.response.actions import ResponseError, validate_action
from aiops.security.response.audit import AuditLog, AuditStore, JsonlAuditStore, MemoryAuditStore
from aiops.security.response.auth import Principal
from aiops.security.response.config import ACTION_TARGET, SEVERITY_RANK, ResponseConfig
from aiops.security.response.control_plane import ControlPlane, NovaCronControlPlane, SimulatedControlPlane
from aiops.config_io import PROJECT_ROOT
from aiops.security.response.records import (ApprovalDeniedError, AuditUnavailableError, IdempotencyConflictError,
                                             ResponseRecord, restore_records)

log = logging.getLogger(__name__)

__all__ = ["ResponseEngine", "ResponseRecord", "ResponseError", "AuditUnavailableError", "IdempotencyConflictError",
           "ApprovalDeniedError"]

ENTITY_KIND = {"vm_id": "vm", "ip": "ip", "user": "user"}


def _default_audit(cfg: ResponseConfig) -> AuditLog:
    store: AuditStore = MemoryAuditStore()
    if cfg.audit_log:
        p = Path(cfg.audit_log)
        store = JsonlAuditStore(p if p.is_absolute() else PROJECT_ROOT / p)
    return AuditLog(store)


def own_entity(action: str, target: str, anomaly: dict[str, Any]) -> bool:
    """Whether ``target`` is one of the anomaly's own entities (auto-allow never reaches further)."""
    tkey = ACTION_TARGET[action]
    if (anomaly.get("targets") or {}).get(tkey) == target:
        return True
    for e in anomaly.get("entities") or ():
        kind, _, val = str(e).partition(":")
        if kind == ENTITY_KIND[tkey] and (val == target or val.split("@", 1)[0] == target):
            return True
    return False


class ResponseEngine:
    def __init__(self, config: ResponseConfig | None = None, control_plane: ControlPlane | None = None,
                 audit: AuditLog | None = None, vm_known: Callable[[str], bool] | None = None) -> None:
        """``vm_known``: the inventory's membership test for VM ids (None: no inventory, format check only)."""
        self.cfg = config or ResponseConfig(audit_log=None)
        if control_plane is None:
            if self.cfg.control_plane == "novacron" and self.cfg.novacron_url:
                control_plane = NovaCronControlPlane(self.cfg.novacron_url, os.environ.get(self.cfg.novacron_token_env),
                                                     self.cfg.timeout_s)
            else:
                control_plane = SimulatedControlPlane()
        self.cp = control_plane
        self.audit = audit or _default_audit(self.cfg)
        self.vm_known = vm_known
        self._lock = threading.RLock()
        self._pool = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="response")
        self.records, self._by_key = restore_records(self.audit.start_rows)
        self._pending = {rid for rid, r in self.records.items() if r.status == "pending_approval"}
        self._late: deque[str] = deque(maxlen=10_000)  # response ids whose outcome arrived after the timeout
        self.audit_failures = 0  # audit writes that failed (requests refused, or outcomes not recorded)
        self.restored = len(self.records)

    @staticmethod
    def idempotency_key(anomaly_id: str, action: str, target: str, parameters: dict[str, Any]) -> str:
        body = json.dumps([anomaly_id, action, target, parameters], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    @staticmethod
    def scoped_key(anomaly_id: str, action: str, client_key: str) -> str:
        """A client's key counts within one (anomaly, action): reusing it elsewhere acts anew."""
        body = json.dumps(["client", anomaly_id, action, client_key])
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    def _auto_allowed(self, action: str, anomaly: dict[str, Any]) -> bool:
        sev = SEVERITY_RANK.get(str(anomaly.get("severity", "low")), 0)
        for r in self.cfg.auto_allow:
            if r.action == action and sev >= SEVERITY_RANK[r.min_severity] and float(anomaly.get("score", 0)) >= r.min_score \
                    and (not r.kinds or anomaly.get("kind") in r.kinds):
                return True
        return False

    def _decide(self, action: str, target: str, anomaly: dict[str, Any], dry: bool,
                principal: Principal | None) -> tuple[str, str | None]:
        """(decision, approved_by): dry_run, execute or pending_approval."""
        if dry:
            return "dry_run", None
        if action not in self.cfg.destructive_actions:
            return "execute", None
        if principal is not None and "approver" in principal.roles:
            return "execute", principal.name
        if principal is None and own_entity(action, target, anomaly) and self._auto_allowed(action, anomaly):
            return "execute", "policy:auto_allow"
        return "pending_approval", None

    def request(self, anomaly: dict[str, Any], action: str, parameters: dict[str, Any] | None = None, *,
                comment: str | None = None, principal: Principal | None = None,
                idempotency_key: str | None = None, dry_run: bool | None = None) -> ResponseRecord:
        """Decide and (maybe) act on one anomaly; ``principal`` None means the engine proposes it.
        Duplicate requests return the first record, flagged."""
        target, params = validate_action(action, dict(parameters or {}), anomaly.get("targets") or {}, self.vm_known)
        aid = str(anomaly["id"])
        key = self.scoped_key(aid, action, idempotency_key) if idempotency_key else \
            self.idempotency_key(aid, action, target, params)
        dry = self.cfg.dry_run if dry_run is None else dry_run
        decision, approved_by = self._decide(action, target, anomaly, dry, principal)
        who = principal.name if principal else "engine"
        with self._lock:
            if key in self._by_key:
                return self._duplicate(self.records[self._by_key[key]], target, params, who, key)
            rec = ResponseRecord(response_id=f"resp-{uuid.uuid4().hex[:12]}", anomaly_id=aid, action=action, target=target,
                                 parameters=params, status="pending_approval" if decision == "pending_approval" else "running",
                                 requested_by=who, manual=principal is not None, comment=comment, idempotency_key=key,
                                 created=time.time(), approved_by=approved_by,
                                 anomaly_severity=str(anomaly.get("severity")) if anomaly.get("severity") else None)
            try:  # before anything is kept or done: a failed write leaves no trace and frees the key
                self.audit.write("requested", response_id=rec.response_id, anomaly_id=aid, action=action, target=target,
                                 parameters=params, manual=rec.manual, comment=comment, requested_by=who,
                                 roles=sorted(principal.roles) if principal else ["engine"], idempotency_key=key,
                                 anomaly_severity=anomaly.get("severity"), anomaly_score=anomaly.get("score"),
                                 decision=decision, approved_by=approved_by)
            except Exception as exc:  # noqa: BLE001 - any store failure refuses the request
                self._audit_failed("requested", exc)
                raise AuditUnavailableError(f"audit trail unavailable, nothing was done; retry later "
                                            f"({type(exc).__name__})") from None
            self.records[rec.response_id] = rec
            self._by_key[key] = rec.response_id
            if decision == "pending_approval":
                self._pending.add(rec.response_id)
        if decision == "pending_approval":  # the requested row already says so; this one is for readers
            self._audit_best_effort("pending_approval", response_id=rec.response_id, action=action, target=target,
                                    reason="destructive action needs an approver or an auto_allow rule")
            self._escalate(rec, "pending_approval", anomaly, age_s=0.0)
            return rec
        self._run(rec, dry, anomaly)
        if dry and rec.result is not None:  # the preview says what the policy would do with the real request
            would = self._decide(action, target, anomaly, False, principal)[0]
            rec.result["policy"] = "auto" if would == "execute" else "needs_approval"
        return rec

    def _duplicate(self, prev: ResponseRecord, target: str, params: dict[str, Any], who: str, key: str) -> ResponseRecord:
        if (prev.target, prev.parameters) != (target, params):
            raise IdempotencyConflictError(f"idempotency key already used for {prev.action} on {prev.target!r} "
                                           f"with other parameters (response {prev.response_id})")
        self._audit_best_effort("duplicate_ignored", response_id=prev.response_id, anomaly_id=prev.anomaly_id,
                                action=prev.action, target=target, requested_by=who, idempotency_key=key, status=prev.status)
        return ResponseRecord(**{**prev.to_dict(), "duplicate": True})

    def approve(self, response_id: str, principal: Principal, anomaly: dict[str, Any] | None = None) -> ResponseRecord:
        """Run a pending request (approver role only; each pending request runs at most once)."""
        if "approver" not in principal.roles:
            raise ApprovalDeniedError(f"{principal.name!r} lacks the approver role")
        with self._lock:
            rec = self.records.get(response_id)
            if rec is None:
                raise KeyError(response_id)
            if rec.status != "pending_approval":
                self._audit_best_effort("approve_ignored", response_id=response_id, by=principal.name, status=rec.status)
                return rec
            try:
                self.audit.write("approved", response_id=response_id, by=principal.name)
            except Exception as exc:  # noqa: BLE001 - stays pending: the approver can retry
                self._audit_failed("approved", exc)
                raise AuditUnavailableError(f"audit trail unavailable, still pending; retry later ({type(exc).__name__})") from None
            rec.approved_by, rec.status = principal.name, "running"
            self._pending.discard(response_id)
        self._run(rec, False, anomaly or {"severity": rec.anomaly_severity})
        return rec

    def _run(self, rec: ResponseRecord, dry: bool, anomaly: dict[str, Any]) -> None:
        if dry:
            with self._lock:
                rec.status = "dry_run"
                rec.result = {"would_execute": rec.action, "target": rec.target, "parameters": rec.parameters}
            self._audit_best_effort("dry_run", response_id=rec.response_id, action=rec.action, target=rec.target)
            return
        fut = self._pool.submit(self.cp.execute, rec.action, rec.target, dict(rec.parameters), rec.response_id)
        t0 = time.perf_counter()
        late = False
        try:
            result = fut.result(timeout=self.cfg.timeout_s)
            with self._lock:
                rec.result, rec.status = result, "executed"
        except cf.TimeoutError:
            sent = not fut.cancel()  # a call still queued never reached the control plane
            late = sent
            with self._lock:
                rec.status = "timeout"
                rec.error = f"control plane did not answer within {self.cfg.timeout_s}s" + ("" if sent else " (not sent)")
        except Exception as exc:  # the control plane's failure is an outcome to record, not a crash
            with self._lock:
                rec.status, rec.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        self._audit_best_effort(rec.status, response_id=rec.response_id, action=rec.action, target=rec.target,
                                approved_by=rec.approved_by, result=rec.result, error=rec.error,
                                seconds=round(time.perf_counter() - t0, 4))
        if late:  # it may still run: its answer, when it comes, is recorded as what happened
            fut.add_done_callback(lambda f, r=rec: self._late_outcome(r, f))
        if rec.status in ("failed", "timeout"):
            self._escalate(rec, rec.status, anomaly, age_s=0.0)

    def _late_outcome(self, rec: ResponseRecord, fut: cf.Future[Any]) -> None:
        """A timed-out call answered after all: record what it did (``executed_late`` / ``failed_late``)."""
        if fut.cancelled():
            return
        exc = fut.exception()
        with self._lock:
            if rec.status != "timeout":
                return
            if exc is None:
                rec.status, rec.result = "executed", fut.result()
                rec.error = f"answered after the {self.cfg.timeout_s}s timeout"
            else:
                rec.status, rec.error = "failed", f"after the timeout: {type(exc).__name__}: {exc}"[:300]
            self._late.append(rec.response_id)
        self._audit_best_effort(f"{rec.status}_late", response_id=rec.response_id, action=rec.action, target=rec.target,
                                result=rec.result, error=rec.error)

    def drain_late(self) -> list[ResponseRecord]:
        """Records whose outcome came in after their timeout since the last call (for the anomaly view)."""
        with self._lock:
            out = [self.records[rid] for rid in self._late if rid in self.records]
            self._late.clear()
        return out

    def _audit_failed(self, event: str, exc: BaseException) -> None:
        self.audit_failures += 1
        log.warning("audit write %r failed: %s: %s", event, type(exc).__name__, str(exc)[:200])

    def _audit_best_effort(self, event: str, **data: Any) -> bool:
        """Rows after the action (outcome, duplicate, escalation): the action cannot be undone, so a
        failure is counted and logged; a restarted engine shows such a request as interrupted."""
        try:
            self.audit.write(event, **data)
            return True
        except Exception as exc:  # noqa: BLE001
            self._audit_failed(event, exc)
            return False

    def _escalate(self, rec: ResponseRecord, on: str, anomaly: dict[str, Any], age_s: float) -> None:
        sev = SEVERITY_RANK.get(str(anomaly.get("severity") or rec.anomaly_severity or "low"), 0)
        for r in self.cfg.escalation:
            if r.when == on and age_s >= r.after_s and sev >= SEVERITY_RANK[r.min_severity] and r.notify not in rec.escalated:
                if self._audit_best_effort("escalated", response_id=rec.response_id, on=on, notify=r.notify,
                                           action=rec.action, target=rec.target,
                                           severity=anomaly.get("severity") or rec.anomaly_severity):
                    rec.escalated.append(r.notify)  # unrecorded: tried again on the next tick

    def check_escalations(self, anomalies: dict[str, dict[str, Any]] | None = None, now: float | None = None) -> int:
        """Timer hook: escalate approvals that have waited too long, judged on their anomaly (or the
        severity it had when the request was made). Returns how many were escalated."""
        now = time.time() if now is None else now
        n = 0
        with self._lock:
            pending = [self.records[rid] for rid in self._pending if self.records[rid].status == "pending_approval"]
        for rec in pending:
            before = len(rec.escalated)
            anomaly = (anomalies or {}).get(rec.anomaly_id) or {"severity": rec.anomaly_severity}
            self._escalate(rec, "pending_approval", anomaly, age_s=now - rec.created)
            n += len(rec.escalated) - before
        return n

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
