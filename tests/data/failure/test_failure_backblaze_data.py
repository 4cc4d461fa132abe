"""Checks on the shared Backblaze sample (skipped when ../shared/data lacks it)."""
import pytest

from aiops.failure.training.backblaze import default_root, load_drive_stats
from aiops.failure.training.features import smart_history_features
from aiops.failure.training.labels import LabelSpec, horizon_labels
from aiops.failure.evaluation.metrics import recall_at_fpr
from aiops.failure.models import make_model
from aiops.failure.training.splits import grouped_folds
from aiops.settings import Settings

ROOT = default_root(Settings().data_dir)
pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def labelled():
    if not ROOT.exists():
        pytest.skip(f"Backblaze sample not found at {ROOT}")
    return horizon_labels(load_drive_stats(ROOT), LabelSpec(horizon=7))


def test_sample_matches_its_source_notes(labelled):
    df = labelled
    assert len(df) == 868_524
    assert df.serial_number.nunique() == 22_892
    assert int(df.failure.sum()) == 120
    # Each failed drive's failure record is its last record.
    last = df.groupby("serial_number").date.transform("max")
    assert (df.loc[df.failure == 1, "date"] == last[df.failure == 1]).all()
    # Positives: up to 7 drive-days per failure, fewer when the drive was seen < 7 days.
    assert 120 < int(df.label.sum()) <= 7 * 120


def test_model_beats_ranked_smart_on_one_fold(labelled):
    df = labelled
    y, g = df.label.to_numpy(), df.serial_number.to_numpy()
    tr, te = next(grouped_folds(g, y, 5, 0))
    assert not set(g[tr]) & set(g[te])
    X = smart_history_features(df)
    m = make_model("xgboost", n_rounds=150, eta=0.08, neg_sample_rate=0.05).fit(X.iloc[tr], y[tr])
    ours = recall_at_fpr(m.predict_proba(X.iloc[te]), y[te])
    ranked = recall_at_fpr((df.smart_5_raw + df.smart_197_raw).to_numpy()[te], y[te])
    assert ours > ranked
