"""The steady load of `jobs.chaos`: JetStream ingest at a fixed rate and HTTP GETs at a fixed rate.

Ingest: one metrics message per tick (samples of `samples_per_msg` targets, each a unique (target, ts))
and a security event message every `event_every` ticks, each published with a `Nats-Msg-Id` so a
retried publish is stored once; an id counts as acknowledged only when JetStream's ack came back.
GETs: predictions, placement plans and security anomalies round robin, open loop (a slow answer does
not slow the load), each retried on failure (connection error, 5xx) with back-off that honours
`Retry-After`, trying the other node's Serve proxy too, as a load balancer would. A probe polls the
features of one target, fed in every message, to see when fresh samples are served again.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from aiops.chaos.accounting import AckBook, PhaseClock, Probe, RequestLog

__all__ = ["LoadConfig", "LoadDriver", "PROBE_TARGET", "TARGET_PREFIX", "METRIC"]

TARGET_PREFIX = "chaos-h"
PROBE_TARGET = "chaos-probe"
METRIC = "cpu_utilization"


@dataclass
class LoadConfig:
    nats_url: str
    api_urls: list[str]  # Serve proxies, the preferred one first
    api_token: str
    subject_prefix: str = "aiops"
    msgs_per_s: float = 5.0
    samples_per_msg: int = 8
    targets: int = 40
    event_every: int = 2
    gets_per_s: float = 3.0
    get_budget_s: float = 30.0  # a client gives up on a GET after this
    get_timeout_s: float = 5.0
    probe_every_s: float = 0.5
    paths: dict[str, str] = field(default_factory=dict)  # kind -> path; "predict" is the one recovery waits for


class LoadDriver:
    """Runs the publisher, the GETs and the probe in threads until stop()."""

    def __init__(self, cfg: LoadConfig, clock: PhaseClock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.book = AckBook()
        self.requests = RequestLog()
        self.probe = Probe()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_ts: dict[str, float] = {}
        self.published = 0
        self.publish_errors: list[str] = []
        self.attempt_errors: Counter = Counter()  # "<kind> <status>" of GET attempts that were retried
        self.error_samples: dict[str, str] = {}  # "<kind> <status>" -> the first such answer's body (diagnosis)
        self._http = httpx.Client(headers={"Authorization": f"Bearer {cfg.api_token}"}, timeout=cfg.get_timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="chaos-get")

    def start(self) -> "LoadDriver":
        for fn in (lambda: asyncio.run(self._publish_loop()), self._get_loop, self._probe_loop):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def warm(self, timeout: float, streak: int = 3) -> bool:
        """Wait until every GET kind answered `streak` times in a row (the engine's first seconds are not a fault)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.requests.window(0.0, time.time())
            if all(len(mine := [r for r in rows if r.kind == k]) >= streak and all(r.ok for r in mine[-streak:])
                   for k in self.cfg.paths):
                return True
            time.sleep(1.0)
        return False

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    # ---- ingest ------------------------------------------------------------------
    def _ts(self, target: str, now: float) -> float:
        ts = max(now, self._last_ts.get(target, 0.0) + 1e-3)  # unique per target, close to wall time
        self._last_ts[target] = ts
        return ts

    def _metrics_message(self, tick: int) -> tuple[bytes, list[tuple[str, float]]]:
        now = time.time()
        names = [f"{TARGET_PREFIX}{(tick * self.cfg.samples_per_msg + k) % self.cfg.targets:04d}"
                 for k in range(self.cfg.samples_per_msg)]
        ids = [(t, self._ts(t, now)) for t in dict.fromkeys(names)]
        recs = [{"target_id": t, "ts": ts, "metrics": {METRIC: (tick % 100) / 100}} for t, ts in ids]
        recs.append({"target_id": PROBE_TARGET, "ts": self._ts(PROBE_TARGET, now), "metrics": {METRIC: 0.5}})
        return json.dumps({"records": recs}).encode(), ids

    async def _publish(self, js: object, subject: str, payload: bytes, msg_id: str) -> int | None:
        """Publish until acked (same Nats-Msg-Id, so JetStream stores it once) or ~15 s passed; the stream seq."""
        deadline = time.monotonic() + 15
        while not self._stop.is_set():
            try:
                ack = await js.publish(subject, payload, timeout=2.0, headers={"Nats-Msg-Id": msg_id})  # type: ignore[attr-defined]
                return int(ack.seq)
            except Exception as exc:  # noqa: BLE001 - not acknowledged yet: retry, then give up
                if len(self.publish_errors) < 50:
                    self.publish_errors.append(f"{time.strftime('%X')} {type(exc).__name__}: {exc}"[:200])
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(0.5)
        return None

    async def _publish_loop(self) -> None:
        import nats

        async def quiet(exc: Exception) -> None:  # a NATS restart is a planned fault: the publish retries count it
            pass

        nc = await nats.connect(self.cfg.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=quiet)
        js = nc.jetstream()
        period = 1.0 / self.cfg.msgs_per_s
        tick, next_t = 0, time.monotonic()
        run = f"{int(time.time())}"
        while not self._stop.is_set():
            phase = self.clock.phase_at(time.time())
            payload, ids = self._metrics_message(tick)
            seq = await self._publish(js, f"{self.cfg.subject_prefix}.metrics.chaos", payload, f"{run}-m{tick}")
            self.book.acked(phase, samples=ids) if seq is not None else self.book.not_acked(phase)
            if tick % self.cfg.event_every == 0:
                line = json.dumps({"type": "api_call", "ts": time.time(), "user": f"chaos-u{tick % 7}", "action": "GetVM"})
                seq = await self._publish(js, f"{self.cfg.subject_prefix}.events.security.platform", line.encode() + b"\n",
                                          f"{run}-e{tick}")
                self.book.acked(phase, events=[seq]) if seq is not None else self.book.not_acked(phase)
            self.published += 1
            tick += 1
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
        await nc.close()

    # ---- HTTP --------------------------------------------------------------------
    def _get(self, kind: str, path: str, t0: float) -> None:
        """One GET as a patient client makes it: retried on no answer or a 5xx until `get_budget_s` passed,
        waiting what `Retry-After` says (else 0.5 s doubling, at most 5 s); a refused connection moves to the
        next proxy at once. Failed = no 2xx/4xx answer within the budget."""
        attempts, status, ok, i = 0, 0, False, 0
        deadline = t0 + self.cfg.get_budget_s
        while not self._stop.is_set():
            attempts += 1
            url = self.cfg.api_urls[i % len(self.cfg.api_urls)] + path
            wait = min(0.5 * 2 ** (attempts - 1), 5.0)
            try:
                r = self._http.get(url, timeout=min(self.cfg.get_timeout_s, max(0.5, deadline - time.time())))
                status = r.status_code
                if status < 500:
                    ok = status == 200
                    if not ok:
                        self.attempt_errors[f"{kind} {status}"] += 1
                        self.error_samples.setdefault(f"{kind} {status}", r.text[:300])
                    break
                self.attempt_errors[f"{kind} {status}"] += 1
                self.error_samples.setdefault(f"{kind} {status}", f"{r.headers.get('retry-after')!r} {r.text[:300]}")
                wait = min(float(r.headers.get("retry-after") or wait), 5.0)
            except httpx.ConnectError:  # that proxy is down: the next one at once, backing off once all refused
                status, i = 0, i + 1
                wait = wait if i % len(self.cfg.api_urls) == 0 else 0.05
                self.attempt_errors[f"{kind} ConnectError"] += 1
            except httpx.HTTPError as exc:
                status = 0
                self.attempt_errors[f"{kind} {type(exc).__name__}"] += 1
            if time.time() + wait >= deadline or self._stop.wait(wait):
                break
        if ok or not self._stop.is_set():  # a request cut short by the end of the run is no failure
            self.requests.add(t0, kind, ok, status, attempts, time.time() - t0)

    def _get_loop(self) -> None:
        kinds = list(self.cfg.paths.items())
        period, i, next_t = 1.0 / self.cfg.gets_per_s, 0, time.monotonic()
        while not self._stop.is_set():
            kind, path = kinds[i % len(kinds)]
            self._pool.submit(self._get, kind, path, time.time())
            i += 1
            next_t += period
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def _probe_loop(self) -> None:
        while not self._stop.wait(self.cfg.probe_every_s):
            as_of = None
            for base in self.cfg.api_urls:
                try:
                    r = self._http.get(f"{base}/api/ai/features/{PROBE_TARGET}", timeout=2.0)
                    if r.status_code == 200:
                        as_of = r.json().get("as_of")
                        break
                except (httpx.HTTPError, ValueError):
                    continue
            self.probe.add(time.time(), as_of)
