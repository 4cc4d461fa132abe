"""Byte formats for what a shard keeps in Redis: WAL batches, per-target snapshots, shard meta.

Never pickle: whoever can write to Redis must not be able to run code in a shard. Each record is
a short magic tag, a length-prefixed JSON header (names, counts) and raw little-endian numpy
columns, so decoding is `json.loads` plus `np.frombuffer`. Decoders check the tag, the header's
types, the byte counts and the index ranges, and raise `StoredRecordError` for anything else
(an older pickled record included) so the caller can skip it and count it.
"""
from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from aiops.telemetry.batch import SampleBatch

__all__ = ["StoredRecordError", "encode_batch", "decode_batch", "encode_target", "decode_target",
           "encode_meta", "decode_meta"]

_BATCH_TAG, _TARGET_TAG, _META_TAG = b"AWB1", b"AWS1", b"AWM1"
_HEAD = struct.Struct("<4sI")  # tag, header length
_BATCH_COLUMNS = (("target_idx", "<i4"), ("metric_idx", "<i2"), ("ts", "<f8"), ("values", "<f4"))
_TS, _VAL = np.dtype("<f8"), np.dtype("<f4")


class StoredRecordError(ValueError):
    """A stored record is not in this format (an older pickled record, or torn/corrupt bytes)."""


def _pack(tag: bytes, header: dict[str, Any], columns: list[bytes]) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([_HEAD.pack(tag, len(head)), head, *columns])


def _unpack(tag: bytes, blob: bytes) -> tuple[dict[str, Any], memoryview]:
    if len(blob) < _HEAD.size:
        raise StoredRecordError("record is too short")
    got, n = _HEAD.unpack_from(blob)
    if got != tag:
        raise StoredRecordError(f"record tag {got!r} is not {tag!r} (an older pickled record?)")
    end = _HEAD.size + n
    if len(blob) < end:
        raise StoredRecordError("record is torn (shorter than its header)")
    try:
        header = json.loads(bytes(blob[_HEAD.size:end]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoredRecordError(f"record header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise StoredRecordError("record header is not an object")
    return header, memoryview(bytearray(blob[end:]))


def _str_list(v: Any, what: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise StoredRecordError(f"{what} must be a list of strings")
    return v


def _columns(body: memoryview, spec: list[tuple[int, np.dtype]]) -> list[np.ndarray]:
    need = sum(n * dt.itemsize for n, dt in spec)
    if len(body) != need:
        raise StoredRecordError(f"record body holds {len(body)} bytes, its header says {need}")
    out, off = [], 0
    for n, dt in spec:
        out.append(np.frombuffer(body, dt, n, off).astype(dt.newbyteorder("="), copy=False))
        off += n * dt.itemsize
    return out


def encode_batch(batch: SampleBatch) -> bytes:
    """One WAL record for a batch."""
    header = {"targets": list(batch.targets), "metrics": list(batch.metrics), "n": len(batch),
              "target_types": batch.target_types, "batch_id": batch.batch_id}
    cols = [np.ascontiguousarray(getattr(batch, name), dt).tobytes() for name, dt in _BATCH_COLUMNS]
    return _pack(_BATCH_TAG, header, cols)


def decode_batch(blob: bytes) -> SampleBatch:
    """The batch an `encode_batch` record holds; StoredRecordError for anything else."""
    h, body = _unpack(_BATCH_TAG, blob)
    targets, metrics = _str_list(h.get("targets"), "targets"), _str_list(h.get("metrics"), "metrics")
    n, types, bid = h.get("n"), h.get("target_types"), h.get("batch_id")
    if not isinstance(n, int) or n < 0:
        raise StoredRecordError("n must be a non-negative integer")
    if not isinstance(types, dict) or not all(isinstance(v, str) for v in types.values()):
        raise StoredRecordError("target_types must map names to strings")
    if bid is not None and not isinstance(bid, str):
        raise StoredRecordError("batch_id must be a string or null")
    ti, mi, ts, vals = _columns(body, [(n, np.dtype(dt)) for _, dt in _BATCH_COLUMNS])
    if n and (ti.min() < 0 or ti.max() >= len(targets) or mi.min() < 0 or mi.max() >= len(metrics)):
        raise StoredRecordError("a name index is out of range")
    return SampleBatch(tuple(targets), tuple(metrics), ti, mi, ts, vals, dict(types), bid)


def encode_target(target_type: str, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """One snapshot record: a target's type and each metric's (ts float64, values float32) columns."""
    header = {"target_type": target_type, "series": [[m, int(ts.size)] for m, (ts, _) in series.items()]}
    cols = [b for ts, v in series.values() for b in (np.asarray(ts, _TS).tobytes(), np.asarray(v, _VAL).tobytes())]
    return _pack(_TARGET_TAG, header, cols)


def decode_target(blob: bytes) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(target type, {metric: (ts, values)}) from an `encode_target` record."""
    h, body = _unpack(_TARGET_TAG, blob)
    ttype, series = h.get("target_type"), h.get("series")
    if not isinstance(ttype, str) or not isinstance(series, list):
        raise StoredRecordError("target_type must be a string and series a list")
    if not all(isinstance(s, list) and len(s) == 2 and isinstance(s[0], str) and isinstance(s[1], int)
               and s[1] >= 0 for s in series):
        raise StoredRecordError("series entries must be [metric, count]")
    cols = _columns(body, [(n, dt) for _, n in series for dt in (_TS, _VAL)])
    return ttype, {m: (cols[2 * i], cols[2 * i + 1]) for i, (m, _) in enumerate(series)}


def encode_meta(recent_ids: list[str]) -> bytes:
    """The shard's meta record: the batch ids it has applied (for redelivery checks after a restart)."""
    return _pack(_META_TAG, {"recent_ids": recent_ids}, [])


def decode_meta(blob: bytes) -> list[str]:
    """The batch ids of an `encode_meta` record."""
    h, _ = _unpack(_META_TAG, blob)
    return _str_list(h.get("recent_ids"), "recent_ids")
