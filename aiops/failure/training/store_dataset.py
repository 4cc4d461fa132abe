"""Training rows from a running engine's stores: the feature shards' history and the stored failure events.

Each shard's Redis snapshot and write-ahead log are restored into a ``ShardState`` (the code the shard
actors run, read-only here), and every target's point-in-time features are read with the shards'
history query (``get_historical_features``: windows end at each step, no row sees later samples).
Rows are kept where the target was reporting (samples in the last 5 minutes). Labels come from the
health events the collectors stored (``aiops.telemetry.event_store``) -- the same labelling as the
simulator replay. History reaches back as far as the shards hold it (ring size, Redis TTL).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aiops.failure.training.fleet_dataset import FleetDataset, FleetDatasetConfig, label_from_events
from aiops.features.definitions import FeatureDefinition
from aiops.features.shard import ShardState
from aiops.telemetry.event_store import EventStore

__all__ = ["history_rows", "dataset_from_shards", "dataset_from_store"]

REPORTING = "samples_count_5m"  # > 0: the target sent something in the last 5 minutes


def history_rows(shard: ShardState, names: Sequence[str], start: float, end: float, step_s: float) -> pd.DataFrame:
    """Point-in-time rows of every target of ``shard`` at start, start+step, ... <= end (reporting only)."""
    from aiops.features.shard import MAX_HISTORY_STEPS

    frames = []
    for t in shard.list_targets():
        tid, rows, lo = t["target_id"], [], start
        while lo <= end:  # the history query caps its steps: walk it in chunks
            hi = min(end, lo + (MAX_HISTORY_STEPS - 1) * step_s)
            rows += shard.get_historical_features(tid, lo, hi, step_s)["rows"]
            lo = hi + step_s
        f = pd.DataFrame(rows).reindex(columns=["ts", *names])
        f.insert(1, "target_id", tid)
        f.insert(2, "target_type", t["target_type"])
        frames.append(f)
    if not frames:
        return pd.DataFrame(columns=["ts", "target_id", "target_type", *names])
    out = pd.concat(frames, ignore_index=True)
    out = out[out[REPORTING].fillna(0).to_numpy(np.float64) > 0] if REPORTING in out else out
    for n in names:
        out[n] = out[n].astype(np.float32)
    return out.sort_values(["ts", "target_id"], kind="stable").reset_index(drop=True)


def dataset_from_shards(shards: Sequence[ShardState], events: EventStore, cfg: FleetDatasetConfig,
                        start: float, end: float) -> FleetDataset:
    """Rows from the shards' history between ``start`` and ``end``, labelled from the stored events.

    A VM's host is taken from the events that name both (a VM never seen in one is its own group)."""
    names = list(cfg.features)
    raw = pd.concat([history_rows(s, names, start, end, cfg.step_s) for s in shards], ignore_index=True)
    stored = events.query(start - cfg.horizon_s, end)
    vm_host = {str(e["vm_id"]): str(e["host"]) for e in stored if e.get("vm_id")}
    raw.insert(3, "host_id", [vm_host.get(t, t) if tt == "vm" else t
                              for t, tt in zip(raw["target_id"], raw["target_type"])])
    frame, failures, dropped = label_from_events(raw, stored, cfg.horizon_s, end, dict(cfg.label_horizons))
    stats = {"rows": int(len(frame)), "rows_dropped": dropped, "positive_rows": int(frame["label"].sum()),
             "failures_from_events": int(len(failures)), "events": len(stored), "source": "store"}
    return FleetDataset(frame, failures, cfg, names, float(start), float(end), stats, raw, stored)


def dataset_from_store(settings: Any, cfg: FleetDatasetConfig, days: float | None = None,
                       definitions: Sequence[FeatureDefinition] | None = None) -> FleetDataset:
    """Restore every shard of a running engine from Redis and build the dataset over its last ``days``."""
    from aiops.failure.training.fleet_dataset import select_definitions
    from aiops.features.persistence import RedisShardStore
    from aiops.telemetry.event_store import RedisEventStore

    url, prefix = settings.redis.url, settings.redis.key_prefix
    if not url:
        raise ValueError("--source store needs settings.redis.url (the running engine's Redis)")
    defs = list(definitions) if definitions is not None else select_definitions(cfg.features, settings.store.features_file)
    shards = [ShardState(i, defs, settings.store.max_points_per_series, RedisShardStore.from_url(url, i, prefix))
              for i in range(settings.store.num_shards)]
    last = max((t["last_ts"] for s in shards for t in s.list_targets()), default=math.nan)
    if not math.isfinite(last):
        raise ValueError("the engine's shards hold no telemetry yet")
    first = min(float(b.arrays()[0][0]) for s in shards for st in s.targets.values() for b in st.series.values()
                if len(b))
    start = max(first, last - days * 86_400) if days else first
    return dataset_from_shards(shards, RedisEventStore.from_url(url, prefix), cfg, start + cfg.warmup_s, last)
