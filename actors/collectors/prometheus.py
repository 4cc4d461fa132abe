"""The Prometheus collector: runs the configured PromQL instant queries on an interval."""
from __future__ import annotations

import httpx

from actors.collectors.base import Collector
from aiops.telemetry.batch import records_to_batch
from aiops.telemetry.messages import prometheus_vector_to_records

__all__ = ["PrometheusCollector"]


class PrometheusCollector(Collector):
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
        batch, rejected = records_to_batch(records, bounds=self.settings.ingest.window())
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
