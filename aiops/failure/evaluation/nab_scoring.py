"""NAB scoring, reimplemented from NAB v1.x (`nab/sweeper.py`, `nab/optimizer.py`, `nab/runner.py`).

Why a reimplementation: NAB itself is Python-2-era code driven by a results folder;
we need the same numbers from in-memory arrays, vectorised so that sweeping every
threshold over the 365k-row corpus takes well under a second. The rules are NAB's:

* rows before the probationary period (:func:`probation_length`) are ignored;
* a row ``i`` inside window ``[a, b]`` (width ``w``) is worth
  ``S(-(b - i + 1) / w) * tpWeight / S(-1)`` if detected, where ``S`` is the scaled
  sigmoid ``2 / (1 + exp(5 x)) - 1`` (``-1`` beyond ``x > 3``); only the best (i.e. the
  earliest) detection counts per window, an undetected window costs ``-fnWeight``;
* a detected row outside every window costs ``S(|b_prev - i| / (w_prev - 1)) * fpWeight``
  relative to the closest preceding window, or ``-fpWeight`` if there is none —
  so false alarms right after a window are nearly free;
* a row is a detection when ``anomaly_score >= threshold``; NAB's optimiser picks the
  ONE threshold that maximises the summed raw score over the whole corpus;
* normalised score = ``100 * (raw - null) / (perfect - null)`` with null = no detection
  (``-fnWeight`` per window) and perfect = ``tpWeight`` per window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aiops.failure.evaluation.nab_corpus import CostMatrix, NabFile, probation_length

OUTSIDE = -1


def scaled_sigmoid(x: np.ndarray | float) -> np.ndarray:
    """NAB's scaled sigmoid: 0.9866 at the window's left edge (-1), 0 at its right edge, -1 far after."""
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, val)


MAX_TP = float(scaled_sigmoid(-1.0))


@dataclass(frozen=True)
class FileSweep:
    """Per-row NAB weights of one file, restricted to scorable (post-probation) rows."""

    key: str
    n_rows: int
    rows: np.ndarray  # row indices that are scored
    weight: np.ndarray  # NAB "sweepScore" of each scored row if it were detected
    window: np.ndarray  # window index within the file, or OUTSIDE
    n_windows_scored: int  # windows with at least one scorable row


def sweep_weights(n_rows: int, windows: list[tuple[int, int]], cost: CostMatrix, key: str = "") -> FileSweep:
    """Compute NAB's per-row weight for every scorable row of one file (``Sweeper.calcSweepScore``)."""
    idx = np.arange(n_rows)
    weight = np.empty(n_rows)
    win = np.full(n_rows, OUTSIDE, dtype=np.int64)
    prev_end = np.full(n_rows, -1, dtype=np.int64)
    prev_width = np.zeros(n_rows)
    for k, (a, b) in enumerate(windows):
        width = float(b - a + 1)
        inside = idx[a : b + 1]
        weight[a : b + 1] = scaled_sigmoid(-(b - inside + 1) / width) * cost.tp / MAX_TP
        win[a : b + 1] = k
        prev_end[b + 1 :] = b
        prev_width[b + 1 :] = width
    out = win == OUTSIDE
    no_prev = out & (prev_end < 0)
    weight[no_prev] = -1.0 * cost.fp
    has_prev = out & (prev_end >= 0)
    denom = prev_width[has_prev] - 1.0
    with np.errstate(divide="ignore"):
        # NAB divides by zero for one-row windows; the limit (+inf) gives the -1 branch.
        pos = np.where(denom > 0, np.abs(prev_end[has_prev] - idx[has_prev]) / np.where(denom > 0, denom, 1.0), np.inf)
    weight[has_prev] = scaled_sigmoid(pos) * cost.fp
    p = probation_length(n_rows)
    rows = idx[p:]
    scored_windows = np.unique(win[p:][win[p:] != OUTSIDE])
    return FileSweep(key=key, n_rows=n_rows, rows=rows, weight=weight[p:], window=win[p:], n_windows_scored=len(scored_windows))


@dataclass(frozen=True)
class ThresholdSweep:
    """Corpus score at every distinct threshold, highest threshold first (NAB's ``scoresByThreshold``)."""

    threshold: np.ndarray
    score: np.ndarray
    tp: np.ndarray
    tn: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    def best(self) -> tuple[float, float]:
        """(threshold, raw score) maximising the score; ties go to the highest threshold like NAB."""
        i = int(np.argmax(self.score))
        return float(self.threshold[i]), float(self.score[i])


def _stack(sweeps: list[FileSweep], scores: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Concatenate scorable rows of all files; window ids are made unique across files."""
    s_parts, w_parts, g_parts = [], [], []
    offset = 0
    n_win = 0
    for sw in sweeps:
        s = np.asarray(scores[sw.key], dtype=float)
        if s.shape[0] != sw.n_rows:
            raise ValueError(f"{sw.key}: {s.shape[0]} scores for a file of another length")
        s = s[sw.rows]
        if np.isnan(s).any():
            raise ValueError(f"{sw.key}: NaN anomaly scores")
        inside = sw.window != OUTSIDE
        s_parts.append(s)
        w_parts.append(sw.weight)
        g_parts.append(np.where(inside, sw.window + offset, OUTSIDE))
        offset += int(sw.window[inside].max()) + 1 if inside.any() else 0
        n_win += sw.n_windows_scored
    return np.concatenate(s_parts), np.concatenate(w_parts), np.concatenate(g_parts), n_win


def sweep_thresholds(sweeps: list[FileSweep], scores: dict[str, np.ndarray], cost: CostMatrix) -> ThresholdSweep:
    """Score the whole corpus at every distinct anomaly score (``Sweeper.calcScoreByThreshold``).

    Vectorised: rows are sorted by score (descending); a window's value only changes
    when a newly included row is earlier in it than any included before, so the
    per-window contribution is a grouped running maximum of the row weights.
    """
    s, w, g, n_win = _stack(sweeps, scores)
    order = np.argsort(-s, kind="stable")
    s, w, g = s[order], w[order], g[order]
    inside = g != OUTSIDE
    contrib = np.where(inside, 0.0, w)
    if inside.any():
        gi = pd.Series(w[inside])
        best = gi.groupby(g[inside]).cummax().to_numpy()
        prev = pd.Series(best).groupby(g[inside]).shift(1).fillna(-cost.fn).to_numpy()
        contrib[inside] = best - prev
    base = -cost.fn * n_win
    total = base + np.cumsum(contrib)
    tp = np.cumsum(inside)
    fp = np.cumsum(~inside)
    last_of_tie = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, dtype=bool)
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    thr = np.r_[1.1, s[last_of_tie]]
    tp_t = np.r_[0, tp[last_of_tie]]
    fp_t = np.r_[0, fp[last_of_tie]]
    return ThresholdSweep(
        threshold=thr,
        score=np.r_[base, total[last_of_tie]],
        tp=tp_t,
        fp=fp_t,
        tn=n_out - fp_t,
        fn=n_in - tp_t,
    )


@dataclass(frozen=True)
class FileScore:
    """NAB's per-file result row (``<det>_<profile>_scores.csv``)."""

    key: str
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total: int
    windows_hit: int = 0
    windows_scored: int = 0


def score_file(sw: FileSweep, anomaly_score: np.ndarray, threshold: float, cost: CostMatrix) -> FileScore:
    """Raw NAB score of one file at a fixed threshold (detection = score >= threshold)."""
    s = np.asarray(anomaly_score, dtype=float)[sw.rows]
    det = s >= threshold
    inside = sw.window != OUTSIDE
    fp_score = float(sw.weight[det & ~inside].sum())
    win_score = 0.0
    n_hit = 0
    scored_windows = np.unique(sw.window[inside])
    for k in scored_windows:
        hit = det & (sw.window == k)
        # Row weights decrease through a window, so the first detection is the best one.
        win_score += float(sw.weight[hit][0]) if hit.any() else -cost.fn
        n_hit += int(hit.any())
    tp = int((det & inside).sum())
    fp = int((det & ~inside).sum())
    return FileScore(
        key=sw.key,
        threshold=threshold,
        score=win_score + fp_score,
        tp=tp,
        tn=int((~inside).sum()) - fp,
        fp=fp,
        fn=int(inside.sum()) - tp,
        total=sw.n_rows,
        windows_hit=n_hit,
        windows_scored=len(scored_windows),
    )


def normalise(raw: float, n_windows: int, cost: CostMatrix, n_windows_scored: int | None = None) -> float:
    """NAB's normalised score: 0 = null detector (no detections), 100 = perfect detector.

    ``n_windows`` are all labelled windows (NAB counts the label file for "perfect");
    the null baseline only loses the windows that have scorable rows.
    """
    null = -cost.fn * (n_windows if n_windows_scored is None else n_windows_scored)
    perfect = cost.tp * n_windows
    if perfect == null:
        return float("nan")
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class CorpusResult:
    """One detector under one profile: the corpus threshold and per-file scores at it."""

    profile: str
    threshold: float
    raw: float
    normalised: float
    files: list[FileScore]


def score_corpus(
    files: list[NabFile], scores: dict[str, np.ndarray], profile: str, cost: CostMatrix, threshold: float | None = None
) -> CorpusResult:
    """Optimise ONE threshold for the corpus (unless given) and score every file at it."""
    sweeps = [sweep_weights(len(f), f.windows, cost, f.key) for f in files]
    if threshold is None:
        threshold, _ = sweep_thresholds(sweeps, scores, cost).best()
    per_file = [score_file(sw, scores[f.key], threshold, cost) for sw, f in zip(sweeps, files)]
    raw = float(sum(r.score for r in per_file))
    n_windows = sum(len(f.windows) for f in files)
    n_scored = sum(sw.n_windows_scored for sw in sweeps)
    return CorpusResult(profile, float(threshold), raw, normalise(raw, n_windows, cost, n_scored), per_file)


def category_scores(files: list[NabFile], result: CorpusResult, cost: CostMatrix) -> dict[str, dict[str, float]]:
    """Per-category raw and normalised scores at the corpus threshold.

    Categories without windows (artificialNoAnomaly) have no normalised score; their
    raw score (false-positive cost only) is reported instead.
    """
    by_key = {r.key: r for r in result.files}
    out: dict[str, dict[str, float]] = {}
    for cat in sorted({f.category for f in files}):
        fs = [f for f in files if f.category == cat]
        raw = sum(by_key[f.key].score for f in fs)
        n_win = sum(len(f.windows) for f in fs)
        out[cat] = {
            "raw": raw,
            "windows": n_win,
            "normalised": normalise(raw, n_win, cost) if n_win else float("nan"),
            "fp": sum(by_key[f.key].fp for f in fs),
        }
    return out


def published_category_scores(per_file: pd.DataFrame, files: list[NabFile], cost: CostMatrix) -> dict[str, float]:
    """Normalised per-category scores of a published detector from its per-file raw scores."""
    n_win = {}
    for f in files:
        n_win[f.category] = n_win.get(f.category, 0) + len(f.windows)
    cat = per_file["File"].str.split("/").str[0]
    out = {}
    for c, raw in per_file.groupby(cat)["Score"].sum().items():
        out[str(c)] = normalise(float(raw), n_win.get(str(c), 0), cost) if n_win.get(str(c), 0) else float("nan")
    return out
