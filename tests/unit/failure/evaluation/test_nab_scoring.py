"""NAB scorer on tiny hand-made files: window position, false positives, misses, probation."""
import math

import numpy as np
import pytest

from aiops.failure.evaluation.nab_corpus import CostMatrix, NabFile, probation_length
from aiops.failure.evaluation.nab_scoring import (
    normalise,
    scaled_sigmoid,
    score_corpus,
    score_file,
    sweep_thresholds,
    sweep_weights,
)

STD = CostMatrix(tp=1.0, fp=0.11, fn=1.0)
N = 100  # probation = 15 rows
WIN = [(50, 59)]  # width 10


def _score(det_rows, windows=WIN, n=N, cost=STD):
    s = np.zeros(n)
    s[list(det_rows)] = 1.0
    return score_file(sweep_weights(n, windows, cost, "f"), s, 0.5, cost)


def S(x):
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def test_scaled_sigmoid_matches_nab_doc_values():
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(scaled_sigmoid(-0.5)) == pytest.approx(0.84828, abs=1e-5)
    assert float(scaled_sigmoid(0.0)) == 0.0
    assert float(scaled_sigmoid(1.0)) == pytest.approx(-0.98661, abs=1e-5)
    assert float(scaled_sigmoid(3.5)) == -1.0


def test_probation_rule():
    assert probation_length(100) == 15
    assert probation_length(4032) == 604
    assert probation_length(22695) == 750  # capped at 15% of 5000 rows


def test_early_detection_earns_full_credit_late_detection_little():
    early = _score([50])
    late = _score([59])
    assert early.score == pytest.approx(1.0)
    assert late.score == pytest.approx(S(-0.1) / S(-1.0))
    assert 0 < late.score < 0.3 < early.score


def test_only_first_detection_in_window_counts():
    both = _score([50, 55, 59])
    assert both.score == pytest.approx(1.0)
    assert (both.tp, both.fp) == (3, 0)
    assert both.windows_hit == 1


def test_missed_window_costs_fn_weight():
    r = _score([])
    assert r.score == -1.0
    assert (r.tp, r.fn) == (0, 10)
    r2 = _score([], cost=CostMatrix(tp=1.0, fp=0.11, fn=2.0))
    assert r2.score == -2.0


def test_false_positives_depend_on_distance_to_previous_window():
    before = _score([30])  # no preceding window: full fp weight
    assert before.score == pytest.approx(-1.0 - 0.11)
    just_after = _score([60])  # |59-60| / (10-1)
    assert just_after.score == pytest.approx(-1.0 + 0.11 * S(1 / 9))
    far_after = _score([95])  # position 36/9 > 3
    assert far_after.score == pytest.approx(-1.0 - 0.11)
    assert before.fp == just_after.fp == far_after.fp == 1


def test_probationary_rows_are_ignored():
    r = _score([5])
    assert r.score == -1.0 and r.fp == 0 and r.tp + r.tn + r.fp + r.fn == N - 15


def test_normalisation_null_is_zero_perfect_is_hundred():
    assert normalise(-1.0 * 3, 3, STD) == 0.0
    assert normalise(1.0 * 3, 3, STD) == 100.0
    assert normalise(0.0, 3, STD) == 50.0


def _random_corpus(rng):
    files, scores = [], {}
    for i in range(4):
        n = int(rng.integers(200, 600))
        wins = []
        a = int(rng.integers(20, 80))
        while a + 30 < n:
            w = int(rng.integers(5, 30))
            wins.append((a, a + w - 1))
            a += w + int(rng.integers(10, 150))
        ts = np.arange(n)
        f = NabFile(key=f"cat{i % 2}/f{i}.csv", timestamps=ts, values=rng.normal(size=n), windows=wins)
        files.append(f)
        scores[f.key] = np.round(rng.random(n), 2)  # many ties, like real detectors
    return files, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_threshold_sweep_equals_brute_force(seed):
    files, scores = _random_corpus(np.random.default_rng(seed))
    for cost in (STD, CostMatrix(1.0, 0.22, 1.0), CostMatrix(1.0, 0.11, 2.0)):
        sweeps = [sweep_weights(len(f), f.windows, cost, f.key) for f in files]
        sw = sweep_thresholds(sweeps, scores, cost)
        for thr, total, tp, fp in zip(sw.threshold[1:], sw.score[1:], sw.tp[1:], sw.fp[1:]):
            rows = [score_file(s, scores[f.key], thr, cost) for s, f in zip(sweeps, files)]
            assert sum(r.score for r in rows) == pytest.approx(total, abs=1e-9)
            assert sum(r.tp for r in rows) == tp and sum(r.fp for r in rows) == fp
        # threshold above every score = no detection = null score
        assert sw.score[0] == pytest.approx(-cost.fn * sum(s.n_windows_scored for s in sweeps))
        best_thr, best = sw.best()
        assert best == sw.score.max()
        res = score_corpus(files, scores, "p", cost)
        assert res.threshold == best_thr and res.raw == pytest.approx(best)
