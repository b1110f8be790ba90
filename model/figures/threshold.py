"""Figures of the Performance page's threshold section: the score distribution and every split's matrix.

``build_*`` functions take plain arrays and return a matplotlib Figure built with the object-oriented API
(no pyplot, no streamlit). No metric is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from model.figures.evaluation import PALETTE, _as_counts, _draw_matrix, _figure, row_rates

HIST_BINS = 50  # 0.02 wide: fine enough to show a pile of scores around 0.5
THRESHOLD_COLOUR = "#D55E00"


def build_score_distribution_figure(
    scores: Mapping[str, ArrayLike], threshold: float, positive: str, title: str = ""
) -> Figure:
    """Histogram of the positive-class probability per true class, with the threshold drawn on it.

    Args:
        scores: true label -> (n,) probabilities in [0, 1] of the positive class.
        threshold: the slider's threshold; scans at or right of it are called ``positive``.
        positive: the positive class name.
        title: figure title.

    Returns:
        One row of axes per class sharing the x axis; each scan is also a tick under its bar.
    """
    fig = _figure(7.0, 1.3 + 1.1 * len(scores))
    axes = np.atleast_1d(fig.subplots(len(scores), 1, sharex=True))
    bins = np.linspace(0.0, 1.0, HIST_BINS + 1)
    for i, (ax, (label, values)) in enumerate(zip(axes, scores.items(), strict=True)):
        values = np.asarray(values, dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        ax.hist(values, bins=bins, color=colour, alpha=0.8)
        ax.plot(values, np.zeros_like(values), "|", color="black", markersize=8)
        ax.axvspan(threshold, 1.0, color=THRESHOLD_COLOUR, alpha=0.08)
        ax.axvline(threshold, color=THRESHOLD_COLOUR, linewidth=1.5)
        ax.set_ylabel(f"true {label}\n(n={values.size})", fontsize=9)
        ax.yaxis.get_major_locator().set_params(integer=True)
    axes[-1].set_xlim(0.0, 1.0)
    axes[-1].set_xlabel(f"P({positive}); shaded: called {positive} at threshold {threshold:.2f}")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def build_split_confusions_figure(
    counts: Mapping[str, ArrayLike], labels: Sequence[str], threshold: float
) -> Figure:
    """Confusion matrices of several splits side by side at one threshold; counts with row rates.

    Args:
        counts: split header -> (K, K) counts, rows = true label, columns = predicted label.
        labels: K class names in index order.
        threshold: the threshold all matrices were computed at (in the title).
    """
    fig = _figure(3.1 * max(1, len(counts)), 3.2)
    axes = np.atleast_1d(fig.subplots(1, max(1, len(counts))))
    for ax, (name, matrix) in zip(axes, counts.items(), strict=False):
        matrix = _as_counts(matrix)
        rates = row_rates(matrix)
        texts = [
            [f"{c}\n({r:.0%})" if np.isfinite(r) else f"{c}" for c, r in zip(row, rate_row, strict=True)]
            for row, rate_row in zip(matrix, rates, strict=True)
        ]
        _draw_matrix(ax, np.nan_to_num(rates), texts, labels, 1.0, name)
    fig.suptitle(
        f"All splits at threshold {threshold:.2f} (rows = true label, share of the row)", fontsize=11
    )
    return fig
