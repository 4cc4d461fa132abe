"""The state of one feature-store shard: raw series and windowed features.

Plain Python so it can be unit-tested without Ray; actors/feature_shard.py wraps it.
A persistence backend (write-through) is injected; without one the shard is
purely in memory.
"""
from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

import numpy as np

from aiops.errors import NotFoundError
from aiops.features.aggregations import aggregate
from aiops.features.codec import StoredRecordError, decode_batch, decode_meta, decode_target, encode_batch, encode_meta, encode_target
from aiops.features.definitions import FeatureDefinition, order_definitions
from aiops.features.series import SeriesBuffer
from aiops.telemetry.batch import SampleBatch

__all__ = ["MAX_HISTORY_STEPS", "UnknownTarget", "Persistence", "TargetState", "IngestResult", "ShardState"]

MAX_HISTORY_STEPS = 10_000
_RECENT_BATCH_IDS = 100_000
_log = logging.getLogger(__name__)


class UnknownTarget(NotFoundError):
    """The shard holds no data for this target (a KeyError too, through NotFoundError)."""


class Persistence(Protocol):
    """Write-through byte storage for a shard (see aiops.features.persistence); the records are
    encoded and decoded here with aiops.features.codec, so storage never holds pickles."""

    def append_many(self, records: list[bytes]) -> None: ...
    def compact(self, targets: dict[str, bytes], meta: bytes) -> None: ...
    def load(self) -> tuple[dict[str, bytes], bytes | None, list[bytes]]: ...
    def wal_length(self) -> int: ...


@dataclass
class TargetState:
    target_type: str
    series: dict[str, SeriesBuffer] = field(default_factory=dict)
    last_ts: float = float("-inf")
    version: int = 0


@dataclass
class IngestResult:
    accepted: int
    rejected: int = 0
    duplicate: bool = False


class ShardState:
    """Series per (target, metric), feature definitions, dedup of replayed batches."""

    def __init__(
        self,
        shard_id: int,
        definitions: Iterable[FeatureDefinition],
        max_points_per_series: int,
        persistence: Persistence | None = None,
        snapshot_every_batches: int = 200,
    ) -> None:
        self.shard_id = shard_id
        self.limit = max_points_per_series
        self.targets: dict[str, TargetState] = {}
        self.definitions = order_definitions(definitions)
        self._persistence = persistence
        self._snapshot_every = snapshot_every_batches
        self._recent_ids: OrderedDict[str, None] = OrderedDict()
        self._dirty: set[str] = set()
        self._batches_since_compact = 0
        self._feature_cache: dict[tuple[str, float | None, float | None], dict[str, Any]] = {}
        self.points_ingested = 0
        self.restored_points = 0
        self.points_rejected = 0
        self.batches_ingested = 0
        self.duplicates_skipped = 0
        self.restore_skipped = 0
        self.started = time.time()
        if persistence is not None:
            self._restore(persistence)

    # ---- ingestion -------------------------------------------------------
    def ingest(self, batch: SampleBatch) -> IngestResult:
        return self.ingest_many([batch])[0]

    def ingest_many(self, batches: list[SampleBatch]) -> list[IngestResult]:
        """Store batches; persisted before returning so the caller may acknowledge them.

        A batch whose batch_id was already applied (a redelivery) is skipped.
        """
        results: list[IngestResult] = []
        fresh: list[SampleBatch] = []
        seen: set[str] = set()
        for batch in batches:
            bid = batch.batch_id
            if bid is not None and (bid in self._recent_ids or bid in seen):
                self.duplicates_skipped += 1
                results.append(IngestResult(0, duplicate=True))
                continue
            if bid is not None:
                seen.add(bid)
            batch, bad = batch.drop_non_finite()
            self.points_rejected += bad
            fresh.append(batch)
            results.append(IngestResult(len(batch), bad))
        if self._persistence is not None and fresh:
            self._persistence.append_many([encode_batch(b) for b in fresh])
        for batch in fresh:
            self._apply(batch)
        if self._persistence is not None and fresh:
            self._batches_since_compact += len(fresh)
            if self._batches_since_compact >= self._snapshot_every:
                self.compact()
        return results

    def _apply(self, batch: SampleBatch) -> None:
        n = len(batch)
        if batch.batch_id is not None:
            self._recent_ids[batch.batch_id] = None
            if len(self._recent_ids) > _RECENT_BATCH_IDS:
                self._recent_ids.popitem(last=False)
        if n == 0:
            return
        n_metrics = max(1, len(batch.metrics))
        key = batch.target_idx.astype(np.int64) * n_metrics + batch.metric_idx
        if n > 1 and np.any(key[1:] < key[:-1]):
            order = np.argsort(key, kind="stable")
            key, ts, vals = key[order], batch.ts[order], batch.values[order]
        else:
            ts, vals = batch.ts, batch.values
        cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), n]
        keys = key[starts].tolist()
        touched: dict[str, float] = {}
        for k, s, e in zip(keys, starts, ends):
            t_i, m_i = divmod(k, n_metrics)
            tid = batch.targets[t_i]
            tstate = self.targets.get(tid)
            if tstate is None:
                tstate = self.targets[tid] = TargetState(batch.target_types.get(tid) or _guess_type(tid))
            buf = tstate.series.get(batch.metrics[m_i])
            if buf is None:
                buf = tstate.series[batch.metrics[m_i]] = SeriesBuffer(self.limit)
            buf.append(ts[s:e], vals[s:e])
            last = float(ts[e - 1])
            if last > touched.get(tid, float("-inf")):
                touched[tid] = last
        for tid, last in touched.items():
            tstate = self.targets[tid]
            tstate.version += 1
            if last > tstate.last_ts:
                tstate.last_ts = last
            if tid in batch.target_types:
                tstate.target_type = batch.target_types[tid]
        self._dirty.update(touched)
        if len(self._feature_cache) > 50_000:
            self._feature_cache.clear()
        self.points_ingested += n
        self.batches_ingested += 1

    # ---- features --------------------------------------------------------
    def register_definition(self, definition: FeatureDefinition) -> None:
        """Add or replace a definition; validated against the current set first."""
        others = [d for d in self.definitions if d.name != definition.name]
        self.definitions = order_definitions([*others, definition])
        self._feature_cache.clear()

    def _target(self, target_id: str) -> TargetState:
        st = self.targets.get(target_id)
        if st is None:
            raise UnknownTarget(target_id)
        return st

    def _compute(self, st: TargetState, at: float, window_s: float | None) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        for d in self.definitions:
            if st.target_type not in d.target_types:
                continue
            if d.derived:
                a, b = (values.get(x) for x in d.dependencies)
                if a is None or b is None:
                    values[d.name] = None
                elif d.aggregation == "ratio":
                    values[d.name] = a / b if b not in (0, 0.0) else None
                else:
                    values[d.name] = a - b
                continue
            buf = st.series.get(d.source)
            if buf is None:
                if d.source not in _EVENT_METRICS:
                    values[d.name] = None
                    continue
                values[d.name] = 0.0  # no error lines logged: a true zero, not missing
                continue
            w = window_s or d.window_s
            ts, v = buf.window(at - w, at)
            params = dict(d.params)
            params.setdefault("window_s", w)
            val = aggregate(d.aggregation, ts, v, params)
            if math.isnan(val) and d.source in _EVENT_METRICS:
                val = 0.0
            values[d.name] = None if math.isnan(val) else (round(val) if d.type == "int" else val)
        return values

    def get_features(self, target_id: str, window_s: float | None = None, at: float | None = None) -> dict[str, Any]:
        """Features as of `at` (default: the target's latest sample)."""
        st = self._target(target_id)
        as_of = st.last_ts if at is None else at
        key = (target_id, window_s, at)
        cached = self._feature_cache.get(key)
        if cached is not None and cached["_version"] == st.version:
            return cached["result"]
        result = {
            "target_id": target_id,
            "target_type": st.target_type,
            "shard": self.shard_id,
            "as_of": as_of,
            "window_s": window_s,
            "features": self._compute(st, as_of, window_s),
        }
        self._feature_cache[key] = {"_version": st.version, "result": result}
        return result

    def all_features(self, window_s: float | None = None) -> list[dict[str, Any]]:
        """Feature vectors of every target (cached per target until new data arrives)."""
        return [self.get_features(t, window_s) for t in self.targets]

    def get_historical_features(
        self, target_id: str, start: float, end: float, step_s: float, window_s: float | None = None
    ) -> dict[str, Any]:
        """Point-in-time features at start, start+step, ... <= end: no row sees later data."""
        if not (math.isfinite(start) and math.isfinite(end) and end >= start):
            raise ValueError("need finite start <= end")
        if step_s <= 0:
            raise ValueError("step must be positive")
        steps = int((end - start) // step_s) + 1
        if steps > MAX_HISTORY_STEPS:
            raise ValueError(f"{steps} steps requested; at most {MAX_HISTORY_STEPS} (raise step)")
        st = self._target(target_id)
        rows = [{"ts": start + i * step_s, **self._compute(st, start + i * step_s, window_s)} for i in range(steps)]
        return {"target_id": target_id, "target_type": st.target_type, "rows": rows}

    def get_raw(self, target_id: str, metric: str, start: float = -math.inf, end: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        st = self._target(target_id)
        buf = st.series.get(metric)
        if buf is None:
            return np.empty(0), np.empty(0, np.float32)
        return buf.window(start, end) if math.isfinite(start) else buf.arrays()

    # ---- introspection ---------------------------------------------------
    def list_targets(self) -> list[dict[str, Any]]:
        return [
            {"target_id": t, "target_type": s.target_type, "shard": self.shard_id, "last_ts": s.last_ts,
             "first_ts": min((b.first_ts for b in s.series.values()), default=s.last_ts),
             "metrics": sorted(s.series), "points": sum(len(b) for b in s.series.values())}
            for t, s in self.targets.items()
        ]

    def stats(self) -> dict[str, Any]:
        points = sum(len(b) for s in self.targets.values() for b in s.series.values())
        nbytes = sum(b.nbytes for s in self.targets.values() for b in s.series.values())
        return {
            "shard": self.shard_id,
            "targets": len(self.targets),
            "series": sum(len(s.series) for s in self.targets.values()),
            "points_held": points,
            "buffer_bytes": nbytes,
            "bytes_per_point": (nbytes / points) if points else None,
            "points_ingested": self.points_ingested,
            "points_rejected": self.points_rejected,
            "batches_ingested": self.batches_ingested,
            "duplicates_skipped": self.duplicates_skipped,
            "definitions": len(self.definitions),
            "persistent": self._persistence is not None,
            "restored_points": self.restored_points,
            "restore_skipped": self.restore_skipped,
        }

    # ---- persistence -----------------------------------------------------
    def _target_blob(self, tid: str) -> bytes:
        st = self.targets[tid]
        return encode_target(st.target_type, {m: b.arrays() for m, b in st.series.items()})

    def compact(self) -> None:
        """Fold the write-ahead log into per-target snapshots (only targets that changed)."""
        if self._persistence is None:
            return
        blobs = {tid: self._target_blob(tid) for tid in self._dirty if tid in self.targets}
        self._persistence.compact(blobs, encode_meta(list(self._recent_ids)[-10_000:]))
        self._dirty.clear()
        self._batches_since_compact = 0

    def _skip(self, what: str, exc: StoredRecordError) -> None:
        self.restore_skipped += 1
        _log.warning("shard %d: skipped stored %s on restore: %s", self.shard_id, what, exc)

    def _restore(self, persistence: Persistence) -> None:
        """Load snapshots, then replay the WAL; a record that does not decode is skipped and counted."""
        blobs, meta, wal = persistence.load()
        for tid, blob in blobs.items():
            try:
                ttype, series = decode_target(blob)
            except StoredRecordError as exc:
                self._skip(f"snapshot of {tid!r}", exc)
                continue
            st = self.targets[tid] = TargetState(ttype)
            for metric, (ts, vals) in series.items():
                st.series[metric] = buf = SeriesBuffer(self.limit)
                buf.append(ts, vals)
                if ts.size:
                    st.last_ts = max(st.last_ts, float(ts[-1]))
        try:
            for bid in decode_meta(meta) if meta else []:
                self._recent_ids[bid] = None
        except StoredRecordError as exc:
            self._skip("meta", exc)
        for i, record in enumerate(wal):
            try:
                batch = decode_batch(record)
            except StoredRecordError as exc:
                self._skip(f"WAL record {i}", exc)
                continue
            self._apply(batch)
        self.points_ingested = 0
        self.batches_ingested = 0
        self.restored_points = sum(len(b) for s in self.targets.values() for b in s.series.values())


_EVENT_METRICS = frozenset({"disk_read_errors", "ecc_errors", "io_errors", "ssh_auth_failures"})


def _guess_type(target_id: str) -> str:
    return "vm" if target_id.startswith(("vm-", "vm_")) else "host"
