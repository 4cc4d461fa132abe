"""The phase progress bar advances on the pipeline's log lines, once per phase, and passes every line on."""
from __future__ import annotations

from jobs.progress import PhaseProgress


def test_bar_advances_per_phase_and_forwards_lines() -> None:
    seen: list[str] = []
    p = PhaseProgress(disable=True)
    log = p.wrap(seen.append)
    for line in ["dataset: 10 rows", "trial noise", "best trial: {...}", "best trial again", "held-out episodes: x",
                 "time to failure (AFT)", "registered fleet-failure v0001", "not promoted: acceptance failed"]:
        log(line)
    assert len(seen) == 8 and len(p.done) == p.total == 6
    p.close()
