"""Episode-level evaluation of failure alerts: what an operator sees, not row-level scores.

Row-level precision counts every 10-minute step of one long alert separately and rewards
flicker; operators see *alerts*. An alert episode opens when a target's probability crosses
the threshold and stays open while it stays above, bridging dips shorter than a cool-down;
a gap in the target's rows (it went down) closes it, and a target that just came back gets a
short grace period before it can alert (its windows are still filling).

* A scenario is detected when an episode on its target starts in [failure_ts - H, failure_ts - L]
  (L = ``min_lead_s``, the least warning that still lets an operator act; 0 = any time before the
  failure); its lead time is failure_ts minus the first start at or after failure_ts - H.
* An episode is a true alert when a failure of that target follows its start within H
  (start <= failure_ts <= start + H); otherwise it is a false alarm.

Per scenario kind: recall and median lead time. A false alarm names no kind, so precision
is given per target level: host alerts for the host-level kinds (hardware), VM alerts for
``memory_leak_oom``, and over all alerts.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Episode:
    target_id: str
    start_ts: float
    end_ts: float  # last step above the threshold
    peak: float
    steps_above: int


def alert_episodes(ts: np.ndarray, targets: np.ndarray, probs: np.ndarray, threshold: float,
                   step_s: float, cooldown_s: float = 1800.0, resume_grace_s: float = 0.0) -> list[Episode]:
    """Episodes from per-(target, step) probabilities; rows may come in any order.

    A row is "above" when its probability is >= ``threshold``. A dip below lasting at most
    ``cooldown_s`` (the time from the last above step to the next, minus one step) keeps the
    episode open; a missing row (more than 1.5 steps since the previous row of the target)
    ends it, because the target stopped reporting. For ``resume_grace_s`` after a target starts
    (or resumes) reporting no alert opens: its windows are still partly empty and slopes over a
    handful of fresh points are noise. Vectorised: one sort, no per-row loop.
    """
    ts = np.asarray(ts, dtype=np.float64)
    targets = np.asarray(targets)
    probs = np.asarray(probs, dtype=np.float64)
    if ts.size == 0:
        return []
    codes, uniq = pd.factorize(targets)
    order = np.lexsort((ts, codes))
    c, t, p = codes[order], ts[order], probs[order]
    new_seg = np.ones(t.size, dtype=bool)
    new_seg[1:] = (c[1:] != c[:-1]) | (t[1:] - t[:-1] > 1.5 * step_s)
    seg = np.cumsum(new_seg)
    seg_start = t[np.flatnonzero(new_seg)][seg - 1]
    above = np.flatnonzero((p >= threshold) & (t - seg_start >= resume_grace_s))
    if above.size == 0:
        return []
    sa, ta = seg[above], t[above]
    new_ep = np.ones(above.size, dtype=bool)
    new_ep[1:] = (sa[1:] != sa[:-1]) | (ta[1:] - ta[:-1] - step_s > cooldown_s)
    first = np.flatnonzero(new_ep)
    last = np.append(first[1:], above.size) - 1
    peak = np.maximum.reduceat(p[above], first)
    out = [Episode(str(uniq[c[above[f]]]), float(ta[f]), float(ta[l]), float(pk), int(l - f + 1))
           for f, l, pk in zip(first, last, peak)]
    out.sort(key=lambda e: (e.start_ts, e.target_id))
    return out


@dataclass
class EpisodeScore:
    """Outcome of matching episodes to scenarios."""

    scenarios: pd.DataFrame  # one row per evaluated scenario: detected, lead_s
    episodes: pd.DataFrame  # one row per episode: true_alert, matched kind, level

    def summary(self, kinds: Sequence[str] | None = None, hardware: Sequence[str] = ()) -> dict[str, dict]:
        """Per kind, for the hardware group and overall: recall, precision, median lead (minutes)."""
        sc, ep = self.scenarios, self.episodes
        out: dict[str, dict] = {}
        kinds = list(kinds) if kinds is not None else sorted(sc["kind"].unique())

        def block(mask_sc: np.ndarray, mask_ep: np.ndarray) -> dict:
            s = sc[mask_sc]
            e = ep[mask_ep]
            det = s[s["detected"]]
            n_true = int(e["true_alert"].sum()) if len(e) else 0
            return {"scenarios": int(len(s)), "detected": int(len(det)),
                    "recall": float(len(det) / len(s)) if len(s) else float("nan"),
                    "episodes": int(len(e)), "true_alerts": n_true, "false_alarms": int(len(e) - n_true),
                    "precision": float(n_true / len(e)) if len(e) else float("nan"),
                    "median_lead_min": float(np.median(det["lead_s"]) / 60) if len(det) else float("nan"),
                    "p10_lead_min": float(np.quantile(det["lead_s"], 0.1) / 60) if len(det) else float("nan")}

        ep_host = (ep["level"] == "host").to_numpy() if len(ep) else np.zeros(0, bool)
        for k in kinds:
            level = sc.loc[sc["kind"] == k, "level"]
            lvl = level.iloc[0] if len(level) else ("vm" if k == "memory_leak_oom" else "host")
            mask_ep = ep_host if lvl == "host" else ~ep_host
            out[k] = block((sc["kind"] == k).to_numpy(), mask_ep)
            out[k]["precision_scope"] = f"{lvl} alerts"
        if hardware:
            out["hardware"] = block(sc["kind"].isin(list(hardware)).to_numpy(), ep_host)
            out["hardware"]["precision_scope"] = "host alerts"
        out["overall"] = block(np.ones(len(sc), bool), np.ones(len(ep), bool))
        out["overall"]["precision_scope"] = "all alerts"
        return out


def score_episodes(episodes: Iterable[Episode], scenarios: pd.DataFrame, horizon_s: float,
                   target_level: dict[str, str], min_lead_s: float = 0.0) -> EpisodeScore:
    """Match episodes to scenarios (rules in the module docstring); every scenario gets detected/lead_s."""
    eps = list(episodes)
    ep = pd.DataFrame([asdict(e) for e in eps], columns=["target_id", "start_ts", "end_ts", "peak", "steps_above"])
    sc = scenarios.copy()
    detected = np.zeros(len(sc), dtype=bool)
    lead = np.full(len(sc), np.nan)
    true_alert = np.zeros(len(ep), dtype=bool)
    ep_groups = ep.groupby("target_id").indices if len(ep) else {}
    for tid, sc_rows in sc.groupby("target_id").indices.items():
        e_rows = ep_groups.get(tid)
        if e_rows is None:
            continue
        starts = np.sort(ep["start_ts"].to_numpy()[e_rows])
        fails = sc["failure_ts"].to_numpy()[sc_rows]
        # first episode start at or after failure - H, and whether it precedes the failure
        pos = np.searchsorted(starts, fails - horizon_s, side="left")
        first = starts[np.clip(pos, 0, starts.size - 1)]
        hit = (pos < starts.size) & (first < fails) & (fails - first >= min_lead_s)
        detected[sc_rows] = hit
        lead[sc_rows] = np.where(hit, fails - first, np.nan)
        # an episode is true when some failure lies in [start, start + H]
        fs = np.sort(fails)
        e_start = ep["start_ts"].to_numpy()[e_rows]
        nxt = np.searchsorted(fs, e_start, side="left")
        ok = nxt < fs.size
        true_alert[e_rows] = ok & (fs[np.clip(nxt, 0, fs.size - 1)] <= e_start + horizon_s)
    sc["detected"] = detected
    sc["lead_s"] = lead
    ep["true_alert"] = true_alert
    ep["level"] = ep["target_id"].map(lambda t: target_level.get(t, "host")) if len(ep) else pd.Series(dtype=object)
    return EpisodeScore(sc, ep)


def evaluate(ts: np.ndarray, targets: np.ndarray, probs: np.ndarray, threshold: float, *,
             recall_scenarios: pd.DataFrame, all_failures: pd.DataFrame, horizon_s: float, step_s: float,
             target_level: dict[str, str], cooldown_s: float = 1800.0, resume_grace_s: float = 0.0,
             episode_window: tuple[float, float] | None = None, min_lead_s: float = 0.0) -> EpisodeScore:
    """Episodes at ``threshold``, judged against every failure (``all_failures``).

    Recall is computed over ``recall_scenarios``; precision over episodes starting inside
    ``episode_window`` (the evaluated period), each judged against all known failures of its target.
    """
    eps = alert_episodes(ts, targets, probs, threshold, step_s, cooldown_s, resume_grace_s)
    if episode_window is not None:
        lo, hi = episode_window
        eps = [e for e in eps if lo <= e.start_ts < hi]
    scored = score_episodes(eps, all_failures, horizon_s, target_level, min_lead_s)
    keep = scored.scenarios["scenario_id"].isin(recall_scenarios["scenario_id"]).to_numpy()
    return EpisodeScore(scored.scenarios[keep].reset_index(drop=True), scored.episodes)
