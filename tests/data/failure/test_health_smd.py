"""jobs.eval_health on smd-dev (skipped when ../shared/data lacks it): the issue-12 targets."""
import pytest

from aiops.settings import Settings

ROOT = Settings().data_dir / "smd-dev"
pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not (ROOT / "test_label").is_dir():
        pytest.skip(f"smd-dev not found at {ROOT}")
    from jobs.eval_health import main

    return main(["--data", str(ROOT), "--out", str(tmp_path_factory.mktemp("health"))])


def test_beats_plain_pca_and_the_project_threshold(report):
    mean = report["mean"]
    assert mean["health"]["f1"] >= 0.35
    assert mean["health"]["f1"] > mean["pca_plain"]["f1"] + 0.1
    assert mean["health"]["pr_auc"] >= mean["pca_plain"]["pr_auc"]
    assert mean["health"]["cause_hit"] >= 0.7
    for name, res in report["entities"].items():
        assert res["health"]["score_cpu_s"] <= 10.0, name


def test_issue_targets_pr_auc_f1_and_alarm_rate_on_each_machine(report):
    assert report["mean"]["health"]["pr_auc"] >= 0.45
    for name, res in report["entities"].items():
        h = res["health"]
        assert h["f1"] >= 0.35, name
        assert h["anomaly_rate"] / 2 <= h["alarm_rate"] <= 2 * h["anomaly_rate"], name
        assert h["pr_auc"] > res["pca_plain"]["pr_auc"], name
