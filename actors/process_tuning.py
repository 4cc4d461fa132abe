"""Garbage-collector settings for the actors that allocate per event (correlator, collectors).

CPython's default thresholds (700, 10, 10) run a young collection every 700 allocations and
walk the whole heap every 100th, and a Ray worker's heap is large (Ray, numpy, sklearn, the
compiled Sigma rules). Measured on the security stream in one process: 28.5 k events/s with the
defaults, 33.9 k after ``gc.freeze()``, 39.4 k with a 20,000 young threshold; through the actor
(`python -m jobs.bench_security_paths --paths direct,nats_backlog [--no-gc-tuning]`, alternating
runs) 22.9-27.5 k vs 19.5-23.8 k direct and 25.6-30.6 k vs 21.8-23.2 k through NATS, with the
same actor RSS (369 MB) either way (docs/benchmarks/security-correlation.md). Reference cycles
are still collected, only less often.
"""
from __future__ import annotations

import gc
import os

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Call at the end of an actor's ``__init__``: what is loaded by then lives as long as the process.

    ``AIOPS_GC_TUNING=0`` in the workers' environment keeps CPython's defaults."""
    if os.environ.get("AIOPS_GC_TUNING", "1") == "0":
        return
    gc.collect()
    gc.freeze()  # start-up objects leave the collector's generations: full collections skip them
    gc.set_threshold(YOUNG_THRESHOLD, 50, 100)
