import numpy as np
import pandas as pd
import pytest

from aiops.failure.training.features import raw_diff_features, smart_history_features

from tests.unit.failure.synthetic import synthetic_fleet


def _two_drives():
    start = pd.Timestamp("2020-01-01")
    rows = []
    for d, s5 in enumerate([0, 0, 2, 5, 5, 9, 9, 9, 20]):
        rows.append({"serial_number": "A", "date": start + pd.Timedelta(days=d), "model": "ST3000DM001",
                     "capacity_bytes": 3e12, "smart_1_raw": 1.0, "smart_5_raw": float(s5),
                     "smart_9_raw": 1000.0 + 24 * d, "smart_194_raw": 30.0, "smart_197_raw": 0.0})
    for d in [0, 1, 5]:  # gaps: days 2-4 missing
        rows.append({"serial_number": "B", "date": start + pd.Timedelta(days=d), "model": "WDC WD10EADS",
                     "capacity_bytes": 1e12, "smart_1_raw": 0.0, "smart_5_raw": float(d),
                     "smart_9_raw": 24.0 * d, "smart_194_raw": 25.0, "smart_197_raw": 0.0})
    return pd.DataFrame(rows)


def test_diffs_are_per_drive_and_calendar_based():
    df = _two_drives()
    f = smart_history_features(df)
    a = f[df.serial_number == "A"]
    assert np.isnan(a["smart_5_raw_diff_1d"].iloc[0])          # no history before first record
    assert a["smart_5_raw_diff_1d"].tolist()[1:] == [0, 2, 3, 0, 4, 0, 0, 11]
    assert a["smart_5_raw_diff_7d"].iloc[7] == 9 and np.isnan(a["smart_5_raw_diff_7d"].iloc[6])
    b = f[df.serial_number == "B"]
    assert np.isnan(b["smart_5_raw_diff_1d"].iloc[0])           # not A's last value
    # Day 5 minus last value on or before day 4 (day 1's record) = 5 - 1.
    assert b["smart_5_raw_diff_1d"].iloc[2] == 4
    assert b["days_since_previous"].iloc[2] == 4
    assert b["days_missing_7d"].iloc[2] == 3


def test_features_use_no_future_rows():
    df = synthetic_fleet(30, 25, seed=3)
    full = smart_history_features(df).drop(columns=["model", "vendor"])
    cut_day = df.date.min() + pd.Timedelta(days=12)
    past = df[df.date <= cut_day].reset_index(drop=True)
    part = smart_history_features(past).drop(columns=["model", "vendor"])
    same = full[(df.date <= cut_day).to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, same)


def test_age_normalised_counts_and_categoricals():
    f = smart_history_features(_two_drives())
    assert {"age_years", "smart_5_raw_per_year", "model", "vendor"} <= set(f.columns)
    assert f["vendor"].iloc[0] == "SEAGATE"
    assert f["power_on_hours_1d"].iloc[1] == 24


def test_unsorted_frame_is_rejected():
    df = _two_drives().iloc[::-1]
    with pytest.raises(ValueError, match="sorted"):
        smart_history_features(df)


def test_plain_feature_set_matches_issue_definition():
    r = raw_diff_features(_two_drives(), (1, 5, 9, 194, 197))
    assert r.shape[1] == 5 * 4
    assert "smart_197_raw_diff_3d" in r.columns
