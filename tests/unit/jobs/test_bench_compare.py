"""The side-by-side comparison keeps only figures both sides report and takes medians per side."""
from __future__ import annotations

from jobs.bench_compare import compare, numeric_leaves


def test_numeric_leaves_walks_dicts_and_lists_and_skips_bools() -> None:
    doc = {"a": 1, "b": {"c": 2.5, "ok": True}, "d": [{"e": 3}], "s": "x"}
    assert dict(numeric_leaves(doc)) == {"a": 1.0, "b.c": 2.5, "d[0].e": 3.0}


def test_compare_medians_and_ratio_over_common_figures() -> None:
    runs = {"baseline": [{"rps": 100.0, "only_base": 1.0}, {"rps": 120.0, "only_base": 1.0}],
            "current": [{"rps": 110.0}, {"rps": 130.0}]}
    rows = compare(runs)
    assert rows == [{"figure": "rps", "baseline": 110.0, "current": 120.0, "ratio": 120.0 / 110.0}]
