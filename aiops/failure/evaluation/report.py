"""Markdown/PNG/CSV artefacts of the Backblaze evaluation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiops.failure.evaluation.cross_validation import CVResult
from aiops.failure.evaluation.metrics import pr_curve


def write_oof_csv(path: Path, frame: pd.DataFrame, results: dict[str, CVResult], primary: str) -> Path:
    """serial_number, date, score (primary model), label, fold, then every other method's score."""
    out = pd.DataFrame({"serial_number": frame["serial_number"].to_numpy(),
                        "date": pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d").to_numpy(),
                        "score": results[primary].oof if primary in results else np.nan,
                        "label": frame["label"].to_numpy(), "fold": frame["fold"].to_numpy()})
    for k, r in results.items():
        if k != primary:
            out[f"score_{k}"] = r.oof
    out.to_csv(path, index=False, float_format="%.6g")
    return path


def plot_pr(path: Path, results: dict[str, CVResult], labels: np.ndarray, fpr: float, title: str = "") -> Path:
    """Pooled out-of-fold PR curves, with each method's per-fold 1%-FPR operating points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    base = labels.mean()
    for k, r in results.items():
        rec, prec = pr_curve(r.oof, labels)
        line, = ax.step(rec, prec, where="post", label=f"{k} (mean AP {r.mean_pr_auc:.3f}, R@{fpr:.0%}FPR {r.mean_recall:.2f})")
        ax.scatter([f.recall_at_fpr for f in r.folds], [f.precision_at_fpr for f in r.folds], s=12, color=line.get_color())
    ax.axhline(base, color="grey", lw=0.8, ls=":", label=f"prevalence {base:.4f}")
    ax.set_xlabel("recall (drive-days)")
    ax.set_ylabel("precision")
    ax.set_yscale("log")
    ax.set_ylim(max(base / 2, 1e-4), 1.0)
    ax.set_xlim(0, 1)
    ax.set_title(f"{title} (pooled out-of-fold curves; dots = per-fold {fpr:.0%}-FPR operating points)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=6, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown_report(summary: dict[str, Any], png_name: str, csv_name: str, command: str) -> str:
    """Human-readable report; every number comes from ``summary`` (the JSON written alongside)."""
    b = summary["backblaze"]
    fpr = b["protocol"]["fpr"]
    lines = [f"# Failure prediction evaluation — Backblaze", "",
             f"Command: `{command}`", "",
             f"Data: {b['data']['drive_days']:,} drive-days, {b['data']['drives']:,} drives, "
             f"{b['data']['failures']} failures, {b['data']['positive_drive_days']} positive drive-days "
             f"(horizon {b['protocol']['horizon_days']:g} days).", "",
             f"Protocol: {b['protocol']['text']}", "",
             f"| method | mean recall@{fpr:.0%}FPR | per fold | mean PR-AUC | per fold |",
             "|---|---|---|---|---|"]
    for k, m in b["methods"].items():
        folds = m["folds"]
        lines.append(f"| {k} — {m.get('description', '')} | **{m['mean_recall_at_fpr']:.3f}** ± {m['std_recall_at_fpr']:.3f} | "
                     + " ".join(f"{f['recall_at_fpr']:.3f}" for f in folds)
                     + f" | **{m['mean_pr_auc']:.3f}** | " + " ".join(f"{f['pr_auc']:.3f}" for f in folds) + " |")
    rule = b["methods"].get("rule_smart5_or_197", {}).get("own_operating_point")
    if rule:
        lines += ["", f"The rule is binary, so it has no 1%-FPR operating point: it flags "
                      f"{rule['fpr']:.1%} of negative drive-days and catches {rule['recall']:.1%} of positives "
                      f"(precision {rule['precision']:.3%}); above its own 99th-percentile threshold nothing is flagged."]
    if "survival" in b:
        s = b["survival"]
        lines += ["", f"Time to failure (XGBoost `survival:aft`, {s['distribution']} errors): central {s['interval']:.0%} "
                      f"interval covers {s['mean_coverage']:.0%} of true times on held-out failed-drive days ≤30 days "
                      f"before failure; median absolute error {s['mean_median_abs_error_days']:.1f} days."]
    if b.get("explanations"):
        lines += ["", "Top-scored drive-days of the last fold with their SHAP factors (log-odds contributions):", ""]
        for e in b["explanations"]:
            fs = ", ".join(f"{f['feature']}={_fmt(f['value'])} ({f['contribution']:+.2f})" for f in e["factors"])
            lines.append(f"- {e['serial_number']} {e['model']} {e['date']} label={e['label']} p={e['score']:.3f}: {fs}")
    lines += ["", f"![PR curves]({png_name})", "",
              f"Out-of-fold scores of every drive-day: `{csv_name}` (columns serial_number, date, score, label, fold, "
              "and one score_<method> column per comparison) — recompute recall@1%FPR per fold with "
              "`thr = np.quantile(score[label==0], 0.99); recall = (score[label==1] > thr).mean()`."]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
