"""`aiops hunt` over every OTRF recording: per-file table and labelled-technique coverage.

    python -m jobs.eval_hunt [--rules configured|pack] [--root DIR] [--out results/eval_hunt]

Each file is hunted on its own (fresh detectors and correlator, the engine's Sigma rules loaded once).
For the Windows host recordings (``atomic/windows/``) a file passes when one of its incidents holds a
signal tagged with a technique INDEX.csv labels the recording with (sub-technique either way).
Recordings INDEX.csv gives no technique for are listed as unlabelled and left out of the share.
Development hold-out: of the Windows host files present, every third in sorted order (positions 2, 5, 8,
...) was not looked at while the correlation was tuned; its share is printed separately.
Writes results/eval_hunt.json and results/eval_hunt.md (the table of docs/benchmarks/hunt.md).
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

from aiops.security.hunt.run import file_table, hunt, HuntResult
from aiops.settings import PROJECT_ROOT, Settings

from jobs.results import write_json

OUT = PROJECT_ROOT / "results" / "eval_hunt"


def labels(root: Path) -> dict[str, list[str]]:
    """Relative path → labelled ATT&CK techniques (INDEX.csv)."""
    out: dict[str, list[str]] = {}
    with open(root / "INDEX.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for p in filter(None, (row.get("present_paths") or "").split(";")):
                out[p.strip()] = [t for t in row["attack_techniques"].split(";") if t]
    return out


def tech_hit(expected: str, seen: set[str]) -> bool:
    return any(s == expected or s.startswith(expected + ".") or expected.startswith(s + ".") for s in seen)


def _incident_techniques(res: HuntResult) -> set[str]:
    return {t for inc in res.incidents for t in inc.get("techniques", [])}


def run(root: Path, rules: str) -> dict[str, Any]:
    from aiops.security.intel.threat_intel import load_threat_intel
    from aiops.security.sigma.pipeline import load_detection_pipeline

    settings = Settings()
    sigma = load_detection_pipeline(rules == "configured", settings)
    intel = load_threat_intel(settings.security.detection)
    lab = labels(root)
    files = sorted(p for p in (root / "datasets").rglob("*") if p.is_file() and "_metadata" not in p.parts)
    win = [p for p in files if "atomic/windows/" in p.as_posix()]
    holdout = {p for i, p in enumerate(win) if i % 3 == 2}
    rows, merged, t0 = [], None, time.process_time()
    for p in files:
        res = hunt([p], sigma, intel)
        rel = p.relative_to(root).as_posix()
        techs = _incident_techniques(res)
        want = lab.get(rel, [])
        s = next(iter(res.files.values()))
        row = {"file": rel, **{k: v for k, v in s.to_dict().items() if k != "file"}, "labelled": want,
               "incident_techniques": sorted(techs), "windows_host": p in win, "holdout": p in holdout,
               "technique_in_incident": bool(want) and any(tech_hit(t, techs) for t in want)}
        rows.append(row)
        if merged is None:
            merged = res
        else:
            merged.files.update(res.files)
    return {"rules": rules, "cpu_s": round(time.process_time() - t0, 1), "files": rows,
            "windows": _shares(rows), "table": file_table(merged, str(root)) if merged else []}


def _shares(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for name, sel in (("all", lambda r: True), ("development", lambda r: not r["holdout"]), ("held_out", lambda r: r["holdout"])):
        w = [r for r in rows if r["windows_host"] and r["labelled"] and sel(r)]
        out[name] = {"files": len(w), "unlabelled": sum(1 for r in rows if r["windows_host"] and not r["labelled"] and sel(r)), "with_incident": sum(r["incidents"] > 0 for r in w),
                     "technique_in_incident": sum(r["technique_in_incident"] for r in w),
                     "share": round(sum(r["technique_in_incident"] for r in w) / len(w), 3) if w else None}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", default="configured", choices=("pack", "configured"))
    ap.add_argument("--root", default=str(Settings().data_dir / "security" / "otrf"))
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    root = Path(a.root)
    if not (root / "INDEX.csv").exists():
        print(f"no OTRF data at {root}")
        return 1
    res = run(root, a.rules)
    print("\n".join(res["table"]))
    print()
    print(f"{'windows host files':<22}{'files':>6}{'incident':>10}{'technique in incident':>23}{'share':>7}")
    for k, v in res["windows"].items():
        print(f"{k:<22}{v['files']:>6}{v['with_incident']:>10}{v['technique_in_incident']:>23}{v['share']!s:>7}")
    print(f"\nCPU {res['cpu_s']} s (rules: {a.rules})")
    out = Path(a.out)
    write_json(out.with_suffix(".json"), res)
    out.with_suffix(".md").write_text("\n".join(res["table"]) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
