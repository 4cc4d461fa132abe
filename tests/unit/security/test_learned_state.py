"""Learned detector state round-trips as data: a restored pipeline scores like the original."""
from __future__ import annotations

import copy
import json

import pytest

from aiops.security.pipeline import SecurityPipeline
from aiops.security.detection.network import NetworkConfig
from aiops.security.detection.ueba import UebaConfig
from aiops.security.intake import SecurityIntake
from aiops.security.learned_state import dump_learned, load_learned
from aiops.settings import SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator


def _pipe() -> SecurityPipeline:
    return SecurityPipeline(network=NetworkConfig(warmup_flows=300), ueba=UebaConfig(population_warmup=50))


def _signals(pipe: SecurityPipeline, events: list) -> list[tuple]:
    out = [(s.name, s.ts, round(s.score, 9)) for e in events for s in pipe.signals_for(copy.copy(e))]
    return sorted(out + [(s.name, s.ts, round(s.score, 9)) for s in pipe.network.flush()])


def test_a_restored_pipeline_gives_the_same_signals():
    ticks = FleetSimulator(SimulatorSettings(hosts=30, interval_s=60, seed=9, attack_rate_per_day=2.0)).advance(2 * 86400)
    events = SecurityIntake().parse_ticks(ticks)
    half = len(events) // 2
    original = _pipe()
    original.process_many(events[:half])
    original.drain()
    doc, arrays = dump_learned(original)
    assert original.network.ready and arrays and b"__pickle" not in arrays
    restored = _pipe()
    load_learned(restored, doc, arrays)
    assert restored.network.ready and restored.ueba.profiles() == original.ueba.profiles()
    got = _signals(restored, events[half:])
    assert got == _signals(original, events[half:]) and got  # not vacuous: the second day has signals


def test_before_the_forest_is_fitted_and_unknown_formats():
    pipe = _pipe()
    doc, arrays = dump_learned(pipe)
    assert arrays == b"" and json.loads(doc)["network"]["ready"] is False
    fresh = _pipe()
    load_learned(fresh, doc, arrays)
    assert not fresh.network.ready
    with pytest.raises(ValueError, match="format"):
        load_learned(fresh, json.dumps({"format": 99}).encode(), b"")
