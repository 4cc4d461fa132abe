"""A growable ring buffer of (timestamp, value) points for one series.

12 bytes per point (float64 time, float32 value). Capacity grows by half again up to
the retention limit (at most a third of a buffer is slack), then the oldest points
are overwritten, so memory tracks what is actually stored instead of the worst case.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SeriesBuffer"]

_INITIAL = 16


class SeriesBuffer:
    __slots__ = ("_ts", "_val", "_head", "_size", "_limit", "_sorted")

    def __init__(self, limit: int) -> None:
        self._ts = np.empty(min(_INITIAL, limit), np.float64)
        self._val = np.empty(min(_INITIAL, limit), np.float32)
        self._head = 0  # index of the oldest point
        self._size = 0
        self._limit = limit
        self._sorted = True

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return self._ts.nbytes + self._val.nbytes

    @property
    def first_ts(self) -> float:
        """Timestamp of the oldest point held (inf when empty)."""
        return float(self._ts[self._head]) if self._size else float("inf")

    @property
    def last_ts(self) -> float:
        if not self._size:
            return float("-inf")
        cap = self._ts.shape[0]
        return float(self._ts[(self._head + self._size - 1) % cap])

    def _grow(self, need: int) -> None:
        cap = self._ts.shape[0]
        new_cap = cap
        while new_cap < need and new_cap < self._limit:
            new_cap = min(max(new_cap + new_cap // 2, new_cap + 8), self._limit)
        if new_cap == cap:
            return
        ts, val = self.arrays()
        self._ts = np.empty(new_cap, np.float64)
        self._val = np.empty(new_cap, np.float32)
        self._ts[: self._size] = ts
        self._val[: self._size] = val
        self._head = 0

    def append(self, ts: np.ndarray, val: np.ndarray) -> None:
        """Append points (oldest first); beyond the limit the oldest are dropped."""
        n = ts.shape[0]
        if n == 0:
            return
        if self._sorted and (ts[0] < self.last_ts or (n > 1 and np.any(ts[1:] < ts[:-1]))):
            self._sorted = False
        if n >= self._limit:
            ts, val, n = ts[-self._limit :], val[-self._limit :], self._limit
        if self._size + n > self._ts.shape[0]:
            self._grow(self._size + n)
        cap = self._ts.shape[0]
        tail = (self._head + self._size) % cap
        first = min(n, cap - tail)
        self._ts[tail : tail + first] = ts[:first]
        self._val[tail : tail + first] = val[:first]
        if first < n:
            self._ts[: n - first] = ts[first:]
            self._val[: n - first] = val[first:]
        overflow = max(0, self._size + n - cap)
        self._head = (self._head + overflow) % cap
        self._size = min(cap, self._size + n)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All stored points in time order (copies)."""
        cap = self._ts.shape[0]
        end = self._head + self._size
        if end <= cap:
            ts, val = self._ts[self._head : end].copy(), self._val[self._head : end].copy()
        else:
            ts = np.concatenate((self._ts[self._head :], self._ts[: end - cap]))
            val = np.concatenate((self._val[self._head :], self._val[: end - cap]))
        if not self._sorted:
            order = np.argsort(ts, kind="stable")
            ts, val = ts[order], val[order]
        return ts, val

    def window(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Points with start < ts <= end."""
        ts, val = self.arrays()
        lo = int(np.searchsorted(ts, start, side="right"))
        hi = int(np.searchsorted(ts, end, side="right"))
        return ts[lo:hi], val[lo:hi]
