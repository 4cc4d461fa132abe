"""Real clients for `aiops.alerting`: an httpx POST to Alertmanager's /api/v2/alerts and a JetStream
publisher (stream created with file storage, publish acked, reconnect on the next attempt after a
failure). The monitor and the correlator each build one `Alerter` here and run it on their own loop."""
from __future__ import annotations

import asyncio
from typing import Any

from aiops.alerting.alerter import Alerter
from aiops.alerting.delivery import AlertmanagerSink, Backoff, StreamSink
from aiops.settings import Settings

__all__ = ["build_alerter", "generator_base", "JetStreamPublisher"]


def generator_base(settings: Settings) -> str:
    """Base of generatorURL: the configured external URL, else this API's own address."""
    return settings.alerting.external_url or f"http://{settings.serve.host}:{settings.serve.port}"


def build_alerter(settings: Settings, source: str, interval_s: float, min_severity: str) -> Alerter:
    """The `source` alerter with the sinks `settings` configure (none: alerts are only tracked)."""
    cfg = settings.alerting
    hold = cfg.ends_after_intervals * interval_s
    am = stream = subject = None
    if cfg.alerts_endpoint:
        am = AlertmanagerSink(_alertmanager_post(cfg.alerts_endpoint, cfg.request_timeout_s),
                              Backoff(cfg.retry_initial_s, cfg.retry_max_s), cfg.max_pending, stale_s=hold)
    if settings.nats.url and cfg.stream:
        prefix = settings.nats.subject_prefix
        pub = JetStreamPublisher(settings.nats.url, cfg.stream, f"{prefix}.alerts.>", cfg.stream_max_age_s,
                                 cfg.request_timeout_s)
        stream, subject = StreamSink(pub.publish, Backoff(cfg.retry_initial_s, cfg.retry_max_s), cfg.max_pending), \
            f"{prefix}.alerts.{source}"
    return Alerter(source, hold, min_severity, am, stream, subject)


def _alertmanager_post(url: str, timeout_s: float) -> Any:
    client: Any = None

    async def post(alerts: list[dict[str, Any]]) -> None:
        nonlocal client
        import httpx

        if client is None:
            client = httpx.AsyncClient(timeout=timeout_s)
        r = await client.post(url, json=alerts)
        if r.status_code >= 400:
            raise RuntimeError(f"alertmanager answered {r.status_code}: {r.text[:200]}")
    return post


class JetStreamPublisher:
    """Publishes to a file-backed stream with acks; any failure drops the connection, the next call
    reconnects (and re-checks the stream), so a NATS restart costs a retry, not the alerts."""

    def __init__(self, url: str, stream: str, subjects: str, max_age_s: float, timeout_s: float) -> None:
        self.url, self.stream, self.subjects = url, stream, subjects
        self.max_age_s, self.timeout_s = max_age_s, timeout_s
        self._nc: Any = None
        self._js: Any = None

    async def _connect(self) -> Any:
        import nats
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        nc = await asyncio.wait_for(nats.connect(self.url, connect_timeout=self.timeout_s, allow_reconnect=False),
                                    self.timeout_s * 2)
        js = nc.jetstream(timeout=self.timeout_s)
        config = StreamConfig(name=self.stream, subjects=[self.subjects], storage=StorageType.FILE,
                              max_age=self.max_age_s)
        try:
            info = await js.stream_info(self.stream)
            if list(info.config.subjects or ()) != [self.subjects]:
                await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
        self._nc, self._js = nc, js
        return js

    async def publish(self, subject: str, data: bytes, msg_id: str) -> None:
        """Publish one event and wait for the stream's ack (raises otherwise)."""
        try:
            js = self._js if self._nc is not None and not self._nc.is_closed else await self._connect()
            await js.publish(subject, data, timeout=self.timeout_s, stream=self.stream,
                             headers={"Nats-Msg-Id": msg_id})
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            try:
                await nc.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
