"""Input bounds shared by every intake path: JSON nesting depth and the timestamp skew window.

Both checks run before any record is looked at, so a hostile payload costs a linear scan and
a counted rejection, never a RecursionError, a stalled collector or a pinned clock.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import numpy as np

__all__ = ["IngestSettings", "TsBounds", "MAX_JSON_DEPTH", "json_too_deep"]

MAX_JSON_DEPTH = 32
_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # one escape pair: linear, no backtracking
_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)  # deleted by bytes.translate (C speed)
_STEP_TABLE = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_STEP: "np.ndarray | None" = None  # depth change per byte, built on first use


class IngestSettings(BaseModel):
    """How far a record's timestamp may stray from the receiver's clock (null: unbounded on that side).

    A sample from the future would pin its series' clock (features stop moving); one from long ago
    would land in windows already served. Backfill and replays raise or clear `max_age_s`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_future_s: float | None = Field(300.0, ge=0, description="newest accepted ts: now + this")
    max_age_s: float | None = Field(7 * 86400.0, ge=0, description="oldest accepted ts: now - this; null for replays")
    max_json_depth: int = Field(MAX_JSON_DEPTH, ge=2, le=512, description="deepest accepted JSON nesting")

    def window(self, now: float | None = None) -> "TsBounds":
        now = time.time() if now is None else now
        lo = -math.inf if self.max_age_s is None else now - self.max_age_s
        hi = math.inf if self.max_future_s is None else now + self.max_future_s
        return TsBounds(lo, hi)


@dataclass(frozen=True)
class TsBounds:
    """The accepted timestamp range of one intake call, computed once per payload."""

    lo: float
    hi: float

    def reason(self, ts: float) -> str | None:
        """Why `ts` is outside the window (a reason starting 'ts ' so it counts as bad_timestamp)."""
        if ts > self.hi:
            return f"ts too far in the future ({ts - self.hi:.0f} s beyond the allowed skew)"
        if ts < self.lo:
            return f"ts too old ({self.lo - ts:.0f} s before the oldest accepted time)"
        return None

    def mask(self, ts: "np.ndarray") -> "np.ndarray":
        """Vectorised form for columnar producers: true where a timestamp is inside the window."""
        return (ts >= self.lo) & (ts <= self.hi)


def json_too_deep(raw: bytes | bytearray | str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when `raw` nests arrays/objects deeper than `max_depth` (brackets inside strings ignored).

    Linear and vectorised, so it can run on every body before the recursive decoder sees it.
    Malformed JSON is left to the decoder; this only guards against recursion.
    """
    import numpy as np  # here, so that settings (which compose IngestSettings) stay light to import

    global _STEP
    if _STEP is None:
        _STEP = np.array([_STEP_TABLE.get(b, 0) for b in range(256)], np.int32)

    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)  # escaped quotes and backslashes cannot toggle strings then
    arr = np.frombuffer(data.translate(None, _NOT_STRUCTURE), np.uint8)  # only quotes and brackets remain
    outside = 1 - (np.cumsum(arr == ord('"'), dtype=np.int32) & 1)  # 0 inside a string (its quotes count as in)
    step = np.take(_STEP, arr) * outside
    return int(np.cumsum(step, dtype=np.int32).max(initial=0)) > max_depth
