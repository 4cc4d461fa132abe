"""A terminal progress bar over a job's phases, driven by the job's own log lines.

The training pipeline reports progress through its `log` callback; wrapping that callback moves a tqdm bar
one phase on when a line opens the next phase, and prints every line above the bar. Ray Tune's own reporter
(trials, their metrics) still prints during the search and shows in the dashboard. In a Ray job the bar
goes to the job's log, like everything else the driver prints.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence

__all__ = ["PhaseProgress", "TRAIN_PHASES"]

# (the log line's start that ends a phase, the next phase's label) in the order the pipeline logs them
TRAIN_PHASES: tuple[tuple[str, str], ...] = (
    ("dataset:", "search (Ray Tune)"),
    ("best trial", "episode validation"),
    ("held-out episodes", "final fit + survival"),
    ("time to failure", "register"),
    ("registered", "promotion decision"),
    ("PROMOTED", "done"),
    ("not promoted", "done"),
)


class PhaseProgress:
    """tqdm bar over `phases`; `wrap(log)` returns a log that advances it (never backwards, never twice)."""

    def __init__(self, phases: Sequence[tuple[str, str]] = TRAIN_PHASES, first: str = "load data",
                 disable: bool = False) -> None:
        from tqdm import tqdm

        self.phases = list(phases)
        self._labels = [label for _, label in self.phases]
        self.total = len(dict.fromkeys(self._labels))  # distinct phases after the first
        self.bar = tqdm(total=self.total, desc=first, unit="phase", file=sys.stderr, disable=disable,
                        bar_format="{desc:<24} {bar} {n_fmt}/{total_fmt} phases [{elapsed}]")
        self.done: set[str] = set()

    def advance(self, line: str) -> None:
        """Move on when `line` opens a phase not reached yet."""
        for marker, label in self.phases:
            if line.startswith(marker) and label not in self.done:
                self.done.add(label)
                self.bar.set_description_str(label)
                self.bar.update(1)
                return

    def wrap(self, log: Callable[[str], None]) -> Callable[[str], None]:
        def wrapped(msg: str) -> None:
            self.bar.clear()
            log(msg)
            self.advance(msg)
            self.bar.refresh()
        return wrapped

    def close(self) -> None:
        self.bar.close()
