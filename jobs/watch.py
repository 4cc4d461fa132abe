"""Print a running engine's notable things as they happen: model served or promoted, host at risk (with an
evacuation plan asked for it), incident opened with its steps, plan applied (an operator's approval or
``placement.auto_evacuate``). `aiops up` runs this in a thread; on its own:

    python -m jobs.watch [--url http://127.0.0.1:8000] [--every 5]

It is a client of the API like any other (the all-roles token of aiops.auth); what is notable and what
was already said is `aiops.alerting.notable`'s policy.
"""
from __future__ import annotations

import argparse
import logging
import threading
import time
from typing import Any, Callable

import httpx

from aiops.alerting.notable import APPLIED_STATUSES, NotablePolicy
from aiops.auth import api_headers
from aiops.settings import Settings, load_settings
from aiops.telemetry.demo import describe, plan_demo

__all__ = ["Watcher", "watch_up", "main"]

HOSTS_REFRESH_S = 60.0


class Watcher:
    """Polls the API every ``every_s`` wall seconds and prints one line per notable thing."""

    def __init__(self, base_url: str, headers: dict[str, str], every_s: float = 5.0,
                 out: Callable[[str], None] = lambda line: print(line, flush=True), t0: float | None = None) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would drown the notable ones
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=30.0)
        self.policy = NotablePolicy()
        self.every_s = every_s
        self.out = out
        self.t0 = time.monotonic() if t0 is None else t0
        self._hosts: list[str] = []
        self._hosts_at = -HOSTS_REFRESH_S
        self._denied = False

    def say(self, line: str) -> None:
        s = int(time.monotonic() - self.t0)
        self.out(f"[{s // 60:02d}:{s % 60:02d}] {line}")

    def _get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params or None)
        if r.status_code in (401, 403) and not self._denied:
            self._denied = True
            self.say(f"watcher: the API refused the token ({r.status_code}); set AIOPS_API_TOKEN to one with every role")
        return r.json() if r.status_code == 200 else None

    def poll_once(self) -> None:
        """One round: model, hosts, incidents, applied plans (each step skipped quietly while its engine is not
        answering)."""
        for step in (self._model, self._hosts_round, self._incidents, self._plans_applied):
            try:
                step()
            except (httpx.HTTPError, ValueError, KeyError):
                continue  # starting, restarting or busy: the next round asks again

    def _model(self) -> None:
        if (line := self.policy.model(self._get("/api/ai/models/failure-prediction"))) is not None:
            self.say(line)

    def _hosts_round(self) -> None:
        if time.monotonic() - self._hosts_at > HOSTS_REFRESH_S or not self._hosts:
            got = self._get("/api/ai/targets", type="host") or {}
            self._hosts = [t["target_id"] for t in got.get("targets", [])]
            self._hosts_at = time.monotonic()
        if not self._hosts:
            return
        r = self.client.post("/api/ai/predictions/failures/batch",
                             json={"target_ids": self._hosts, "include_recommendations": False})
        if r.status_code != 200:
            return
        for risk in self.policy.hosts_at_risk(r.json()["predictions"]):
            plan = self.client.post("/api/ai/placement/evacuations", json={"host_ids": [risk.host_id]})
            body = plan.json() if plan.headers.get("content-type", "").startswith("application/json") else {}
            if plan.status_code == 200:
                self.say(self.policy.host_line(risk, body))
            else:
                self.say(self.policy.host_line(risk, None, f"{plan.status_code}: {body.get('message', plan.text[:120])}"))

    def _incidents(self) -> None:
        got = self._get("/api/ai/security/anomalies", kind="incident", status="open", limit=200) or {}
        records = {r["id"]: r for r in got.get("anomalies", [])}
        for iid in self.policy.incidents_to_tell(records.values()):
            report = self._get(f"/api/ai/security/incidents/{iid}")
            if (inc := self.policy.incident(records[iid], report)) is not None:
                self.say(self.policy.incident_line(inc))

    def _plans_applied(self) -> None:
        summaries: list[dict[str, Any]] = []
        for status in APPLIED_STATUSES:
            got = self._get("/api/ai/placement/plans", status=status, limit=200)
            if got is None:
                return  # a partial first listing would forget plans that a later round then replays
            summaries += got.get("plans", [])
        for summary in self.policy.plans_to_tell(summaries):
            plan = self._get(f"/api/ai/placement/plans/{summary['plan_id']}")  # None (evicted): the summary says it
            if (line := self.policy.plan_applied(summary, plan)) is not None:
                self.say(line)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            self.poll_once()
        self.client.close()

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run in a daemon thread until ``stop`` is set."""
        th = threading.Thread(target=self.run, args=(stop,), name="aiops-watch", daemon=True)
        th.start()
        return th


def watch_up(settings: Settings, url: str, t0: float) -> threading.Event:
    """What `aiops up` does once serving: announce the demo schedule (simulator.demo) and start watching.
    Set the returned event to stop the watcher."""
    sim = settings.simulator
    if sim.enabled and (demo := plan_demo(sim)) is not None:
        print(describe(demo, sim.speedup), flush=True)
    stop = threading.Event()
    Watcher(url, api_headers(settings.api), t0=t0).start(stop)
    return stop


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="settings YAML (default configs/aiops.yaml): where the token is")
    ap.add_argument("--url", help="API base URL (default: serve.host and serve.port of the settings)")
    ap.add_argument("--every", type=float, default=5.0, help="wall seconds between polls")
    args = ap.parse_args(argv)
    settings = load_settings(args.config)
    url = args.url or f"http://{settings.serve.host}:{settings.serve.port}"
    stop = threading.Event()
    try:
        Watcher(url, api_headers(settings.api), args.every).run(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
