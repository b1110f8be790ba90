"""The Compare-page figures draw what they are given: one ROC line per model, the line of no difference."""

from __future__ import annotations

import numpy as np

from model.figures import compare as fc


def test_roc_overlay_draws_each_model_with_its_auc_and_the_chance_line():
    curves = {
        "A (reference)": ([0.0, 0.5, 1.0], [0.0, 0.7, 1.0], 0.6),
        "B (candidate)": ([0.0, 0.2, 1.0], [0.0, 0.9, 1.0], float("nan")),
    }
    ax = fc.build_roc_overlay_figure(curves).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"chance", "A (reference) (AUC 0.600)", "B (candidate)"}  # no AUC shown for NaN
    np.testing.assert_array_equal(lines["B (candidate)"].get_xdata(), [0.0, 0.2, 1.0])
    np.testing.assert_array_equal(lines["A (reference) (AUC 0.600)"].get_ydata(), [0.0, 0.7, 1.0])
    assert lines["A (reference) (AUC 0.600)"].get_color() != lines["B (candidate)"].get_color()


def test_difference_figure_marks_zero_and_each_estimate():
    fig = fc.build_difference_figure(["Accuracy", "ROC-AUC"], [0.1, -0.05], [-0.1, -0.2], [0.3, 0.1])
    ax = fig.axes[0]
    zero = [line for line in ax.get_lines() if list(line.get_xdata()) == [0.0, 0.0]]
    assert len(zero) == 1  # the dashed line of no difference
    points = [line for line in ax.get_lines() if line.get_marker() == "o"][0]
    np.testing.assert_array_equal(points.get_xdata(), [0.1, -0.05])
    rows = dict(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True))
    assert rows == {1: "Accuracy", 0: "ROC-AUC"}  # the first name on top
    assert "B − A" in ax.get_xlabel()
