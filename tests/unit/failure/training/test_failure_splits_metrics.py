import numpy as np
import pandas as pd

from aiops.failure.training.labels import LabelSpec, horizon_labels
from aiops.failure.evaluation.metrics import operating_point, pr_auc, recall_at_fpr, threshold_at_fpr
from aiops.failure.training.splits import fold_ids, grouped_folds, time_ordered_holdout

from tests.unit.failure.synthetic import synthetic_fleet


def test_grouped_folds_never_share_a_drive_and_cover_all_rows():
    df = horizon_labels(synthetic_fleet(80, 30), LabelSpec(horizon=7))
    g, y = df.serial_number.to_numpy(), df.label.to_numpy()
    seen = np.zeros(len(df), int)
    for tr, te in grouped_folds(g, y, 5, 0):
        assert not set(g[tr]) & set(g[te])
        seen[te] += 1
        assert y[te].sum() > 0          # stratification puts failed drives in every fold
    assert (seen == 1).all()
    assert set(np.unique(fold_ids(g, y, 5, 0))) == set(range(5))


def test_time_ordered_holdout_has_gap_and_disjoint_drives():
    df = synthetic_fleet(60, 30)
    cutoff = df.date.min() + pd.Timedelta(days=20)
    tr, te = time_ordered_holdout(df.serial_number.to_numpy(), df.date, cutoff, horizon=7)
    assert df.date.iloc[tr].max() < cutoff - pd.Timedelta(days=7)
    assert df.date.iloc[te].min() >= cutoff
    assert not set(df.serial_number.iloc[tr]) & set(df.serial_number.iloc[te])


def test_recall_at_fpr_uses_negative_quantile_and_strict_threshold():
    neg = np.arange(1000, dtype=float)          # 99th percentile = 989.01
    pos = np.array([995.0, 989.0, 2000.0, 5.0])
    s = np.concatenate([neg, pos]); y = np.r_[np.zeros(1000), np.ones(4)]
    assert threshold_at_fpr(s, y, 0.01) == np.quantile(neg, 0.99)
    assert recall_at_fpr(s, y, 0.01) == 0.5
    op = operating_point(s, y, threshold_at_fpr(s, y, 0.01))
    assert op.fpr <= 0.01


def test_ties_cannot_inflate_recall():
    # A binary rule that flags 10% of negatives has no 1% operating point: recall must be 0.
    s = np.r_[np.ones(100), np.zeros(900), np.ones(10)]
    y = np.r_[np.zeros(1000), np.ones(10)]
    assert recall_at_fpr(s, y, 0.01) == 0.0


def test_pr_auc_perfect_and_random():
    y = np.r_[np.zeros(100), np.ones(10)]
    assert pr_auc(np.r_[np.zeros(100), np.ones(10)], y) == 1.0
    rnd = pr_auc(np.random.default_rng(0).random(110), y)
    assert rnd < 0.4
