"""Browser plumbing for the console tests: Debian's Chromium driven by Playwright, every console error and
failed request collected, screenshots and the browser's own timings saved as artifacts."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from aiops.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("AIOPS_ARTIFACTS") or PROJECT_ROOT / "results") / "console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

__all__ = ["CHROMIUM", "ARTIFACTS", "DESKTOP", "PHONE", "ConsolePage", "browser", "timings"]


@dataclass
class ConsolePage:
    """One tab on the console with what went wrong in it: console errors, page errors, failed requests."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)
    expect_failures: bool = False  # a test that cuts the API off on purpose
    inflight: set[Any] = field(default_factory=set)
    cut_by_reload: set[Any] = field(default_factory=set)  # polls in flight when the test reloaded: aborted by it

    reloading: bool = False

    def _started(self, r: Any) -> None:
        (self.cut_by_reload if self.reloading else self.inflight).add(r)

    def _failed(self, r: Any) -> None:
        self.inflight.discard(r)
        if self.expect_failures or (r in self.cut_by_reload and "ERR_ABORTED" in str(r.failure)):
            return
        self.problems.append(f"request failed: {r.method} {r.url} {r.failure} (page {self.page.url})")

    def watch(self) -> "ConsolePage":
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", self._started)
        self.page.on("requestfinished", lambda r: self.inflight.discard(r))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.request.method} {r.url}"))
        return self

    def open(self, hash_: str = "") -> None:
        self.page.goto(f"{self.base}/console/{hash_}")

    def login(self, token: str, hash_: str = "#/fleet") -> None:
        """Log in through the form (the token goes to sessionStorage, never the URL) and wait for the page."""
        if not self.page.url.startswith(f"{self.base}/console/"):
            self.open(hash_)
        self.page.fill("#token", token)
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_selector("body[data-state='app']")
        assert token not in self.page.url
        self.go(hash_)

    def go(self, hash_: str, timeout_ms: float = 60_000) -> None:
        """Navigate inside the app and wait until the page has drawn its data."""
        if self.page.evaluate("location.hash") != hash_:
            self.page.evaluate(f"location.hash = {json.dumps(hash_)}")
        self.page.wait_for_selector(f"body[data-ready={json.dumps(hash_)}]", timeout=timeout_ms)

    def reload(self) -> None:
        """A fresh load of the same page (the token stays in this tab's session storage): what first paint means."""
        hash_ = self.page.evaluate("location.hash")
        self.cut_by_reload |= self.inflight
        self.reloading = True  # a poll the old page starts before it unloads is cut too
        try:
            self.page.reload()
        finally:
            self.reloading = False
        self.page.wait_for_selector(f"body[data-ready={json.dumps(hash_)}]", timeout=60_000)

    def shot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def measures(self) -> dict[str, list[float]]:
        """The browser's performance measures (route:*, interaction:*, first-ready), in milliseconds."""
        rows = self.page.evaluate("performance.getEntriesByType('measure').map(m => [m.name, m.duration])")
        out: dict[str, list[float]] = {}
        for name, ms in rows:
            out.setdefault(name, []).append(round(ms, 1))
        return out

    def paint(self) -> dict[str, float]:
        """Navigation Timing and Paint Timing of the current document, in ms since navigation start."""
        return self.page.evaluate("""() => {
            const n = performance.getEntriesByType('navigation')[0];
            const p = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
            return {response_end: n.responseEnd, dom_content_loaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                    first_paint: p['first-paint'], first_contentful_paint: p['first-contentful-paint']};
        }""")

    def assert_clean(self) -> None:
        assert not self.problems, "console errors or failed requests:\n" + "\n".join(self.problems[:30])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (installed by scripts/services.sh); Playwright never downloads a browser here.
    Module scope: Playwright's sync API keeps an event loop running in the main thread while it is open, which
    would make every later test's asyncio.run() fail in a whole-suite run."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} is required for the console tests (run scripts/services.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()


@pytest.fixture(scope="module")
def timings() -> Iterator[dict[str, Any]]:
    """What the tests measured, written to results/console/timings.json at the end (docs/BENCHMARKS.md)."""
    found: dict[str, Any] = {}
    yield found
    if found:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "timings.json").write_text(json.dumps(found, indent=2, sort_keys=True))
