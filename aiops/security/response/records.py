"""Response records and their rebuild from the audit trail (a restarted engine acts once per request)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aiops.errors import ConflictError, PermissionDeniedError, UnavailableError

OUTCOMES = ("executed", "failed", "timeout", "dry_run")
LATE_OUTCOMES = {"executed_late": "executed", "failed_late": "failed"}


@dataclass
class ResponseRecord:
    response_id: str
    anomaly_id: str
    action: str
    target: str
    parameters: dict[str, Any]
    # running | executed | dry_run | pending_approval | failed | timeout | interrupted (restored, outcome unknown)
    status: str
    requested_by: str
    manual: bool  # True when a person asked (whatever the client claimed); False for the engine's own proposals
    comment: str | None
    idempotency_key: str
    created: float
    approved_by: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    duplicate: bool = False
    escalated: list[str] = field(default_factory=list)
    anomaly_severity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditUnavailableError(UnavailableError):
    """The audit trail could not be written, so nothing was done: retry later (HTTP 503)."""


class IdempotencyConflictError(ConflictError):
    """An idempotency key reused for a different target or parameters (HTTP 409)."""


class ApprovalDeniedError(PermissionDeniedError):
    """Approving needs the approver role (HTTP 403)."""


def _from_requested(r: dict[str, Any]) -> ResponseRecord:
    pending = r.get("decision") == "pending_approval"
    return ResponseRecord(
        response_id=str(r["response_id"]), anomaly_id=str(r.get("anomaly_id")), action=str(r.get("action")),
        target=str(r.get("target")), parameters=dict(r.get("parameters") or {}),
        status="pending_approval" if pending else "interrupted", requested_by=str(r.get("requested_by")),
        manual=bool(r.get("manual")), comment=r.get("comment"), idempotency_key=str(r.get("idempotency_key")),
        created=float(r.get("ts") or 0.0), approved_by=r.get("approved_by"), anomaly_severity=r.get("anomaly_severity"))


def restore_records(rows: list[dict[str, Any]]) -> tuple[dict[str, ResponseRecord], dict[str, str]]:
    """Records and idempotency keys from the trail. A request with no outcome was cut off while
    acting: it is ``interrupted``, never re-run, and a repeat of it returns that record."""
    records: dict[str, ResponseRecord] = {}
    by_key: dict[str, str] = {}
    for r in rows:
        ev, rid = r.get("event"), r.get("response_id")
        if ev == "requested" and rid:
            rec = records[str(rid)] = _from_requested(r)
            by_key[rec.idempotency_key] = rec.response_id
            continue
        rec = records.get(str(rid)) if rid else None
        if rec is None:
            continue
        if ev in OUTCOMES or ev in LATE_OUTCOMES or ev == "pending_approval":
            rec.status = LATE_OUTCOMES.get(str(ev), str(ev))
            rec.result, rec.error = r.get("result", rec.result), r.get("error", rec.error)
            rec.approved_by = r.get("approved_by", rec.approved_by)
        elif ev == "approved":  # acting now: only a later outcome row proves it finished
            rec.approved_by, rec.status = r.get("by"), "interrupted"
        elif ev == "escalated" and r.get("notify") not in rec.escalated:
            rec.escalated.append(r.get("notify"))
    return records, by_key
