"""What the detectors have learned, as data, so a restarted correlator does not start from zero.

The network detector's forest (as stacked arrays, aiops.security.detection.forest_scoring), its conformal
calibration, fleet port frequencies and per-host baselines; the UEBA profiles; the IP → host map.
Serialised as JSON plus one ``np.savez`` archive, never pickle: the snapshot sits in Redis, and
unpickling what anyone with Redis access wrote would run their code inside a security engine.
Graph components and Sigma correlation windows are short-lived and are not kept.
"""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from aiops.security.pipeline import SecurityPipeline

FORMAT = 1


def dump_learned(pipe: SecurityPipeline) -> tuple[bytes, bytes]:
    """(JSON document, npz archive of the forest and calibration; empty before the forest is fitted)."""
    net_doc, net_arrays = pipe.network.snapshot()
    doc: dict[str, Any] = {"format": FORMAT, "assets": pipe.assets.ip_host, "ueba": pipe.ueba.snapshot(),
                           "network": net_doc}
    arrays = b""
    if net_arrays:
        buf = io.BytesIO()
        np.savez(buf, **net_arrays)
        arrays = buf.getvalue()
    return json.dumps(doc).encode(), arrays


def load_learned(pipe: SecurityPipeline, doc_bytes: bytes, arrays: bytes) -> None:
    """Restore into a fresh pipeline; raises ValueError on a snapshot it does not understand."""
    doc = json.loads(doc_bytes)
    if doc.get("format") != FORMAT:
        raise ValueError(f"unknown learned-state format {doc.get('format')!r}")
    pipe.assets.ip_host.update(doc["assets"])
    pipe.ueba.restore(doc["ueba"])
    if doc["network"]["ready"] and arrays:
        with np.load(io.BytesIO(arrays), allow_pickle=False) as z:
            pipe.network.restore(doc["network"], z)
    else:
        pipe.network.restore(doc["network"])


class RedisLearnedStore:
    """One Redis hash holding the latest snapshot (both parts written in one command)."""

    def __init__(self, client: Any, prefix: str = "aiops") -> None:
        self.client = client
        self.key = f"{prefix}:security:learned"

    @classmethod
    def from_url(cls, url: str, prefix: str = "aiops") -> "RedisLearnedStore":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5), prefix)

    def save(self, pipe: SecurityPipeline) -> int:
        doc, arrays = dump_learned(pipe)
        self.client.hset(self.key, mapping={"doc": doc, "arrays": arrays})
        return len(doc) + len(arrays)

    def restore(self, pipe: SecurityPipeline) -> bool:
        """True when a snapshot was found and loaded into ``pipe``."""
        got = self.client.hmget(self.key, ["doc", "arrays"])
        if not got or got[0] is None:
            return False
        load_learned(pipe, got[0], got[1] or b"")
        return True
