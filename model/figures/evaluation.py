"""Figures for the evaluation pages: confusion matrices, ROC/PR curves, reliability, intervals, map checks.

Every ``build_*`` function takes plain arrays that the ``model/`` modules computed and returns a
:class:`matplotlib.figure.Figure` built with the object-oriented API (no pyplot state, no streamlit), so it
can be unit-tested and rendered with ``st.pyplot(fig)``. No metric is computed here; the only arithmetic is
the row normalisation that turns confusion counts into the rates drawn beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike, NDArray

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
PASS_COLOUR, FAIL_COLOUR = "#009E73", "#D55E00"
# Cell text switches to white above this share of the colour map's range, to stay readable on dark cells.
DARK_CELL_FRACTION = 0.6


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def _as_counts(counts: ArrayLike) -> NDArray[np.int64]:
    matrix = np.asarray(counts)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion counts must be a square (K, K) matrix, got shape {matrix.shape}.")
    if (matrix < 0).any() or not np.allclose(matrix, np.round(matrix)):
        raise ValueError("confusion counts must be non-negative whole numbers.")
    return np.round(matrix).astype(np.int64)


def row_rates(counts: ArrayLike) -> NDArray[np.float64]:
    """Share of each true class (row) predicted as each class; rows without cases are all NaN.

    Args:
        counts: (K, K) confusion counts, rows = true label, columns = predicted label.

    Returns:
        (K, K) float64 in [0, 1]; each non-empty row sums to 1.
    """
    matrix = _as_counts(counts).astype(np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / totals, np.nan)


def _draw_matrix(
    ax: Axes, values: NDArray, texts: list[list[str]], labels: Sequence[str], vmax: float, title: str
) -> None:
    ax.imshow(np.nan_to_num(values), cmap="Blues", vmin=0, vmax=vmax if vmax > 0 else 1)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels=list(labels))
    ax.set_yticks(ticks, labels=list(labels), rotation=90, va="center")
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title, fontsize=11)
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            dark = vmax > 0 and np.nan_to_num(values[i, j]) > DARK_CELL_FRACTION * vmax
            ax.text(j, i, text, ha="center", va="center", fontsize=12, color="white" if dark else "black")


def build_confusion_figure(counts: ArrayLike, labels: Sequence[str], title: str = "") -> Figure:
    """Confusion matrix as counts (left) and row rates (right); rows = true label, columns = predicted.

    Args:
        counts: (K, K) non-negative integer counts, rows = true label, columns = predicted label.
        labels: K class names in index order.
        title: optional figure title (e.g. "test split, threshold 0.50").

    Returns:
        A figure with two axes; each cell is annotated with its count (left) or percentage of its row (right).

    Raises:
        ValueError: counts not square, negative or fractional, or not matching ``labels``.
    """
    matrix = _as_counts(counts)
    if matrix.shape[0] != len(labels):
        raise ValueError(f"{len(labels)} labels for a {matrix.shape[0]}x{matrix.shape[0]} confusion matrix.")
    rates = row_rates(matrix)
    fig = _figure(8.0, 3.8)
    left, right = fig.subplots(1, 2)
    count_texts = [[str(v) for v in row] for row in matrix]
    _draw_matrix(left, matrix, count_texts, labels, float(matrix.max()), "Counts")
    rate_texts = [["–" if np.isnan(v) else f"{100 * v:.0f}%" for v in row] for row in rates]
    _draw_matrix(right, rates, rate_texts, labels, 1.0, "Rates (share of each true class)")
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def _operating_point(ax: Axes, x: float, y: float, threshold: float | None) -> None:
    label = "operating point" if threshold is None else f"threshold {threshold:.2f}"
    ax.plot([x], [y], marker="o", markersize=9, color=PALETTE[5], linestyle="none", label=label, zorder=5)


def _unit_axes(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)


def build_roc_figure(
    fpr: ArrayLike,
    tpr: ArrayLike,
    auc: float | None = None,
    operating_point: tuple[float, float] | None = None,
    threshold: float | None = None,
    title: str = "ROC curve",
) -> Figure:
    """ROC curve (true- against false-positive rate) with the chance line and the current operating point.

    Args:
        fpr: (N,) false-positive rates in [0, 1], in curve order.
        tpr: (N,) true-positive rates (sensitivity) in [0, 1].
        auc: area under the curve, shown in the legend.
        operating_point: (fpr, tpr) at the chosen threshold, drawn as a dot.
        threshold: the decision threshold named in the legend.
        title: axes title.
    """
    fig = _figure(4.6, 4.4)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    name = "model" if auc is None else f"model (AUC {auc:.3f})"
    ax.plot(np.asarray(fpr, float), np.asarray(tpr, float), color=PALETTE[0], linewidth=2, label=name)
    if operating_point is not None:
        _operating_point(ax, *operating_point, threshold)
    _unit_axes(ax, "False-positive rate (1 − specificity)", "True-positive rate (sensitivity)", title)
    return fig


def build_pr_figure(
    recall: ArrayLike,
    precision: ArrayLike,
    average_precision: float | None = None,
    prevalence: float | None = None,
    operating_point: tuple[float, float] | None = None,
    threshold: float | None = None,
    title: str = "Precision–recall curve",
) -> Figure:
    """Precision against recall, with the no-skill line at the positive prevalence and the operating point.

    Args:
        recall: (N,) recall (sensitivity) values in [0, 1], in curve order.
        precision: (N,) precision (positive predictive value) in [0, 1].
        average_precision: summary area, shown in the legend.
        prevalence: share of positive cases: the precision of a classifier without skill.
        operating_point: (recall, precision) at the chosen threshold, drawn as a dot.
        threshold: the decision threshold named in the legend.
        title: axes title.
    """
    fig = _figure(4.6, 4.4)
    ax = fig.subplots()
    if prevalence is not None:
        ax.axhline(
            prevalence, linestyle="--", color="grey", linewidth=1, label=f"no skill ({prevalence:.2f})"
        )
    name = "model" if average_precision is None else f"model (AP {average_precision:.3f})"
    ax.step(
        np.asarray(recall, float),
        np.asarray(precision, float),
        where="post",
        color=PALETTE[0],
        linewidth=2,
        label=name,
    )
    if operating_point is not None:
        _operating_point(ax, *operating_point, threshold)
    _unit_axes(ax, "Recall (sensitivity)", "Precision (positive predictive value)", title)
    ax.legend(loc="lower left", fontsize=9)
    return fig


def build_reliability_figure(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]],
    ece: Mapping[str, float] | None = None,
    title: str = "Reliability diagram",
) -> Figure:
    """Observed frequency against predicted probability, one line per probability kind (e.g. raw, calibrated).

    Args:
        curves: name -> (mean predicted probability per bin, observed positive frequency per bin, cases per
            bin); three (B,) arrays of equal length, empty bins already removed.
        ece: name -> expected calibration error, shown in the legend.
        title: title of the upper axes.

    Returns:
        A figure with the diagram on top and the number of cases per bin below it.
    """
    fig = _figure(4.8, 5.4)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    width = 0.9 / max(len(curves), 1) / 10
    for k, (name, (predicted, observed, counts)) in enumerate(curves.items()):
        colour = PALETTE[k % len(PALETTE)]
        label = name if ece is None or name not in ece else f"{name} (ECE {ece[name]:.3f})"
        x = np.asarray(predicted, float)
        top.plot(x, np.asarray(observed, float), marker="o", color=colour, label=label)
        bottom.bar(x + (k - 0.5) * width, np.asarray(counts, float), width=width, color=colour, label=name)
    _unit_axes(top, "", "Observed share with tumour", title)
    top.legend(loc="upper left", fontsize=9)
    top.set_aspect("auto")
    bottom.set_xlabel("Predicted probability of tumour")
    bottom.set_ylabel("Cases")
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.grid(alpha=0.3)
    return fig


def build_interval_figure(
    names: Sequence[str],
    points: ArrayLike,
    lows: ArrayLike,
    highs: ArrayLike,
    title: str = "",
    xlabel: str = "",
) -> Figure:
    """Forest plot: one row per metric or method, a dot at the estimate and a bar over its 95% interval.

    Args:
        names: R row names, drawn top to bottom.
        points: (R,) estimates.
        lows: (R,) lower interval bounds (NaN draws no bar).
        highs: (R,) upper interval bounds.
        title: axes title.
        xlabel: what the values are (e.g. "AUC, higher is better").
    """
    point = np.asarray(points, float)
    low, high = np.asarray(lows, float), np.asarray(highs, float)
    if not len(names) == point.size == low.size == high.size:
        raise ValueError("names, points, lows and highs must have the same length.")
    fig = _figure(5.6, 0.9 + 0.45 * max(len(names), 1))
    ax = fig.subplots()
    rows = np.arange(len(names))[::-1]
    ax.hlines(rows, low, high, color=PALETTE[0], linewidth=3, alpha=0.6, label="95% interval")
    ax.plot(point, rows, "o", color=PALETTE[0], markersize=7, label="estimate")
    ax.set_yticks(rows, labels=list(names))
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(y=0.4 / max(len(names), 1))
    return fig


def build_deletion_insertion_figure(curves: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]]) -> Figure:
    """Deletion (left) and insertion (right) curves, one line per explanation method.

    Args:
        curves: method -> (fraction of patches removed/added in [0, 1], (S,) target-class probability
            during deletion, (S,) during insertion), averaged over cases.

    Returns:
        A figure with two axes. Deletion: a faithful map drops the probability fast (low area).
        Insertion: it rises fast (high area).
    """
    fig = _figure(8.6, 3.8)
    left, right = fig.subplots(1, 2, sharey=True)
    for k, (method, (fractions, deletion, insertion)) in enumerate(curves.items()):
        colour = PALETTE[k % len(PALETTE)]
        left.plot(np.asarray(fractions, float), np.asarray(deletion, float), color=colour, label=method)
        right.plot(np.asarray(fractions, float), np.asarray(insertion, float), color=colour, label=method)
    sides = ((left, "Deletion", "lower area is better"), (right, "Insertion", "higher is better"))
    for ax, what, better in sides:
        ax.set_xlabel("Share of patches, most relevant first")
        ax.set_title(f"{what} ({better})", fontsize=11)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    left.set_ylabel("Probability of the explained class")
    right.legend(fontsize=9, loc="lower right")
    return fig


def build_sanity_figure(
    methods: Sequence[str], correlations: ArrayLike, passed: Sequence[bool], threshold: float | None = None
) -> Figure:
    """Model-randomisation sanity check: similarity of each method's maps to those of a randomised model.

    Args:
        methods: M method names.
        correlations: (M,) rank correlation between real and randomised-model maps (low is good:
            the map depends on what the model learned; Adebayo et al., 2018).
        passed: M verdicts as decided by ``model.explain.quality`` (drawn green/orange, not recomputed here).
        threshold: the pass threshold, drawn as a dashed line.
    """
    values = np.asarray(correlations, float)
    if not len(methods) == values.size == len(passed):
        raise ValueError("methods, correlations and passed must have the same length.")
    fig = _figure(5.6, 0.9 + 0.45 * max(len(methods), 1))
    ax = fig.subplots()
    rows = np.arange(len(methods))[::-1]
    colours = [PASS_COLOUR if ok else FAIL_COLOUR for ok in passed]
    ax.barh(rows, values, color=colours)
    for row, value, ok in zip(rows, values, passed, strict=True):  # text right of the bar (of 0 if negative)
        ax.text(max(value, 0.0), row, f" {value:.2f} {'pass' if ok else 'fail'}", va="center", fontsize=9)
    if threshold is not None:
        ax.axvline(threshold, linestyle="--", color="grey", linewidth=1, label=f"pass below {threshold:.2f}")
        ax.legend(fontsize=9, loc="lower right")
    ax.set_yticks(rows, labels=list(methods))
    ax.set_xlim(min(0.0, float(np.nanmin(values, initial=0.0))) - 0.05, 1.15)
    ax.set_xlabel("Similarity to the randomised model's maps (lower is better)")
    ax.grid(axis="x", alpha=0.3)
    return fig
