"""Read back what the engine stored durably, to check it against what was acknowledged.

Samples: each shard's Redis snapshots (per target) plus its write-ahead log (batches not yet folded
in), the same bytes a restarted shard restores from; a batch is in one or the other, never both, so
counting over their union counts what the shard holds. Security deliveries: the correlator's ledger.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from aiops.features.codec import StoredRecordError, decode_batch, decode_target
from aiops.features.persistence import RedisShardStore
from aiops.security.delivery_ledger import RedisDeliveryLedger

__all__ = ["stored_sample_counts", "stored_delivery_counts"]


def stored_sample_counts(client: Any, num_shards: int, prefix: str, metric: str,
                         target_prefix: str) -> tuple[Counter, int]:
    """(target, ts) -> times stored, for ``metric`` of targets starting with ``target_prefix``; and how many
    stored records did not decode (they would be skipped on restore too)."""
    counts: Counter = Counter()
    bad = 0
    for shard in range(num_shards):
        snaps, _, wal = RedisShardStore(client, shard, prefix).load()
        for tid, blob in snaps.items():
            if not tid.startswith(target_prefix):
                continue
            try:
                _, series = decode_target(blob)
            except StoredRecordError:
                bad += 1
                continue
            ts, _ = series.get(metric, ((), ()))
            counts.update((tid, float(t)) for t in ts)
        for record in wal:
            try:
                b = decode_batch(record)
            except StoredRecordError:
                bad += 1
                continue
            for ti, mi, t in zip(b.target_idx.tolist(), b.metric_idx.tolist(), b.ts.tolist()):
                if b.metrics[mi] == metric and b.targets[ti].startswith(target_prefix):
                    counts[(b.targets[ti], float(t))] += 1
    return counts, bad


def stored_delivery_counts(client: Any, prefix: str) -> dict[str, int]:
    """Delivery key (``nats:<stream>:<seq>``) -> times the correlator took it."""
    return RedisDeliveryLedger(client, prefix).counts()
