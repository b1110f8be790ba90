"""Performance page pieces (issue 13): threshold-free vs threshold-dependent metrics, every split's matrix,
the score distribution under the slider, the caption that follows it, and degenerate intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from dashboard import tables, tables_threshold
from model.evaluate.artifacts import read_evaluation
from model.evaluate.metrics import SCALARS, THRESHOLD_FREE, compute_metrics, confusion_at
from model.figures import threshold as figures_threshold

EVAL = Path(__file__).resolve().parents[3] / "artifacts" / "eval"
LABELS = ("no tumor", "tumor")


@pytest.fixture(scope="module")
def test_eval():
    return read_evaluation(EVAL, "test")


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    p = np.array([0.1, 0.48, 0.52, 0.9, 0.3, 0.49, 0.51, 0.7])
    return pd.DataFrame(
        {
            "label": ["tumor"] * 4 + ["no tumor"] * 4,
            "p_tumor": p,
            "p_no tumor": 1 - p,
            "group": list("abcdefgh"),
        }
    )


def test_threshold_free_metrics_do_not_move_with_the_threshold_and_the_others_do(records):
    low, high = (compute_metrics(records, LABELS, "tumor", t, n_resamples=0)["metrics"] for t in (0.2, 0.6))
    for name in SCALARS:
        same = low[name] == pytest.approx(high[name], nan_ok=True)
        assert same == (name in THRESHOLD_FREE), name
    assert THRESHOLD_FREE <= set(SCALARS)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.505, 1.0])
def test_confusion_at_matches_compute_metrics(records, threshold):
    full = compute_metrics(records, LABELS, "tumor", threshold, n_resamples=0)["confusion"]
    assert confusion_at(records, LABELS, "tumor", threshold).tolist() == full


def test_confusion_at_refuses_a_threshold_outside_0_1(records):
    with pytest.raises(ValueError, match="threshold"):
        confusion_at(records, LABELS, "tumor", 1.5)


def test_frames_split_the_metric_names(test_eval):
    free = tables_threshold.threshold_free_frame([test_eval])
    result = compute_metrics(test_eval.records, test_eval.labels, "tumor", 0.4, n_resamples=0)
    dependent = tables_threshold.threshold_dependent_frame({"test (n=26)": result}, 0.4)
    assert set(free.index).isdisjoint(dependent.index)
    assert len(free) + len(dependent) == len(tables.METRIC_NAMES)
    assert dependent.index.name.startswith("at threshold 0.40")


def test_every_split_has_a_matrix_at_the_threshold(test_eval):
    validation = read_evaluation(EVAL, "validation")
    counts = tables_threshold.confusions_at([validation, test_eval], 0.3)
    assert list(counts) == ["validation (n=25)", "test (n=26)"]
    assert [int(c.sum()) for c in counts.values()] == [25, 26]
    fig = figures_threshold.build_split_confusions_figure(counts, test_eval.labels, 0.3)
    assert len(fig.axes) == 2 and "0.30" in fig._suptitle.get_text()
    texts = {t.get_text().split("\n")[0] for ax in fig.axes for t in ax.texts}
    assert {str(v) for c in counts.values() for v in c.ravel()} <= texts


def test_score_distribution_has_one_row_per_class_and_the_threshold_line(test_eval):
    scores = tables_threshold.scores_by_class(test_eval)
    assert sum(len(v) for v in scores.values()) == 26 and list(scores) == list(test_eval.labels)
    fig = figures_threshold.build_score_distribution_figure(scores, 0.47, "tumor")
    assert len(fig.axes) == 2
    for ax, values in zip(fig.axes, scores.values(), strict=True):
        assert sum(bar.get_height() for bar in ax.containers[0]) == len(values)  # the histogram's bars
        lines = [ln for ln in ax.lines if isinstance(ln, Line2D) and len(set(ln.get_xdata())) == 1]
        assert any(ln.get_xdata()[0] == pytest.approx(0.47) for ln in lines)


def test_caption_follows_the_threshold(test_eval):
    p = tables_threshold.scores_by_class(test_eval)
    for threshold in (0.1, 0.5, 0.9):
        text = tables_threshold.threshold_caption(test_eval, threshold)
        called = sum(int((v >= threshold).sum()) for v in p.values())
        assert text.startswith(f"At threshold {threshold:.2f}, {called} of 26 scans in test are called tumor")


def test_a_zero_width_interval_is_shown_as_degenerate():
    assert tables.format_interval(1.0, 1.0, 1.0) == "1.00 (1.00–1.00, degenerate)"
    assert tables.format_interval(0.8, 0.6, 0.9) == "0.80 (0.60–0.90)"
    assert tables.format_interval(float("nan"), 0.1, 0.2) == "n/a"


def test_the_bundled_pool_specificity_interval_is_labelled_degenerate():
    pool = read_evaluation(EVAL, "pool-holdout")
    cells = tables.metric_cells(pool)
    low, high = pool.results["ci95"]["specificity"]
    assert ("degenerate" in cells["specificity"]) == (low == high)
