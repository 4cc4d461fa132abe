"""The NATS JetStream collector: a durable pull consumer on the AIOPS stream.

It acknowledges a message only after every shard that received part of it has stored (and,
with Redis, persisted) it, and security messages only once the correlator took them.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from actors.collectors.base import Collector
from actors.process_tuning import tune_gc
from actors.router import ShardRouter
from aiops.settings import Settings
from aiops.telemetry.batch import Rejection, SampleBatch
from aiops.telemetry.bounds import TsBounds
from aiops.telemetry.logparse import events_to_batch
from aiops.telemetry.messages import decode_events, decode_logs, decode_metrics

__all__ = ["NatsCollector", "SECURITY_INFLIGHT"]

SECURITY_INFLIGHT = 2  # correlator calls a NATS collector keeps outstanding (parse the next while one runs)


class NatsCollector(Collector):
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

    def _decode_samples(self, kind: str, tail: str, data: bytes, bounds: TsBounds) -> SampleBatch | None:
        """The samples of a metrics or logs message (None when the whole message is unreadable); counts
        rejections, samples outside the timestamp window included."""
        if kind == "metrics":
            batch, rejected, _ = decode_metrics(data, self.settings.serve.max_records_per_request, bounds)
            self.stats_.reject(rejected)
            return batch
        try:
            parsed = decode_logs(data, default_host=tail or None, max_line_chars=self.settings.patterns.max_line_chars)
        except ValueError as exc:
            self.stats_.reject([Rejection(0, str(exc))])
            return None
        self.stats_.lines_ignored += parsed.ignored
        self.stats_.lines_truncated += parsed.truncated
        batch, outside = events_to_batch(parsed.events).within(bounds)
        self.stats_.reject(outside)
        return batch

    def _decode_one(self, kind: str, tail: str, data: bytes, bounds: TsBounds) -> SampleBatch | None:
        """`_decode_samples`, with any unexpected decoding failure a counted rejection: the message is
        then acked (terminated), never redelivered forever."""
        try:
            return self._decode_samples(kind, tail, data, bounds)
        except Exception as exc:  # a decoder bug must not poison the stream
            self.stats_.reject([Rejection(0, f"undecodable message: {type(exc).__name__}")])
            return None

    async def _handle(self, msgs: list[Any]) -> None:
        batches: list[SampleBatch] = []
        owners: list[Any] = []  # messages whose data rides in `batches`
        terminal: list[Any] = []  # fully handled without storage (events, all-bad)
        security: list[tuple[Any, str]] = []  # (message, format) for the security correlator
        bounds = self.settings.ingest.window()
        for msg in msgs:
            self.stats_.messages += 1
            kind, tail = self.settings.nats.kind_of(msg.subject)
            if kind in ("metrics", "logs"):
                batch = self._decode_one(kind, tail, msg.data, bounds)
                if batch is not None and len(batch):
                    batch.batch_id = f"nats:{msg.metadata.sequence.stream}"
                    batches.append(batch)
                    owners.append(msg)
                else:
                    terminal.append(msg)
            elif kind == "events" and tail.startswith("security."):
                security.append((msg, tail.split(".", 1)[1]))
            else:
                good, rejected = decode_events(msg.data, bounds)
                self.stats_.reject(rejected)
                self._keep_events(good)
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
