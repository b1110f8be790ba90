"""The evaluation figures draw exactly what they are given: labelled axes, annotated counts, marked points."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from model.figures import evaluation as fe

LABELS = ("no tumor", "tumor")


def _cell_texts(ax) -> dict[tuple[int, int], str]:
    """Map (row, col) of each annotation to its text (cells sit at integer data coordinates)."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}


def test_confusion_counts_are_annotated_per_cell_and_axes_are_labelled():
    counts = np.array([[7, 3], [1, 9]])
    fig = fe.build_confusion_figure(counts, LABELS, title="test split")
    assert isinstance(fig, Figure)
    left, right = fig.axes
    assert _cell_texts(left) == {(0, 0): "7", (0, 1): "3", (1, 0): "1", (1, 1): "9"}
    # Row rates: 7/10, 3/10 and 1/10, 9/10.
    assert _cell_texts(right) == {(0, 0): "70%", (0, 1): "30%", (1, 0): "10%", (1, 1): "90%"}
    for ax in (left, right):
        assert ax.get_xlabel() == "Predicted label"
        assert ax.get_ylabel() == "True label"
        assert [t.get_text() for t in ax.get_xticklabels()] == list(LABELS)
    assert fig._suptitle.get_text() == "test split"


def test_confusion_figure_rejects_bad_counts():
    with pytest.raises(ValueError, match="square"):
        fe.build_confusion_figure(np.ones((2, 3)), LABELS)
    with pytest.raises(ValueError, match="non-negative"):
        fe.build_confusion_figure(np.array([[1, -1], [0, 2]]), LABELS)
    with pytest.raises(ValueError, match="labels"):
        fe.build_confusion_figure(np.eye(3, dtype=int), LABELS)


def test_row_rates_sum_to_one_and_empty_rows_are_nan():
    rates = fe.row_rates([[2, 6], [0, 0]])
    np.testing.assert_allclose(rates[0], [0.25, 0.75])
    assert np.isnan(rates[1]).all()
    fig = fe.build_confusion_figure([[2, 6], [0, 0]], LABELS)
    assert _cell_texts(fig.axes[1])[(1, 0)] == "–"


def test_roc_figure_draws_the_curve_and_the_operating_point():
    fpr, tpr = [0.0, 0.1, 0.4, 1.0], [0.0, 0.6, 0.9, 1.0]
    fig = fe.build_roc_figure(fpr, tpr, auc=0.875, operating_point=(0.1, 0.6), threshold=0.35)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["model (AUC 0.875)"].get_xydata(), np.column_stack([fpr, tpr]))
    np.testing.assert_allclose(lines["threshold 0.35"].get_xydata(), [[0.1, 0.6]])
    assert "sensitivity" in ax.get_ylabel() and "specificity" in ax.get_xlabel()


def test_pr_figure_has_the_no_skill_line_at_the_prevalence():
    fig = fe.build_pr_figure(
        [0.0, 0.5, 1.0],
        [1.0, 0.8, 0.4],
        average_precision=0.8,
        prevalence=0.4,
        operating_point=(0.5, 0.8),
        threshold=0.5,
    )
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["no skill (0.40)"].get_ydata(), [0.4, 0.4])
    np.testing.assert_allclose(lines["threshold 0.50"].get_xydata(), [[0.5, 0.8]])
    assert ax.get_xlabel().startswith("Recall")


def test_reliability_figure_plots_each_curve_and_its_bin_counts():
    curves = {
        "raw": ([0.1, 0.5, 0.9], [0.2, 0.5, 0.7], [4, 2, 6]),
        "calibrated": ([0.2, 0.5, 0.8], [0.2, 0.5, 0.75], [3, 3, 6]),
    }
    fig = fe.build_reliability_figure(curves, ece={"raw": 0.12, "calibrated": 0.03})
    top, bottom = fig.axes
    labels = [line.get_label() for line in top.get_lines()]
    assert labels == ["perfectly calibrated", "raw (ECE 0.120)", "calibrated (ECE 0.030)"]
    heights = sorted(p.get_height() for p in bottom.patches)
    assert heights == sorted([4, 2, 6, 3, 3, 6])
    assert bottom.get_xlabel() == "Predicted probability of tumour"


def test_interval_figure_rows_top_to_bottom_and_bars_span_the_interval():
    fig = fe.build_interval_figure(["accuracy", "AUC"], [0.8, 0.9], [0.7, 0.85], [0.88, 0.95])
    ax = fig.axes[0]
    ticks = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert ticks["accuracy"] > ticks["AUC"]  # the first row is drawn on top
    segments = ax.collections[0].get_segments()
    spans = sorted((round(s[0][0], 6), round(s[1][0], 6)) for s in segments)
    assert spans == [(0.7, 0.88), (0.85, 0.95)]
    with pytest.raises(ValueError, match="same length"):
        fe.build_interval_figure(["a"], [0.1, 0.2], [0.0], [0.3])


def test_deletion_insertion_figure_has_one_line_per_method_on_each_side():
    x = np.linspace(0, 1, 5)
    curves = {"rollout": (x, 1 - x, x), "saliency": (x, 1 - x**2, x**2)}
    fig = fe.build_deletion_insertion_figure(curves)
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["rollout", "saliency"]
    np.testing.assert_allclose(right.get_lines()[1].get_ydata(), x**2)
    assert "Deletion" in left.get_title() and "Insertion" in right.get_title()


def test_sanity_figure_colours_follow_the_verdicts_given():
    fig = fe.build_sanity_figure(["rollout", "saliency"], [0.9, 0.1], [False, True], threshold=0.5)
    ax = fig.axes[0]
    colours = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours == [fe.FAIL_COLOUR.lower(), fe.PASS_COLOUR.lower()]
    texts = sorted(t.get_text().strip() for t in ax.texts)
    assert texts == ["0.10 pass", "0.90 fail"]
    with pytest.raises(ValueError, match="same length"):
        fe.build_sanity_figure(["a", "b"], [0.1], [True, True])
