"""Columnar telemetry batches and per-record validation.

Samples travel between collectors and shards as dictionary-encoded numpy columns
(unique target and metric names plus small integer indices), so a batch of 100k
samples pickles to ~1.4 MB without per-sample Python objects. Validation keeps the
good records of a batch and returns a reason for every rejected one.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from aiops.telemetry.bounds import TsBounds

__all__ = ["TARGET_RE", "METRIC_RE", "TARGET_TYPES", "RECORD_FIELDS", "MAX_METRICS_PER_RECORD", "Rejection",
           "SampleBatch", "concat", "check_record", "reason_key", "records_to_batch", "count_reasons"]

TARGET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
METRIC_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TARGET_TYPES = ("host", "vm")
RECORD_FIELDS = frozenset({"target_id", "target_type", "ts", "metrics"})
MAX_METRICS_PER_RECORD = 256


@dataclass(frozen=True)
class Rejection:
    """Why one input record was refused; index is its position in the input."""

    index: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


@dataclass
class SampleBatch:
    """Samples as columns: targets[target_idx[i]], metrics[metric_idx[i]] at ts[i] = values[i]."""

    targets: tuple[str, ...]
    metrics: tuple[str, ...]
    target_idx: np.ndarray  # int32
    metric_idx: np.ndarray  # int16
    ts: np.ndarray  # float64 unix seconds
    values: np.ndarray  # float32
    target_types: dict[str, str] = field(default_factory=dict)
    batch_id: str | None = None  # idempotency key (e.g. NATS stream sequence)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> "SampleBatch":
        return cls((), (), np.empty(0, np.int32), np.empty(0, np.int16), np.empty(0, np.float64), np.empty(0, np.float32))

    def select(self, mask: np.ndarray) -> "SampleBatch":
        """Rows where mask is true; name tables are kept (indices stay valid)."""
        return SampleBatch(
            self.targets, self.metrics, self.target_idx[mask], self.metric_idx[mask],
            self.ts[mask], self.values[mask], self.target_types, self.batch_id,
        )

    def drop_non_finite(self) -> tuple["SampleBatch", int]:
        """Vectorised NaN/inf filter for trusted columnar producers."""
        ok = np.isfinite(self.values) & np.isfinite(self.ts)
        bad = int(ok.size - ok.sum())
        return (self if bad == 0 else self.select(ok)), bad

    def within(self, bounds: TsBounds) -> tuple["SampleBatch", list[Rejection]]:
        """Samples inside the timestamp window, and one rejection per sample outside it."""
        ok = bounds.mask(self.ts)
        if ok.all():
            return self, []
        rejected = [Rejection(int(i), bounds.reason(float(self.ts[i])) or "ts out of range") for i in np.flatnonzero(~ok)]
        return self.select(ok), rejected


def concat(batches: Sequence[SampleBatch]) -> SampleBatch:
    """Merge batches, re-encoding names into one table."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return SampleBatch.empty()
    if len(batches) == 1:
        return batches[0]
    t_names: dict[str, int] = {}
    m_names: dict[str, int] = {}
    tis, mis, types = [], [], {}
    for b in batches:
        tmap = np.array([t_names.setdefault(t, len(t_names)) for t in b.targets] or [0], np.int32)
        mmap = np.array([m_names.setdefault(m, len(m_names)) for m in b.metrics] or [0], np.int16)
        tis.append(tmap[b.target_idx])
        mis.append(mmap[b.metric_idx])
        types.update(b.target_types)
    return SampleBatch(
        tuple(t_names), tuple(m_names), np.concatenate(tis), np.concatenate(mis),
        np.concatenate([b.ts for b in batches]), np.concatenate([b.values for b in batches]), types,
    )


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_record(rec: Any, bounds: TsBounds | None = None) -> str | None:
    """Return why a record is invalid, or None when it is good (`bounds`: the accepted ts window)."""
    if not isinstance(rec, Mapping):
        return f"record must be an object, got {type(rec).__name__}"
    unknown = set(rec) - RECORD_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(map(str, unknown)))}"
    for req in ("target_id", "ts", "metrics"):
        if req not in rec:
            return f"missing field: {req}"
    tid = rec["target_id"]
    if not isinstance(tid, str) or not TARGET_RE.match(tid):
        return "target_id must be a string of 1-128 letters, digits, '_', '.', ':' or '-'"
    ttype = rec.get("target_type")
    if ttype is not None and ttype not in TARGET_TYPES:
        return f"target_type must be one of {list(TARGET_TYPES)}"
    if not _finite_number(rec["ts"]):
        return "ts must be a finite number (unix seconds)"
    if not 0 <= rec["ts"] < 4_102_444_800:
        return "ts out of range (unix seconds, 1970..2100)"
    if bounds is not None and (why := bounds.reason(rec["ts"])):
        return why
    metrics = rec["metrics"]
    if not isinstance(metrics, Mapping) or not metrics:
        return "metrics must be a non-empty object of name -> number"
    if len(metrics) > MAX_METRICS_PER_RECORD:
        return f"too many metrics in one record (max {MAX_METRICS_PER_RECORD})"
    for name, value in metrics.items():
        if not isinstance(name, str) or not METRIC_RE.match(name):
            return f"bad metric name {str(name)[:40]!r}: lowercase letters, digits and '_' only"
        if not _finite_number(value):
            return f"metric {name}: value must be a finite number, got {str(value)[:40]}"
        if abs(value) > 3.4e38:
            return f"metric {name}: value out of float32 range"
    return None


def reason_key(reason: str) -> str:
    """Short, low-cardinality label for counting rejections (metrics labels)."""
    if reason.startswith("metric ") and "value" in reason:
        return "bad_value"
    if reason.startswith("bad metric name"):
        return "bad_metric_name"
    for prefix, key in (
        ("unknown field", "unknown_field"), ("missing field", "missing_field"), ("target_id", "bad_target_id"),
        ("target_type", "bad_target_type"), ("ts too far in the future", "ts_in_future"), ("ts too old", "ts_too_old"),
        ("ts ", "bad_timestamp"), ("json nested too deeply", "json_too_deep"), ("metrics must", "bad_metrics"),
        ("too many metrics", "too_many_metrics"), ("record must", "not_an_object"), ("invalid json", "invalid_json"),
        ("payload too large", "payload_too_large"), ("too many records", "too_many_records"),
    ):
        if reason.startswith(prefix):
            return key
    return "other"


def records_to_batch(records: Iterable[Any], offset: int = 0,
                     bounds: TsBounds | None = None) -> tuple[SampleBatch, list[Rejection]]:
    """Validate records one by one; good ones become a batch, bad ones a reason each."""
    t_names: dict[str, int] = {}
    m_names: dict[str, int] = {}
    types: dict[str, str] = {}
    ti: list[int] = []
    mi: list[int] = []
    ts: list[float] = []
    vals: list[float] = []
    rejected: list[Rejection] = []
    for i, rec in enumerate(records):
        why = check_record(rec, bounds)
        if why:
            rejected.append(Rejection(offset + i, why))
            continue
        t = t_names.setdefault(rec["target_id"], len(t_names))
        if rec.get("target_type"):
            types[rec["target_id"]] = rec["target_type"]
        for name, value in rec["metrics"].items():
            ti.append(t)
            mi.append(m_names.setdefault(name, len(m_names)))
            ts.append(float(rec["ts"]))
            vals.append(float(value))
    batch = SampleBatch(
        tuple(t_names), tuple(m_names), np.asarray(ti, np.int32), np.asarray(mi, np.int16),
        np.asarray(ts, np.float64), np.asarray(vals, np.float32), types,
    )
    return batch, rejected


def count_reasons(rejections: Iterable[Rejection]) -> Counter[str]:
    return Counter(reason_key(r.reason) for r in rejections)
