"""Each host's recent predicted risk, kept by the fleet monitor so an operator can see a trend, not one number.

Bounded per target (a ring of the last `max_points` rounds) and in memory only: after a monitor restart the
trend starts again, which is acceptable for a view (the predictions themselves are recomputed every round).
"""
from __future__ import annotations

from collections import deque
from typing import Mapping

__all__ = ["RiskHistory", "DEFAULT_RISK_POINTS"]

DEFAULT_RISK_POINTS = 360  # an hour of rounds at the default 10 s refresh


class RiskHistory:
    """(wall time, probability, model version) per target, the newest last."""

    def __init__(self, max_points: int = DEFAULT_RISK_POINTS, max_targets: int = 100_000) -> None:
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        self.max_points = max_points
        self.max_targets = max_targets
        self._series: dict[str, deque[tuple[float, float, str | None]]] = {}

    def record(self, ts: float, probabilities: Mapping[str, float], model_version: str | None) -> None:
        """Add one round; a target beyond `max_targets` new ones is not tracked (bounded memory)."""
        for target, p in probabilities.items():
            series = self._series.get(target)
            if series is None:
                if len(self._series) >= self.max_targets:
                    continue
                series = self._series[target] = deque(maxlen=self.max_points)
            series.append((float(ts), float(p), model_version))

    def points(self, target: str, limit: int | None = None) -> list[dict[str, float | str | None]] | None:
        """The target's points, oldest first (the last `limit`), or None for a target never predicted."""
        series = self._series.get(target)
        if series is None:
            return None
        rows = list(series)[-limit:] if limit else list(series)
        return [{"ts": ts, "probability": p, "model_version": v} for ts, p, v in rows]

    def __len__(self) -> int:
        return len(self._series)
