"""Collector actors: simulator, NATS JetStream, Prometheus, log-file tailer.

Each is an async Ray actor whose run() loop is started once and runs until stop();
stats() answers concurrently. Parsing lives in aiops.telemetry; these only move data
and count. The NATS collector acknowledges a message only after every shard that
received part of it has stored (and, with Redis, persisted) it.
"""
from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import httpx
import ray

from actors.process_tuning import tune_gc
from actors.router import ShardRouter
from actors.names import CORRELATOR_NAME as SECURITY_CORRELATOR
from actors.security_service import load_collector_matcher
from aiops.security.intake import SecurityIntake
from aiops.settings import Settings
from aiops.telemetry.batch import Rejection, SampleBatch, records_to_batch
from aiops.telemetry.counters import CollectorStats
from aiops.telemetry.logparse import events_to_batch, parse_line
from aiops.telemetry.messages import decode_events, decode_logs, decode_metrics, prometheus_vector_to_records
from aiops.telemetry.simulator import FleetSimulator, RealTimeClock

RECENT_EVENTS = 10_000
SECURITY_INFLIGHT = 2  # correlator calls a NATS collector keeps outstanding (parse the next while one runs)


class _Collector:
    kind = "collector"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None) -> None:
        self.settings = settings
        self.router = router or ShardRouter(settings)
        self.stats_ = CollectorStats(name, self.kind)
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self._stop = asyncio.Event()
        self.intake = SecurityIntake()  # security records are parsed (and Sigma-matched) where they arrive
        self._security: Any = None
        self._matcher_task: asyncio.Future | None = None
        self._matcher_failed = False

    def _correlator(self) -> Any | None:
        """The security correlator's handle (looked up once; None when it is not running)."""
        if self._security is None:
            try:
                self._security = ray.get_actor(SECURITY_CORRELATOR, namespace=self.settings.ray.namespace)
            except ValueError:
                return None
        return self._security

    def _load_matcher(self) -> None:
        """Load the Sigma rules in the background (the full SigmaHQ set takes 15-35 s, longer than a
        JetStream ack wait); until they are loaded, or if loading failed (reported once in stats),
        events go unmatched and the correlator matches them itself."""
        if self.intake.matcher is not None or not self.settings.security.match_in_collectors:
            return
        if self._matcher_task is None:
            self._matcher_task = asyncio.get_running_loop().create_task(
                asyncio.to_thread(load_collector_matcher, self.settings))
        elif self._matcher_task.done() and not self._matcher_failed:
            if self._matcher_task.exception() is None:
                self.intake.matcher = self._matcher_task.result()
            else:
                self._matcher_failed = True
                self.stats_.error(f"security rules: {self._matcher_task.exception()}")

    def _take_rejections(self) -> tuple[dict, list]:
        """Rejections the intake counted since the last hand-over (also counted in this collector's stats)."""
        rejected, samples = self.intake.rejections.take()
        if rejected:
            self.stats_.rejections["bad_security_record"] += sum(rejected.values())
        return rejected, samples

    async def _send_security(self, parse: Any, required: bool = False) -> None:
        """Parse with ``parse(intake)`` and hand the events to the correlator in one call (best effort,
        never at the expense of the caller's metrics; errors are counted). ``required``: the operator
        asked for this source to be correlated, so a missing correlator is a counted rejection."""
        actor = self._correlator()
        if actor is None:
            if required:
                self.stats_.reject([Rejection(0, "no security correlator running")])
            return
        try:
            self._load_matcher()
            events = parse(self.intake)
            rejected, samples = self._take_rejections()
            await actor.ingest_events.remote(events, rejected, samples, time.time())
            self.stats_.events += len(events)
        except Exception as exc:
            self._security = None  # look the actor up again (it may have been replaced)
            self.stats_.error(f"security: {exc}")

    async def stats(self) -> dict[str, Any]:
        return self.stats_.as_dict()

    async def events(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.recent_events)[-limit:]

    async def stop(self) -> None:
        self._stop.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; returns False once stop() was called."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return False
        except asyncio.TimeoutError:
            return True


class SimulatorCollector(_Collector):
    """Drives the fleet simulator on a (possibly accelerated) clock."""

    kind = "simulator"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None) -> None:
        super().__init__(name, settings, router)
        self.sim = FleetSimulator(settings.simulator)

    async def inventory(self) -> dict[str, Any]:
        f = self.sim.fleet
        return {"hosts": [h.__dict__ for h in f.hosts], "vms": [v.__dict__ for v in f.vms]}

    async def ground_truth(self) -> dict[str, Any]:
        return self.sim.ground_truth()

    async def sim_time(self) -> float:
        return self.sim.now

    async def step(self, seconds: float) -> int:
        """Advance by simulated seconds at once (tests, backfill); returns samples stored."""
        return await self._ingest_ticks(self.sim.advance(seconds))

    async def _ingest_ticks(self, ticks: list) -> int:
        if not ticks:
            return 0
        batches = [t.metrics for t in ticks]
        events = [e for t in ticks for line in t.logs if (e := parse_line(line)) is not None]
        log_batch = events_to_batch(events)
        if len(log_batch):
            batches.append(log_batch)
        for t in ticks:
            self.recent_events.extend(t.events)
            self.stats_.events += len(t.events)
        self.stats_.messages += len(ticks)
        await self._send_security(lambda intake: intake.parse_ticks(ticks))
        totals = await self.router.ingest(batches)
        self.stats_.stored(totals["accepted"])
        return totals["accepted"]

    async def run(self) -> None:
        clock = RealTimeClock(self.sim.now, self.settings.simulator.speedup)
        while not self._stop.is_set():
            try:
                lag = clock.sim_now() - self.sim.now
                await self._ingest_ticks(self.sim.advance(min(lag, 600 * self.settings.simulator.interval_s)))
            except Exception as exc:  # a shard restarting: keep the loop alive, count it
                self.stats_.error(exc)
            if not await self._sleep(max(0.05, self.settings.simulator.interval_s / self.settings.simulator.speedup)):
                break


class NatsCollector(_Collector):
    """Durable pull consumer on the AIOPS stream; acks only what the shards stored."""

    kind = "nats"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None) -> None:
        super().__init__(name, settings, router)
        self._security_calls: set[asyncio.Task] = set()
        tune_gc()

    async def _connect(self) -> tuple[Any, Any]:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
        from nats.js.errors import NotFoundError

        cfg = self.settings.nats
        nc = await nats.connect(cfg.url, connect_timeout=5, max_reconnect_attempts=-1)
        js = nc.jetstream()
        try:
            info = await js.stream_info(cfg.stream)
            if set(info.config.subjects or ()) != set(cfg.subjects):
                await js.update_stream(StreamConfig(name=cfg.stream, subjects=list(cfg.subjects)))
        except NotFoundError:
            await js.add_stream(StreamConfig(name=cfg.stream, subjects=list(cfg.subjects)))
        await js.add_consumer(cfg.stream, ConsumerConfig(durable_name=cfg.durable, ack_policy=AckPolicy.EXPLICIT,
                                                         ack_wait=cfg.ack_wait_s, max_ack_pending=20_000))
        sub = await js.pull_subscribe_bind(durable=cfg.durable, stream=cfg.stream)
        return nc, sub

    async def run(self) -> None:
        cfg = self.settings.nats
        while not self._stop.is_set():
            try:
                nc, sub = await self._connect()
            except Exception as exc:
                self.stats_.error(f"connect: {exc}")
                if not await self._sleep(2.0):
                    return
                continue
            try:
                while not self._stop.is_set():
                    try:
                        msgs = await sub.fetch(cfg.fetch_batch, timeout=1.0)
                    except asyncio.TimeoutError:
                        continue
                    await self._handle(msgs)
            except Exception as exc:
                self.stats_.error(exc)
                await self._sleep(1.0)
            finally:
                if self._security_calls:  # let in-flight correlator calls ack before the connection closes;
                    # unacked ones are redelivered after ack_wait anyway, so do not wait forever
                    await asyncio.wait(self._security_calls, timeout=2 * cfg.ack_wait_s)
                await nc.close()

    async def _to_security(self, msgs: list[tuple[Any, str]]) -> None:
        """Parse a fetch's security messages here and hand them to the correlator in one call.

        At most ``SECURITY_INFLIGHT`` calls are outstanding, so the next fetch is parsed while the
        correlator works on this one. Messages are acked once the correlator took them, nak'ed
        (JetStream redelivers) when it could not; with no correlator running they are counted
        and acked.
        """
        self._load_matcher()
        stream = self.settings.nats.stream
        keyed: list[tuple[str, bool, list[Any]]] = []
        rejected: Counter = Counter()
        samples: list[Any] = []
        for m, fmt in msgs:
            redelivered = m.metadata.num_delivered > 1
            evs = self.intake.parse_payload(fmt, m.data)
            counts, smp = self.intake.rejections.take()
            if not redelivered:  # a message's bad records are counted on its first delivery only
                rejected.update(counts)
                samples.extend(smp)
            keyed.append((f"nats:{stream}:{m.metadata.sequence.stream}", redelivered, evs))
        if rejected:
            self.stats_.rejections["bad_security_record"] += sum(rejected.values())
        arrived_at = min((m.metadata.timestamp.timestamp() for m, _ in msgs if m.metadata.timestamp), default=time.time())
        actor = self._correlator()
        if actor is None:
            self.stats_.reject([Rejection(0, "no security correlator running")])
            await asyncio.gather(*(m.ack() for m, _ in msgs), return_exceptions=True)
            return
        while len(self._security_calls) >= SECURITY_INFLIGHT:
            await asyncio.wait(self._security_calls, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self._security_call(actor, keyed, rejected, samples, arrived_at, [m for m, _ in msgs]))
        self._security_calls.add(task)
        task.add_done_callback(self._security_calls.discard)

    async def _security_call(self, actor: Any, keyed: list[tuple[str, bool, list[Any]]], rejected: dict, samples: list,
                             arrived_at: float, msgs: list[Any]) -> None:
        try:
            call = asyncio.ensure_future(actor.ingest_events.remote([], rejected, samples, arrived_at, keyed))
            while not (await asyncio.wait({call}, timeout=self.settings.nats.ack_wait_s / 2))[0]:
                # a busy or restarting correlator: keep JetStream from redelivering meanwhile
                await asyncio.gather(*(m.in_progress() for m in msgs), return_exceptions=True)
            call.result()
        except Exception as exc:
            self._security = None  # look the actor up again (it may have been replaced)
            self.stats_.error(f"security: {exc}")
            await asyncio.gather(*(m.nak(delay=1.0) for m in msgs), return_exceptions=True)
            return
        self.stats_.events += sum(len(evs) for _, _, evs in keyed)
        await asyncio.gather(*(m.ack() for m in msgs), return_exceptions=True)

    async def _handle(self, msgs: list[Any]) -> None:
        batches: list[SampleBatch] = []
        owners: list[Any] = []  # messages whose data rides in `batches`
        terminal: list[Any] = []  # fully handled without storage (events, all-bad)
        security: list[tuple[Any, str]] = []  # (message, format) for the security correlator
        for msg in msgs:
            self.stats_.messages += 1
            seq = msg.metadata.sequence.stream
            kind, tail = self.settings.nats.kind_of(msg.subject)
            if kind == "metrics":
                batch, rejected, _ = decode_metrics(msg.data, self.settings.serve.max_records_per_request)
                self.stats_.reject(rejected)
                if len(batch):
                    batch.batch_id = f"nats:{seq}"
                    batches.append(batch)
                    owners.append(msg)
                else:
                    terminal.append(msg)
            elif kind == "logs":
                try:
                    events, ignored = decode_logs(msg.data, default_host=tail or None)
                except ValueError as exc:
                    self.stats_.reject([Rejection(0, str(exc))])
                    terminal.append(msg)
                    continue
                self.stats_.lines_ignored += ignored
                batch = events_to_batch(events)
                if len(batch):
                    batch.batch_id = f"nats:{seq}"
                    batches.append(batch)
                    owners.append(msg)
                else:
                    terminal.append(msg)
            elif kind == "events" and tail.startswith("security."):
                security.append((msg, tail.split(".", 1)[1]))
            else:
                good, rejected = decode_events(msg.data)
                self.stats_.reject(rejected)
                self.recent_events.extend(good)
                self.stats_.events += len(good)
                terminal.append(msg)
        if security:
            await self._to_security(security)
        if batches:
            try:
                totals = await self.router.ingest(batches)
            except Exception as exc:  # a shard died: do not ack, JetStream redelivers
                self.stats_.error(exc)
                await asyncio.gather(*(m.nak(delay=1.0) for m in owners), return_exceptions=True)
                owners = []
            else:
                self.stats_.stored(totals["accepted"])
        await asyncio.gather(*(m.ack() for m in owners + terminal))


class PrometheusCollector(_Collector):
    """Runs the configured PromQL instant queries on an interval."""

    kind = "prometheus"

    async def collect_once(self, client: httpx.AsyncClient) -> int:
        cfg = self.settings.prometheus
        records: list[dict] = []
        for q in cfg.queries:
            try:
                resp = await client.get(f"{cfg.url.rstrip('/')}/api/v1/query", params={"query": q.promql})
                body = resp.json()
            except Exception as exc:
                self.stats_.error(f"{q.metric}: {exc}")
                continue
            recs, bad = prometheus_vector_to_records(body, q.metric, q.target_label, q.target_template)
            self.stats_.reject(bad)
            records.extend(recs)
        self.stats_.messages += 1
        batch, rejected = records_to_batch(records)
        self.stats_.reject(rejected)
        if not len(batch):
            return 0
        for rec in records:
            batch.target_types.setdefault(rec["target_id"], "host")
        totals = await self.router.ingest([batch])
        self.stats_.stored(totals["accepted"])
        return totals["accepted"]

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    await self.collect_once(client)
                except Exception as exc:
                    self.stats_.error(exc)
                if not await self._sleep(self.settings.prometheus.interval_s):
                    return


class LogTailer(_Collector):
    """Follows log files across rotation (inode change or truncation) from their end."""

    kind = "logs"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None, from_start: bool = False) -> None:
        super().__init__(name, settings, router)
        self._pos: dict[Path, tuple[int, int]] = {}  # path -> (inode, offset)
        self._partial: dict[Path, str] = {}
        self._from_start = from_start

    def _read_new(self, path: Path) -> list[str]:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return []
        inode, offset = self._pos.get(path, (st.st_ino, 0 if self._from_start else st.st_size))
        if inode != st.st_ino or st.st_size < offset:  # rotated or truncated: start the new file
            inode, offset = st.st_ino, 0
            self._partial.pop(path, None)
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read(4 * 1024 * 1024)
        self._pos[path] = (inode, offset + len(chunk))
        text = self._partial.pop(path, "") + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        if lines and lines[-1]:
            self._partial[path] = lines[-1]
        return [l for l in lines[:-1] if l]

    async def poll_once(self) -> int:
        stored = 0
        for src in self.settings.logs:
            lines = self._read_new(src.path)
            if not lines:
                continue
            if src.security:  # a file marked `security: <format>` also feeds the correlator
                await self._send_security(lambda intake: intake.parse_payload(src.security, "\n".join(lines)), required=True)
            events = [e for e in (parse_line(l, default_host=src.target) for l in lines) if e is not None]
            self.stats_.messages += len(lines)
            self.stats_.lines_ignored += len(lines) - len(events)
            self.recent_events.extend({"ts": e.ts, "type": "log", "host": e.host, "kind": e.kind, **e.fields} for e in events)
            batch = events_to_batch(events)
            if len(batch):
                totals = await self.router.ingest([batch])
                self.stats_.stored(totals["accepted"])
                stored += totals["accepted"]
        return stored

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.poll_once()
            except Exception as exc:
                self.stats_.error(exc)
            if not await self._sleep(1.0):
                return


def start_collector(cls: type, settings: Settings, name: str) -> Any:
    """Create a named, restartable collector actor with a fractional CPU."""
    return ray.remote(cls).options(
        name=name, namespace=settings.ray.namespace, num_cpus=settings.ray.actor_num_cpus,
        max_restarts=-1, max_concurrency=64,
    ).remote(name, settings)
