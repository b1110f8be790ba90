"""Figures of the Compare page: two models' ROC curves on one axes, paired differences as a forest plot.

Same contract as :mod:`model.figures.evaluation`: plain arrays computed in ``model/`` in, a
:class:`matplotlib.figure.Figure` built with the object-oriented API out (no pyplot, no streamlit), no metric
computed here. Reliability diagrams side by side reuse ``evaluation.build_reliability_figure`` and the
disagreement gallery reuses ``maps.build_map_figure`` (one fixed "× uniform" colour scale for both models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from model.figures.evaluation import PALETTE, build_interval_figure

ROC_SIZE_IN = (4.6, 4.4)


def build_roc_overlay_figure(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike, float | None]], title: str = "ROC curves, same scans"
) -> Figure:
    """Several models' ROC curves on one axes, with the chance line.

    Args:
        curves: model name -> ((N,) false-positive rates, (N,) true-positive rates, ROC-AUC or None), in
            curve order, rates in [0, 1].
        title: axes title.

    Returns:
        A figure with one axes; the legend names each model with its AUC.
    """
    fig = Figure(figsize=ROC_SIZE_IN, layout="constrained")
    fig.patch.set_facecolor("white")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    for k, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        label = name if auc is None or not np.isfinite(auc) else f"{name} (AUC {auc:.3f})"
        ax.plot(
            np.asarray(fpr, float), np.asarray(tpr, float), color=PALETTE[k % len(PALETTE)], lw=2, label=label
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("False-positive rate (1 − specificity)")
    ax.set_ylabel("True-positive rate (sensitivity)")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return fig


def build_difference_figure(
    names: Sequence[str], points: ArrayLike, lows: ArrayLike, highs: ArrayLike, title: str = ""
) -> Figure:
    """Paired differences B − A with their 95% intervals, and the line of no difference at 0.

    Args:
        names: R metric names, drawn top to bottom.
        points: (R,) differences B − A; lows, highs: (R,) interval bounds (NaN draws no bar).
        title: axes title.
    """
    fig = build_interval_figure(names, points, lows, highs, title=title, xlabel="B − A (paired 95% interval)")
    fig.axes[0].axvline(0.0, color="grey", linestyle="--", linewidth=1)
    return fig
