"""CIC-IDS2017 (CICFlowMeter rows) as the engine's platform flow events, with labels and re-weighting.

A row becomes the record the NovaCron control plane publishes (``type: network_flow``) and goes through
the same parser (``aiops.security.parsers.platform_events.flow_event``): the detector sees only what a
production flow exporter gives it. The source IP stands for the host (CIC-IDS2017 has no hypervisor).
"""
from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from aiops.security.events import SecurityEvent
from aiops.security.parsers.platform_events import flow_event

# Flows per class in the full corrected CIC-IDS2017 (Engelen, Rimmer, Joosen 2021, their Table of labels;
# rounded): the class balance the re-weighting restores. Classes not listed weigh as the rarest listed.
FULL_COUNTS = {"BENIGN": 1_582_566, "DoS Hulk": 158_468, "Portscan": 159_066, "DDoS": 95_123,
               "DoS GoldenEye": 7_567, "DoS Slowloris": 4_001, "DoS Slowhttptest": 1_740,
               "FTP-Patator": 3_973, "SSH-Patator": 2_980, "Botnet": 736, "Infiltration": 36,
               "Web Attack - Brute Force": 151, "Web Attack - XSS": 27, "Web Attack - SQL Injection": 12,
               "Heartbleed": 11}


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def row_event(r: dict[str, str]) -> SecurityEvent:
    """One CICFlowMeter row as a platform flow event (durations are µs in CIC, seconds in the engine)."""
    src = r["Src IP"]
    return flow_event({
        "type": "network_flow", "ts": _ts(r["Timestamp"]), "host": src, "src_ip": src, "dst_ip": r["Dst IP"],
        "src_port": int(r["Src Port"]), "dst_port": int(r["Dst Port"]), "protocol": int(r["Protocol"]),
        "duration": max(float(r["Flow Duration"]), 0.0) / 1e6,
        "packets_out": int(r["Total Fwd Packet"]), "packets_in": int(r["Total Bwd packets"]),
        "bytes_out": int(float(r["Total Length of Fwd Packet"])), "bytes_in": int(float(r["Total Length of Bwd Packet"])),
    })


NOT_NUMERIC = frozenset({"id", "Flow ID", "Src IP", "Dst IP", "Timestamp", "Label", "Attempted Category"})


def load(folder: Path) -> dict[str, tuple[list[SecurityEvent], np.ndarray]]:
    """Per label (``BENIGN`` and each attack class in the folder's CSV files): the flow events, and the
    row's own numeric CICFlowMeter columns (for the plain baseline)."""
    events: dict[str, list[SecurityEvent]] = {}
    numeric: dict[str, list[list[float]]] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                if not r.get("Label"):
                    continue
                events.setdefault(r["Label"], []).append(row_event(r))
                numeric.setdefault(r["Label"], []).append([_float(v) for k, v in r.items() if k not in NOT_NUMERIC])
    return {k: (events[k], np.asarray(numeric[k])) for k in events}


def _float(v: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def class_weights(counts: dict[str, int]) -> dict[str, float]:
    """Weight per class = its share of the full data / its share of the scored sample."""
    n = sum(counts.values())
    known = {k: FULL_COUNTS.get(k, min(FULL_COUNTS.values())) for k in counts}
    total = sum(known.values())
    return {k: (known[k] / total) / (counts[k] / n) for k in counts}
