import numpy as np
import pandas as pd

from aiops.failure.training.labels import LabelSpec, horizon_labels, survival_bounds


def _drive(serial, days, fail_day=None):
    start = pd.Timestamp("2020-01-01")
    return pd.DataFrame({"serial_number": serial, "date": [start + pd.Timedelta(days=d) for d in days],
                         "failure": [int(fail_day is not None and d == fail_day) for d in days]})


def test_horizon_marks_failure_day_and_h_minus_1_days_before():
    df = pd.concat([_drive("A", range(20), fail_day=19), _drive("B", range(20))], ignore_index=True)
    out = horizon_labels(df, LabelSpec(horizon=7))
    a = out[out.serial_number == "A"]
    assert a.label.tolist() == [0] * 13 + [1] * 7
    assert a.tte.tolist()[-7:] == [6, 5, 4, 3, 2, 1, 0]
    assert out[out.serial_number == "B"].label.sum() == 0


def test_gaps_use_calendar_days_not_rows():
    # Drive reports every other day: only records within 7 calendar days of failure are positive.
    df = _drive("A", range(0, 21, 2), fail_day=20)
    out = horizon_labels(df, LabelSpec(horizon=7))
    assert out.loc[out.label == 1, "tte"].tolist() == [6, 4, 2, 0]


def test_unsorted_input_keeps_row_alignment():
    df = pd.concat([_drive("A", range(10), fail_day=9), _drive("B", range(10))], ignore_index=True)
    shuffled = df.sample(frac=1.0, random_state=1)
    out = horizon_labels(shuffled, LabelSpec(horizon=3))
    assert out.index.equals(shuffled.index)
    positive_days = sorted(out.loc[(out.serial_number == "A") & (out.label == 1), "date"].dt.day.tolist())
    assert positive_days == [8, 9, 10]


def test_censoring_marks_negatives_without_full_follow_up():
    df = _drive("B", range(10))
    out = horizon_labels(df, LabelSpec(horizon=7))
    # Last 6 days of a surviving drive cannot confirm 7 days without failure.
    assert out.censored.tolist() == [False] * 4 + [True] * 6


def test_survival_bounds_exact_for_events_and_open_for_censored():
    lo, hi = survival_bounds(np.array([0.0, 3.0, np.nan]), np.array([0.0, 3.0, 5.0]))
    assert lo.tolist() == [1.0, 4.0, 6.0]
    assert hi[:2].tolist() == [1.0, 4.0] and np.isinf(hi[2])
