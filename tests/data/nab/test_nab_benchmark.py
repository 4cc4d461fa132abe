"""NAB on the real corpus (skipped when ../shared/data/nab is absent).

Checks the scorer against NAB's published artefacts and that the streaming
detector clears the issue's bar (standard profile >= 60, one corpus threshold).
"""
import numpy as np
import pytest

from aiops.failure.evaluation.nab_corpus import (
    load_corpus,
    load_profiles,
    load_published_file_scores,
    load_published_scoreboard,
    nab_root,
    read_results_layout,
    write_results_layout,
)
from aiops.failure.evaluation.nab_scoring import normalise, score_corpus, score_file, sweep_weights

ROOT = nab_root()
pytestmark = pytest.mark.data
if not (ROOT / "labels" / "combined_windows.json").exists():
    pytest.skip(f"NAB corpus not found under {ROOT}", allow_module_level=True)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT), load_profiles(ROOT)


def test_corpus_shape(corpus):
    files, _ = corpus
    assert len(files) == 58
    assert sum(len(f.windows) for f in files) == 116
    assert sum(len(f) for f in files) == 365558


def test_window_rows_and_probation_match_nab_null_results(corpus):
    files, profiles = corpus
    for name, cost in profiles.items():
        pub = load_published_file_scores(ROOT, "null", name).set_index("File")
        for f in files:
            r = score_file(sweep_weights(len(f), f.windows, cost, f.key), np.zeros(len(f)), 0.5, cost)
            p = pub.loc[f.key]
            assert (r.tp, r.tn, r.fp, r.fn, r.total) == (p.TP, p.TN, p.FP, p.FN, p.Total_Count), f.key
            assert r.score == pytest.approx(p.Score)


def test_normalisation_reproduces_published_scoreboard(corpus):
    files, profiles = corpus
    board = load_published_scoreboard(ROOT)
    n_win = sum(len(f.windows) for f in files)
    checked = 0
    for det in ("numenta", "knncad", "randomCutForest", "ARTime", "contextOSE", "windowedGaussian"):
        for name, cost in profiles.items():
            df = load_published_file_scores(ROOT, det, name)
            assert normalise(float(df["Score"].sum()), n_win, cost) == pytest.approx(board[det][name], abs=1e-6)
            checked += 1
    assert checked == 18


def test_reimplemented_windowed_gaussian_lands_on_its_published_score(corpus):
    from aiops.failure.health.baselines import windowed_gaussian

    files, profiles = corpus
    scores = {f.key: windowed_gaussian(f.values) for f in files}
    res = score_corpus(files, scores, "standard", profiles["standard"])
    published = load_published_scoreboard(ROOT)["windowedGaussian"]["standard"]
    assert abs(res.normalised - published) < 1.0


def test_stream_detector_meets_the_bar_and_rescoring_from_results_layout_agrees(corpus, tmp_path):
    from jobs.eval_nab import detect

    files, profiles = corpus
    scores, _ = detect(files, ["aiopsStream"], workers=2)
    res = score_corpus(files, scores["aiopsStream"], "standard", profiles["standard"])
    assert res.normalised >= 60.0
    write_results_layout(tmp_path, "aiopsStream", files, scores["aiopsStream"])
    back = read_results_layout(tmp_path, "aiopsStream", files)
    again = score_corpus(files, back, "standard", profiles["standard"])
    assert again.raw == pytest.approx(res.raw, abs=1e-6)
