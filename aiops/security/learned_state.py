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
from collections import defaultdict
from typing import Any

import numpy as np

from aiops.security.pipeline import SecurityPipeline
from aiops.security.detection.network import _HostBaseline, _Profile
from aiops.security.detection.forest_scoring import PyodIForestScorer, StackedIsolationForest

FORMAT = 1


def _profiles(profs: dict[tuple, _Profile]) -> list[list[Any]]:
    return [[list(k), [[v, c] for v, c in p.counts.items()], p.n, p.n1, p.first_ts] for k, p in profs.items()]


def _unprofiles(rows: list[list[Any]]) -> dict[tuple, _Profile]:
    out: dict[tuple, _Profile] = {}
    for key, counts, n, n1, first in rows:
        p = _Profile(float(first))
        p.counts = {v: int(c) for v, c in counts}
        p.n, p.n1 = int(n), int(n1)
        out[tuple(key)] = p
    return out


def dump_learned(pipe: SecurityPipeline) -> tuple[bytes, bytes]:
    """(JSON document, npz archive of the forest and calibration; empty before the forest is fitted)."""
    net, ueba = pipe.network, pipe.ueba
    doc: dict[str, Any] = {
        "format": FORMAT,
        "assets": pipe.assets.ip_host,
        "ueba": {"prof": _profiles(ueba._prof), "pop": _profiles(ueba._pop)},
        "network": {
            "ready": net.ready,
            "port_count": [[p, c] for p, c in net._port_count.items()],
            "port_freq": [[p, f] for p, f in net._port_freq.items()],
            "n_ports": net._n_ports,
            "hosts": {h: [b.vals, [[p, c] for p, c in b.ports.items()], b.n, b.n1, b.med, b.mad, b.dirty]
                      for h, b in net._hosts.items()},
        },
    }
    arrays = b""
    stacked = net._forest.stacked if net._forest is not None else None
    if stacked is not None and net.calib is not None:
        buf = io.BytesIO()
        np.savez(buf, calib=net.calib, **stacked.to_arrays())
        arrays = buf.getvalue()
    else:
        doc["network"]["ready"] = False  # a pyod fallback forest is not kept: refit after a restart
    return json.dumps(doc).encode(), arrays


def load_learned(pipe: SecurityPipeline, doc_bytes: bytes, arrays: bytes) -> None:
    """Restore into a fresh pipeline; raises ValueError on a snapshot it does not understand."""
    doc = json.loads(doc_bytes)
    if doc.get("format") != FORMAT:
        raise ValueError(f"unknown learned-state format {doc.get('format')!r}")
    pipe.assets.ip_host.update(doc["assets"])
    pipe.ueba._prof = _unprofiles(doc["ueba"]["prof"])
    pipe.ueba._pop = _unprofiles(doc["ueba"]["pop"])
    net_doc, net = doc["network"], pipe.network
    net._port_count = defaultdict(int, {int(p): int(c) for p, c in net_doc["port_count"]})
    net._port_freq = {int(p): float(f) for p, f in net_doc["port_freq"]}
    net._n_ports = int(net_doc["n_ports"])
    hosts: defaultdict[str, _HostBaseline] = defaultdict(_HostBaseline)
    for h, (vals, ports, n, n1, med, mad, dirty) in net_doc["hosts"].items():
        b = hosts[h]
        b.vals = [float(v) for v in vals]
        b.ports = {int(p): int(c) for p, c in ports}
        b.n, b.n1, b.med, b.mad, b.dirty = int(n), int(n1), float(med), float(mad), bool(dirty)
    net._hosts = hosts
    if net_doc["ready"] and arrays:
        with np.load(io.BytesIO(arrays), allow_pickle=False) as z:
            net.calib = np.asarray(z["calib"])
            net._forest = PyodIForestScorer(None, StackedIsolationForest.from_arrays(z))


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
