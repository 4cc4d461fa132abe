"""Telemetry: sample batches and their validation, message decoding, log parsing, the fleet simulator.

Names resolve on first use (no numpy import for a caller that needs none).
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = [
    "TARGET_RE", "METRIC_RE", "TARGET_TYPES", "RECORD_FIELDS", "MAX_METRICS_PER_RECORD", "Rejection",
    "SampleBatch", "concat", "check_record", "reason_key", "records_to_batch", "count_reasons",
    "CollectorStats", "Host", "VM", "Fleet", "build_fleet", "METRIC_FOR_KIND", "LogEvent", "parse_line",
    "events_to_batch", "MAX_MESSAGE_BYTES", "EVENT_REQUIRED", "load_json", "decode_metrics", "decode_logs", "decode_events",
    "prometheus_vector_to_records", "HOST_METRICS", "VM_METRICS", "DAY", "FAILURE_KINDS", "ATTACK_STEPS",
    "Scenario", "AttackStep", "AttackCampaign", "Tick", "FleetSimulator", "RealTimeClock",
    "IngestSettings", "TsBounds", "MAX_JSON_DEPTH", "json_too_deep",
    "Episode", "HEALTH_EVENT_TYPES", "LOOKALIKE_KINDS",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "TARGET_RE": ".batch",
    "METRIC_RE": ".batch",
    "TARGET_TYPES": ".batch",
    "RECORD_FIELDS": ".batch",
    "MAX_METRICS_PER_RECORD": ".batch",
    "Rejection": ".batch",
    "SampleBatch": ".batch",
    "concat": ".batch",
    "check_record": ".batch",
    "reason_key": ".batch",
    "records_to_batch": ".batch",
    "count_reasons": ".batch",
    "CollectorStats": ".counters",
    "Host": ".fleet",
    "VM": ".fleet",
    "Fleet": ".fleet",
    "build_fleet": ".fleet",
    "METRIC_FOR_KIND": ".logparse",
    "LogEvent": ".logparse",
    "parse_line": ".logparse",
    "events_to_batch": ".logparse",
    "MAX_MESSAGE_BYTES": ".messages",
    "EVENT_REQUIRED": ".messages",
    "load_json": ".messages",
    "decode_metrics": ".messages",
    "decode_logs": ".messages",
    "decode_events": ".messages",
    "prometheus_vector_to_records": ".messages",
    "HOST_METRICS": ".simulator",
    "VM_METRICS": ".simulator",
    "DAY": ".simulator",
    "FAILURE_KINDS": ".simulator",
    "ATTACK_STEPS": ".simulator",
    "Scenario": ".simulator",
    "AttackStep": ".simulator",
    "AttackCampaign": ".simulator",
    "Tick": ".simulator",
    "FleetSimulator": ".simulator",
    "RealTimeClock": ".simulator",
    "IngestSettings": ".bounds",
    "TsBounds": ".bounds",
    "MAX_JSON_DEPTH": ".bounds",
    "json_too_deep": ".bounds",
    "Episode": ".scenarios",
    "HEALTH_EVENT_TYPES": ".scenarios",
    "LOOKALIKE_KINDS": ".scenarios",
})
