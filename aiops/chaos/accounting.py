"""What a chaos run counts: acknowledged ids against stored ids, HTTP failures and recovery per phase.

Every sample and security event the load driver publishes has a unique id; it is *acknowledged* when
JetStream's publish ack came back (from then on the platform owns it). A run is split into phases (a
baseline, then one per fault, each from the fault until the next); each id and each HTTP request
belongs to the phase it was sent in. After the run the verifier reads back what the engine stored
durably (shard snapshots + write-ahead log in Redis, the correlator's delivery ledger) and this module
compares: lost = acknowledged but never stored, duplicates = stored more than once.
"""
from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping

__all__ = ["PhaseClock", "AckBook", "RequestLog", "Probe", "FaultRow", "build_rows"]


class PhaseClock:
    """Phase boundaries: ``begin(name, t)`` starts a phase at wall time t; ``phase_at(t)`` finds it back."""

    def __init__(self, first: str = "baseline", t0: float = 0.0) -> None:
        self.names: list[str] = [first]
        self.starts: list[float] = [t0]
        self._lock = threading.Lock()

    def begin(self, name: str, t: float) -> None:
        with self._lock:
            if t < self.starts[-1]:
                raise ValueError("phases must start in time order")
            self.names.append(name)
            self.starts.append(t)

    def phase_at(self, t: float) -> str:
        with self._lock:
            return self.names[max(0, bisect.bisect_right(self.starts, t) - 1)]

    def start_of(self, name: str) -> float:
        return self.starts[self.names.index(name)]


@dataclass
class AckBook:
    """Acknowledged ids per phase, and publishes that got no ack (not the platform's: never counted lost)."""

    samples: dict[str, set[Hashable]] = field(default_factory=dict)
    events: dict[str, set[Hashable]] = field(default_factory=dict)
    unacked: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def acked(self, phase: str, samples: Iterable[Hashable] = (), events: Iterable[Hashable] = ()) -> None:
        with self._lock:
            self.samples.setdefault(phase, set()).update(samples)
            self.events.setdefault(phase, set()).update(events)

    def not_acked(self, phase: str, n: int = 1) -> None:
        with self._lock:
            self.unacked[phase] += n


@dataclass
class Request:
    t: float
    kind: str
    ok: bool
    status: int  # 0: no HTTP answer (connection refused, timeout)
    attempts: int
    latency_s: float


class RequestLog:
    """Every load GET with its outcome after the driver's retries (thread-safe)."""

    def __init__(self) -> None:
        self.rows: list[Request] = []
        self._lock = threading.Lock()

    def add(self, t: float, kind: str, ok: bool, status: int, attempts: int, latency_s: float) -> None:
        with self._lock:
            self.rows.append(Request(t, kind, ok, status, attempts, latency_s))

    def window(self, start: float, end: float) -> list[Request]:
        with self._lock:
            return [r for r in self.rows if start <= r.t < end]


class Probe:
    """Freshness polls: (poll time, newest sample time the engine served for the probe target)."""

    def __init__(self) -> None:
        self.polls: list[tuple[float, float | None]] = []
        self._lock = threading.Lock()

    def add(self, t: float, as_of: float | None) -> None:
        with self._lock:
            self.polls.append((t, as_of))

    def back_after(self, fault_t: float, end: float) -> float | None:
        """Seconds from the fault until the engine served a sample published after it (None: not in the phase)."""
        with self._lock:
            for t, as_of in self.polls:
                if fault_t <= t < end and as_of is not None and as_of >= fault_t:
                    return round(t - fault_t, 2)
        return None


def _http(rows: list[Request], fault_t: float, kinds: tuple[str, ...]) -> dict[str, float | int | None]:
    """Failed requests, retried ones, the span failures covered, the slowest answer (retries included: how long a
    patient client waited), and when each kind answered again after its last failure."""
    failed = [r for r in rows if not r.ok]
    retried = sum(1 for r in rows if r.ok and r.attempts > 1)
    slowest = round(max((r.latency_s for r in rows if r.ok), default=0.0), 2) if rows else None
    span = None
    if failed:
        last = max(r.t + r.latency_s for r in failed)
        span = round(last - min(r.t for r in failed), 2)
    back: dict[str, float | None] = {}
    for kind in kinds:
        mine = sorted((r for r in rows if r.kind == kind), key=lambda r: r.t)
        bad = [r for r in mine if not r.ok]
        after = [r for r in mine if r.ok and (not bad or r.t > bad[-1].t)]
        back[kind] = round(after[0].t + after[0].latency_s - fault_t, 2) if after else None
    return {"http_requests": len(rows), "http_failed": len(failed), "http_retried": retried, "http_error_span_s": span,
            "http_slowest_ok_s": slowest,
            **{f"{k}_back_s": v for k, v in back.items()}}


@dataclass
class FaultRow:
    phase: str
    samples_acked: int
    samples_lost: int
    sample_duplicates: int
    events_acked: int
    events_lost: int
    event_duplicates: int
    unacked_publishes: int
    http: dict[str, float | int | None]
    ingest_back_s: float | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.samples_lost == 0 and self.events_lost == 0

    def as_dict(self) -> dict[str, object]:
        return {"phase": self.phase, "samples_acked": self.samples_acked, "samples_lost": self.samples_lost,
                "sample_duplicates": self.sample_duplicates, "events_acked": self.events_acked,
                "events_lost": self.events_lost, "event_duplicates": self.event_duplicates,
                "unacked_publishes": self.unacked_publishes, **self.http, "ingest_back_s": self.ingest_back_s,
                "detail": self.detail}


def build_rows(clock: PhaseClock, book: AckBook, stored_samples: Mapping[Hashable, int],
               stored_events: Mapping[Hashable, int], requests: RequestLog, probe: Probe, end: float,
               details: Mapping[str, str] | None = None, kinds: tuple[str, ...] = ("predict",)) -> list[FaultRow]:
    """One row per phase: ``stored_*`` map an id to how many times the engine stored it."""
    rows = []
    bounds = [*clock.starts[1:], end]
    for name, start, stop in zip(clock.names, clock.starts, bounds):
        acked_s = book.samples.get(name, set())
        acked_e = book.events.get(name, set())
        rows.append(FaultRow(
            phase=name, samples_acked=len(acked_s),
            samples_lost=sum(1 for i in acked_s if stored_samples.get(i, 0) == 0),
            sample_duplicates=sum(max(0, stored_samples.get(i, 0) - 1) for i in acked_s),
            events_acked=len(acked_e), events_lost=sum(1 for i in acked_e if stored_events.get(i, 0) == 0),
            event_duplicates=sum(max(0, stored_events.get(i, 0) - 1) for i in acked_e),
            unacked_publishes=book.unacked.get(name, 0),
            http=_http(requests.window(start, stop), start, kinds),
            ingest_back_s=None if name == clock.names[0] else probe.back_after(start, stop),
            detail=(details or {}).get(name, "")))
    return rows
