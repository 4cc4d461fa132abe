"""The network detector on CIC-IDS2017 (skipped when ../shared/data/security/cicids2017-dev is absent).

Asserts the issue's targets through jobs.eval_network (fit on benign only, five seeds, as `python -m jobs.eval_network`)."""
import pytest

from aiops.settings import Settings

ROOT = Settings().data_dir / "security" / "cicids2017-dev"
pytestmark = pytest.mark.data
if not (ROOT / "BENIGN_dev.csv").exists():
    pytest.skip(f"CIC-IDS2017 dev sample not found under {ROOT}", allow_module_level=True)


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    from jobs.eval_network import main

    return main(["--data", str(ROOT), "--out", str(tmp_path_factory.mktemp("net") / "r.json")])


def test_calibrated_on_held_back_benign(res):
    assert res["combined (ours)"]["all"]["benign_fpr_at_0.99"]["mean"] <= 0.015


def test_combination_not_worse_than_its_parts_and_beats_a_plain_forest(res):
    ours = res["combined (ours)"]["all"]["roc_auc"]["mean"]
    assert ours > res["plain IsolationForest (numeric columns)"]["all"]["roc_auc"]["mean"]
    for part in ("isolation forest part", "nearest-neighbour part", "host bytes part", "host port part"):
        assert ours >= res[part]["all"]["roc_auc"]["mean"] - 0.005, part


def test_issue_targets(res):
    a = res["combined (ours)"]["all"]
    assert a["roc_auc"]["mean"] >= 0.95
    assert a["pr_auc_reweighted"]["mean"] >= 0.85
    assert a["recall_at_1pct_fpr"]["mean"] >= 0.3


def test_above_a_plain_forest_and_its_forest_part(res):
    ours = res["combined (ours)"]["all"]
    for other in ("plain IsolationForest (numeric columns)", "isolation forest part"):
        assert ours["roc_auc"]["mean"] > res[other]["all"]["roc_auc"]["mean"]
        assert ours["pr_auc_reweighted"]["mean"] > res[other]["all"]["pr_auc_reweighted"]["mean"]
    assert ours["roc_auc"]["mean"] >= 0.95
