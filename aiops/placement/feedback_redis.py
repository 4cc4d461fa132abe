"""``FeedbackStore`` on Redis, so learned weights and outcomes survive restarts and are
shared by every API replica.

Keys under ``<prefix>:placement:`` (all values JSON):

* ``outcomes``        list, newest last, capped with LTRIM at ``max_outcomes``
* ``outcomes:total``  counter of every outcome ever stored (the learner's update cadence)
* ``weights``         hash version -> {"version", "weights", "meta"}; ``weights:latest`` holds
                      the newest version number (versions are never overwritten)
* ``placement:<id>``  one recommendation's factor vectors, expiring after ``placement_ttl_s``
* ``retrain``         list of retraining requests, capped
"""
from __future__ import annotations

import json
from typing import Any

MAX_OUTCOMES = 100_000
MAX_RETRAIN = 1_000


class RedisFeedbackStore:
    """FeedbackStore protocol (``aiops.placement.feedback``) backed by Redis."""

    def __init__(self, url: str, prefix: str = "aiops", max_outcomes: int = MAX_OUTCOMES,
                 placement_ttl_s: int = 7 * 86_400, client: Any | None = None):
        import redis

        self.r = client or redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.k = f"{prefix}:placement"
        self.max_outcomes = max_outcomes
        self.placement_ttl_s = placement_ttl_s

    # ---- outcomes ------------------------------------------------------------
    def append_outcome(self, record: dict[str, Any]) -> None:
        p = self.r.pipeline(transaction=True)
        p.rpush(f"{self.k}:outcomes", json.dumps(record, default=float))
        p.ltrim(f"{self.k}:outcomes", -self.max_outcomes, -1)
        p.incr(f"{self.k}:outcomes:total")
        p.execute()

    def outcomes(self, limit: int | None = None) -> list[dict[str, Any]]:
        start = -limit if limit else 0
        return [json.loads(x) for x in self.r.lrange(f"{self.k}:outcomes", start, -1)]

    def count_outcomes(self) -> int:
        return int(self.r.get(f"{self.k}:outcomes:total") or 0)

    # ---- weights (versioned) -----------------------------------------------------
    def save_weights(self, version: int, weights: dict[str, float], meta: dict[str, Any]) -> None:
        """Store a new version; an existing version is never overwritten (HSETNX).

        Saving the same weights under an existing version is a no-op (two replicas
        starting at once both save the catalog weights as version 1); different
        weights under a taken version raise ValueError.
        """
        doc = json.dumps({"version": int(version), "weights": weights, "meta": meta}, default=float)
        if not self.r.hsetnx(f"{self.k}:weights", str(int(version)), doc):
            old = json.loads(self.r.hget(f"{self.k}:weights", str(int(version))))
            if old["weights"] != json.loads(json.dumps(weights, default=float)):
                raise ValueError(f"placement weights version {version} exists already with other weights")
        # latest = max(latest, version), atomically
        self.r.eval("local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
                    "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end return 1",
                    1, f"{self.k}:weights:latest", str(int(version)))

    def latest_weights(self) -> dict[str, Any] | None:
        v = self.r.get(f"{self.k}:weights:latest")
        if v is None:
            return None
        raw = self.r.hget(f"{self.k}:weights", v)
        return json.loads(raw) if raw else None

    def weight_history(self) -> list[dict[str, Any]]:
        docs = [json.loads(x) for x in self.r.hvals(f"{self.k}:weights")]
        return sorted(docs, key=lambda d: d["version"])

    # ---- placements --------------------------------------------------------------
    def put_placement(self, placement_id: str, payload: dict[str, Any]) -> None:
        self.r.set(f"{self.k}:placement:{placement_id}", json.dumps(payload, default=float), ex=self.placement_ttl_s)

    def get_placement(self, placement_id: str) -> dict[str, Any] | None:
        raw = self.r.get(f"{self.k}:placement:{placement_id}")
        return json.loads(raw) if raw else None

    # ---- retraining ----------------------------------------------------------------
    def schedule_retraining(self, reason: str, meta: dict[str, Any]) -> None:
        import time

        p = self.r.pipeline(transaction=True)
        p.rpush(f"{self.k}:retrain", json.dumps({"reason": reason, "meta": meta, "ts": time.time()}, default=float))
        p.ltrim(f"{self.k}:retrain", -MAX_RETRAIN, -1)
        p.execute()

    def retraining_requests(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(f"{self.k}:retrain", 0, -1)]
