"""Safe automated response: quarantine_vm, block_ip, disable_user, snapshot_vm.

Handlers sit behind a :class:`ControlPlane` interface: :class:`SimulatedControlPlane` is the
embedded default (keeps state in memory, can inject latency and failures), and
:class:`NovaCronControlPlane` calls a NovaCron API over HTTP. The engine adds what makes
automation safe: per-call timeouts, dry-run, approval for destructive actions unless a policy
rule allows them automatically, escalation when something fails, times out or waits too long
for approval, idempotency (a repeated request acts once), and an append-only, hash-chained
audit log in which every request, decision and outcome appears.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiops.errors import InvalidRequestError
from aiops.security.response.audit import AuditLog, AuditStore, JsonlAuditStore, MemoryAuditStore
from aiops.security.response.auth import Principal
from aiops.security.response.config import ACTION_TARGET, SEVERITY_RANK, ResponseConfig
from aiops.security.response.control_plane import ControlPlane, NovaCronControlPlane, SimulatedControlPlane
from aiops.config_io import PROJECT_ROOT


@dataclass
class ResponseRecord:
    response_id: str
    anomaly_id: str
    action: str
    target: str
    parameters: dict[str, Any]
    status: str  # executed | dry_run | pending_approval | failed | timeout | rejected | interrupted (restored)
    requested_by: str
    manual: bool
    comment: str | None
    idempotency_key: str
    created: float
    approved_by: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    duplicate: bool = False
    escalated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ResponseError(InvalidRequestError):
    """Bad request (unknown action, missing target): an invalid request, so HTTP 422."""


class ResponseEngine:
    def __init__(self, config: ResponseConfig | None = None, control_plane: ControlPlane | None = None,
                 audit: AuditLog | None = None) -> None:
        self.cfg = config or ResponseConfig(audit_log=None)
        if control_plane is None:
            if self.cfg.control_plane == "novacron" and self.cfg.novacron_url:
                control_plane = NovaCronControlPlane(self.cfg.novacron_url, os.environ.get(self.cfg.novacron_token_env),
                                                     self.cfg.timeout_s)
            else:
                control_plane = SimulatedControlPlane()
        self.cp = control_plane
        if audit is None:
            store: AuditStore = MemoryAuditStore()
            if self.cfg.audit_log:
                p = Path(self.cfg.audit_log)
                store = JsonlAuditStore(p if p.is_absolute() else PROJECT_ROOT / p)
            audit = AuditLog(store)
        self.audit = audit
        self.records: dict[str, ResponseRecord] = {}
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pool = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="response")
        self.restored = self._restore(self.audit.start_rows)

    def _restore(self, rows: list[dict[str, Any]]) -> int:
        """Rebuild response records and idempotency keys from the audit trail (a restarted engine
        must still act once per request). A request with no outcome in the trail was cut off while
        acting: it is marked ``interrupted``, never re-run, and a repeat of it returns that record."""
        for r in rows:
            ev, rid = r.get("event"), r.get("response_id")
            if ev == "requested" and rid:
                self.records[rid] = ResponseRecord(
                    response_id=rid, anomaly_id=str(r.get("anomaly_id")), action=str(r.get("action")),
                    target=str(r.get("target")), parameters=dict(r.get("parameters") or {}), status="interrupted",
                    requested_by=str(r.get("requested_by")), manual=bool(r.get("manual")), comment=r.get("comment"),
                    idempotency_key=str(r.get("idempotency_key")), created=float(r.get("ts") or 0.0))
                self._by_key[str(r.get("idempotency_key"))] = rid
                continue
            rec = self.records.get(rid) if rid else None
            if rec is None:
                continue
            if ev in ("executed", "failed", "timeout", "dry_run", "pending_approval"):
                rec.status = ev
                rec.result, rec.error = r.get("result", rec.result), r.get("error", rec.error)
                rec.approved_by = r.get("approved_by", rec.approved_by)
            elif ev == "approved":  # acting now: only a later outcome row proves it finished
                rec.approved_by, rec.status = r.get("by"), "interrupted"
            elif ev == "escalated" and r.get("notify") not in rec.escalated:
                rec.escalated.append(r.get("notify"))
        return len(self.records)

    @staticmethod
    def idempotency_key(anomaly_id: str, action: str, target: str, parameters: dict[str, Any]) -> str:
        body = json.dumps([anomaly_id, action, target, parameters], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    def _auto_allowed(self, action: str, anomaly: dict[str, Any]) -> bool:
        sev = SEVERITY_RANK.get(str(anomaly.get("severity", "low")), 0)
        for r in self.cfg.auto_allow:
            if r.action == action and sev >= SEVERITY_RANK[r.min_severity] and float(anomaly.get("score", 0)) >= r.min_score \
                    and (not r.kinds or anomaly.get("kind") in r.kinds):
                return True
        return False

    def request(self, anomaly: dict[str, Any], action: str, parameters: dict[str, Any] | None = None, *,
                manual: bool = True, comment: str | None = None, principal: Principal | None = None,
                idempotency_key: str | None = None, dry_run: bool | None = None) -> ResponseRecord:
        """Decide and (maybe) act on one anomaly. Duplicate requests return the first record, flagged."""
        if action not in ACTION_TARGET:
            raise ResponseError(f"unknown action {action!r}; known: {sorted(ACTION_TARGET)}")
        params = dict(parameters or {})
        tkey = ACTION_TARGET[action]
        target = params.pop(tkey, None) or (anomaly.get("targets") or {}).get(tkey)
        if not target:
            raise ResponseError(f"{action} needs parameters.{tkey} (the anomaly names no {tkey})")
        who = principal.name if principal else "engine"
        roles = principal.roles if principal else frozenset({"engine"})
        key = idempotency_key or self.idempotency_key(str(anomaly["id"]), action, str(target), params)
        with self._lock:
            prev_id = self._by_key.get(key)
            if prev_id is not None:
                prev = self.records[prev_id]
                self.audit.write("duplicate_ignored", response_id=prev.response_id, anomaly_id=prev.anomaly_id,
                                 action=action, target=target, requested_by=who, idempotency_key=key, status=prev.status)
                out = ResponseRecord(**{**prev.to_dict(), "duplicate": True})
                return out
            rec = ResponseRecord(response_id=f"resp-{uuid.uuid4().hex[:12]}", anomaly_id=str(anomaly["id"]), action=action,
                                 target=str(target), parameters=params, status="requested", requested_by=who, manual=manual,
                                 comment=comment, idempotency_key=key, created=time.time())
            self.records[rec.response_id] = rec
            self._by_key[key] = rec.response_id
        self.audit.write("requested", response_id=rec.response_id, anomaly_id=rec.anomaly_id, action=action, target=rec.target,
                         parameters=params, manual=manual, comment=comment, requested_by=who, roles=sorted(roles),
                         idempotency_key=key, anomaly_severity=anomaly.get("severity"), anomaly_score=anomaly.get("score"))
        dry = self.cfg.dry_run if dry_run is None else dry_run
        destructive = action in self.cfg.destructive_actions
        if destructive and not dry:
            if manual and "approver" in roles:
                rec.approved_by = who
            elif not manual and self._auto_allowed(action, anomaly):
                rec.approved_by = "policy:auto_allow"
            else:
                rec.status = "pending_approval"
                self.audit.write("pending_approval", response_id=rec.response_id, action=action, target=rec.target,
                                 reason="destructive action needs an approver or an auto_allow rule")
                self._escalate(rec, "pending_approval", anomaly, age_s=0.0)
                return rec
        self._run(rec, dry, anomaly)
        return rec

    def approve(self, response_id: str, principal: Principal, anomaly: dict[str, Any] | None = None) -> ResponseRecord:
        rec = self.records.get(response_id)
        if rec is None:
            raise KeyError(response_id)
        if rec.status != "pending_approval":
            self.audit.write("approve_ignored", response_id=response_id, by=principal.name, status=rec.status)
            return rec
        rec.approved_by = principal.name
        self.audit.write("approved", response_id=response_id, by=principal.name)
        self._run(rec, False, anomaly or {})
        return rec

    def _run(self, rec: ResponseRecord, dry: bool, anomaly: dict[str, Any]) -> None:
        if dry:
            rec.status = "dry_run"
            rec.result = {"would_execute": rec.action, "target": rec.target, "parameters": rec.parameters}
            self.audit.write("dry_run", response_id=rec.response_id, action=rec.action, target=rec.target)
            return
        fut = self._pool.submit(self.cp.execute, rec.action, rec.target, dict(rec.parameters))
        t0 = time.perf_counter()
        try:
            rec.result = fut.result(timeout=self.cfg.timeout_s)
            rec.status = "executed"
        except cf.TimeoutError:
            fut.cancel()
            rec.status, rec.error = "timeout", f"control plane did not answer within {self.cfg.timeout_s}s"
        except Exception as exc:  # the control plane's failure is an outcome to record, not a crash
            rec.status, rec.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        self.audit.write(rec.status, response_id=rec.response_id, action=rec.action, target=rec.target,
                         approved_by=rec.approved_by, result=rec.result, error=rec.error,
                         seconds=round(time.perf_counter() - t0, 4))
        if rec.status in ("failed", "timeout"):
            self._escalate(rec, rec.status, anomaly, age_s=0.0)

    def _escalate(self, rec: ResponseRecord, on: str, anomaly: dict[str, Any], age_s: float) -> None:
        sev = SEVERITY_RANK.get(str(anomaly.get("severity", "low")), 0)
        for r in self.cfg.escalation:
            if r.when == on and age_s >= r.after_s and sev >= SEVERITY_RANK[r.min_severity] and r.notify not in rec.escalated:
                rec.escalated.append(r.notify)
                self.audit.write("escalated", response_id=rec.response_id, on=on, notify=r.notify, action=rec.action,
                                 target=rec.target, severity=anomaly.get("severity"))

    def check_escalations(self, anomalies: dict[str, dict[str, Any]] | None = None, now: float | None = None) -> int:
        """Timer hook: escalate approvals that have waited too long. Returns how many were escalated."""
        now = time.time() if now is None else now
        n = 0
        for rec in list(self.records.values()):
            if rec.status == "pending_approval":
                before = len(rec.escalated)
                self._escalate(rec, "pending_approval", (anomalies or {}).get(rec.anomaly_id, {}), age_s=now - rec.created)
                n += len(rec.escalated) - before
        return n

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
