import numpy as np
import pandas as pd
import pytest

from aiops.failure.training.sequence_data import frame_from_history, grouped_split, make_windows, sample_rows


def _frame() -> pd.DataFrame:
    # two entities, rows deliberately out of order
    return pd.DataFrame({
        "e": ["b", "a", "a", "b", "a"],
        "t": [2, 3, 1, 1, 2],
        "x": [20.0, 3.0, 1.0, 10.0, 2.0],
        "z": [-20.0, -3.0, -1.0, -10.0, -2.0],
    })


def test_windows_hold_only_own_past_oldest_first_left_padded():
    W = make_windows(_frame(), ["x", "z"], window=3, entity="e", time="t")
    assert W.shape == (5, 3, 2)
    # row 1 is a@t=3: full history 1, 2, 3
    np.testing.assert_array_equal(W[1, :, 0], [1.0, 2.0, 3.0])
    # row 0 is b@t=2: one past step, left-padded with b's first value (never a's values)
    np.testing.assert_array_equal(W[0, :, 0], [10.0, 10.0, 20.0])
    # row 2 is a@t=1: nothing before it
    np.testing.assert_array_equal(W[2, :, 1], [-1.0, -1.0, -1.0])


def test_future_rows_do_not_change_earlier_windows():
    df = _frame()
    before = make_windows(df, ["x"], 3, "e", "t")
    df2 = df.copy()
    df2.loc[1, "x"] = 999.0          # a@t=3, the latest row of entity a
    after = make_windows(df2, ["x"], 3, "e", "t")
    earlier = [2, 4]                 # a@t=1 and a@t=2
    np.testing.assert_array_equal(before[earlier], after[earlier])
    assert after[1, -1, 0] == 999.0


def test_subset_of_rows_matches_full_build():
    df = _frame()
    full = make_windows(df, ["x", "z"], 2, "e", "t")
    part = make_windows(df, ["x", "z"], 2, "e", "t", rows=np.array([4, 0]))
    np.testing.assert_array_equal(part, full[[4, 0]])


def test_duplicate_entity_time_rejected():
    df = pd.concat([_frame(), _frame().iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate"):
        make_windows(df, ["x"], 2, "e", "t")


def test_grouped_split_keeps_entities_disjoint_and_both_sides_have_failures():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(50), 10)
    fails = rng.random(50) < 0.3
    labels = (fails[groups] & (np.tile(np.arange(10), 50) >= 7)).astype(int)
    s = grouped_split(groups, labels, test_fraction=0.2)
    assert not set(groups[s.train]) & set(groups[s.test])
    assert len(s.train) + len(s.test) == len(groups)
    assert labels[s.train].sum() > 0 and labels[s.test].sum() > 0


def test_sample_rows_keeps_every_positive():
    y = np.zeros(1000, int)
    y[::50] = 1
    rows = sample_rows(y, 0.1, seed=0)
    assert set(np.flatnonzero(y)) <= set(rows)
    assert 100 < len(rows) < 200


def test_frame_from_shard_history():
    hist = {"target_id": "h-1", "target_type": "host",
            "rows": [{"ts": 0.0, "cpu": 0.5, "mem": None}, {"ts": 60.0, "cpu": 0.7, "mem": 0.2}]}
    df = frame_from_history(hist, ["cpu", "mem", "disk"])
    assert list(df.columns) == ["target", "ts", "cpu", "mem", "disk"]
    assert df["target"].eq("h-1").all()
    assert np.isnan(df.loc[0, "mem"]) and df["disk"].isna().all()
    W = make_windows(df, ["cpu", "mem"], 3, "target", "ts")
    np.testing.assert_allclose(W[1, :, 0], [0.5, 0.5, 0.7])
