"""Decoding of collector inputs (NATS payloads, HTTP bodies, Prometheus answers).

Every decoder returns the good data plus a reason for each rejected part, so a bad
record never costs the good records beside it.
"""
from __future__ import annotations

import json
import math
from typing import Any

from aiops.patterns import MAX_LINE_CHARS
from aiops.telemetry.batch import Rejection, SampleBatch, records_to_batch
from aiops.telemetry.bounds import MAX_JSON_DEPTH, TsBounds, json_too_deep
from aiops.telemetry.logparse import ParsedLines, parse_lines

__all__ = ["MAX_MESSAGE_BYTES", "EVENT_REQUIRED", "load_json", "decode_metrics", "decode_logs", "decode_events",
           "prometheus_vector_to_records"]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
EVENT_REQUIRED = ("ts", "type")


def load_json(payload: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, Rejection | None]:
    """Decode one payload, refusing deep nesting before the recursive decoder sees it (a raised
    recursion limit elsewhere in the process would otherwise turn it into a segfault)."""
    if len(payload) > MAX_MESSAGE_BYTES:
        return None, Rejection(0, f"payload too large: {len(payload)} bytes (max {MAX_MESSAGE_BYTES})")
    if json_too_deep(payload, max_depth):
        return None, Rejection(0, f"json nested too deeply (max depth {max_depth})")
    try:
        return json.loads(payload), None  # NaN/Infinity parse, then fail per-record checks
    except RecursionError:
        return None, Rejection(0, "json nested too deeply")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, Rejection(0, f"invalid json: {str(exc)[:120]}")


def decode_metrics(payload: bytes | Any, max_records: int = 50_000,
                   bounds: TsBounds | None = None) -> tuple[SampleBatch, list[Rejection], int]:
    """A record object, a list of records, or {"records": [...]} -> (batch, rejections, records seen).

    `bounds` is the accepted timestamp window (None: only the 1970..2100 sanity range)."""
    raw = isinstance(payload, (bytes, bytearray, str))
    data, err = load_json(payload) if raw else (payload, None)
    if err:
        return SampleBatch.empty(), [err], 0
    if isinstance(data, dict) and "records" in data:
        if set(data) - {"records"}:
            return SampleBatch.empty(), [Rejection(0, f"unknown field(s): {', '.join(sorted(set(data) - {'records'}))}")], 0
        data = data["records"]
    records = data if isinstance(data, list) else [data]
    if len(records) > max_records:
        return SampleBatch.empty(), [Rejection(0, f"too many records: {len(records)} (max {max_records})")], 0
    batch, rejected = records_to_batch(records, bounds=bounds)
    return batch, rejected, len(records)


def decode_logs(payload: bytes, default_host: str | None = None, year: int = 2026,
                max_line_chars: int = MAX_LINE_CHARS) -> ParsedLines:
    """Plain text lines, or {"host": ..., "lines": [...]}: events, ignored and truncated line counts."""
    text = payload.decode("utf-8", errors="replace")
    lines: list[str]
    if text.lstrip().startswith("{"):
        data, err = load_json(payload)
        if err or not isinstance(data, dict) or not isinstance(data.get("lines"), list):
            raise ValueError(err.reason if err else "log message must be text lines or {host, lines: [...]}")
        default_host = data.get("host") or default_host
        lines = [str(x) for x in data["lines"]]
    else:
        lines = text.splitlines()
    return parse_lines(lines, year, default_host, max_line_chars)


def decode_events(payload: bytes, bounds: TsBounds | None = None) -> tuple[list[dict[str, Any]], list[Rejection]]:
    """Platform events (VM lifecycle, API calls, flows): JSON objects with ts and type (ts inside `bounds`)."""
    data, err = load_json(payload)
    if err:
        return [], [err]
    items = data if isinstance(data, list) else [data]
    good, bad = [], []
    for i, ev in enumerate(items):
        if not isinstance(ev, dict):
            bad.append(Rejection(i, "record must be an object"))
        elif missing := [k for k in EVENT_REQUIRED if k not in ev]:
            bad.append(Rejection(i, f"missing field: {missing[0]}"))
        elif not isinstance(ev["ts"], (int, float)) or isinstance(ev["ts"], bool) or not math.isfinite(ev["ts"]):
            bad.append(Rejection(i, "ts must be a finite number (unix seconds)"))
        elif bounds is not None and (why := bounds.reason(ev["ts"])):
            bad.append(Rejection(i, why))
        else:
            good.append(ev)
    return good, bad


def prometheus_vector_to_records(result: dict[str, Any], metric: str, target_label: str, template: str) -> tuple[list[dict], list[Rejection]]:
    """An instant-query answer ({"status":"success","data":{"resultType":"vector",...}}) -> records."""
    if result.get("status") != "success":
        return [], [Rejection(0, f"prometheus error: {result.get('error', 'unknown')}")]
    data = result.get("data", {})
    if data.get("resultType") != "vector":
        return [], [Rejection(0, f"expected a vector result, got {data.get('resultType')}")]
    records, bad = [], []
    for i, item in enumerate(data.get("result", [])):
        label = item.get("metric", {}).get(target_label)
        if label is None:
            bad.append(Rejection(i, f"missing field: label {target_label}"))
            continue
        ts, raw = item["value"]
        try:
            value = float(raw)
        except ValueError:
            bad.append(Rejection(i, f"metric {metric}: value must be a finite number, got {raw}"))
            continue
        target = template.format(value=label.replace(":", "-").replace("/", "-"))
        records.append({"target_id": target, "ts": float(ts), "metrics": {metric: value}})
    return records, bad
