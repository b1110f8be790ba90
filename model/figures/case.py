"""The case report as one image: scan and text on top, the maps side by side with one colour bar below.

Drawn with matplotlib's object-oriented API (no pyplot state) from a :class:`model.report.case.CaseReport`;
the text comes from :func:`model.report.case.case_text`, so no local absolute path is drawn. The printable
PDF (:mod:`model.report.pdf`) reuses the primitives of :mod:`model.figures.maps`.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from model.figures.maps import COLOURBAR_LABEL, draw_overlay, overlay_map
from model.notice import DISCLAIMER
from model.report.case import CaseReport, case_text, faithfulness_text

PNG_DPI = 110


def build_case_figure(report: CaseReport, cmap: str = "inferno", opacity: float = 0.5) -> Figure:
    """Lay out a case report on one page: scan + text on top, maps side by side with one colour bar below.

    Args:
        report: what the report shows.
        cmap: matplotlib colour-map name of the maps.
        opacity: map opacity in [0, 1].

    Returns:
        A matplotlib Figure (not attached to pyplot).
    """
    n = max(1, len(report.maps))
    fig = Figure(figsize=(max(8.0, 2.6 * n + 1.0), 7.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.1))
    ax_scan, ax_text = top.subplots(1, 2, width_ratios=(1.0, 1.6))
    draw_overlay(ax_scan, report.image, None)
    ax_scan.set_title("Scan")
    ax_text.set_axis_off()
    text = case_text(report)  # quotes the model source: "$" there is text, not mathtext
    ax_text.text(0.0, 1.0, text, va="top", ha="left", fontsize=8.5, wrap=True, parse_math=False)
    axes = np.atleast_1d(bottom.subplots(1, n))
    mappable = None
    for ax, (title, record) in zip(axes, report.maps.items(), strict=False):
        draw_overlay(ax, report.image, overlay_map(record, report.geometry), cmap, opacity)
        mappable = ax.images[-1]
        score = report.scores.get(title)
        extra = f"\n{faithfulness_text(score)}" if score else ""
        ax.set_title(f"{title}{extra}", fontsize=9)
    if mappable is not None:
        bottom.colorbar(mappable, ax=list(axes), shrink=0.8, label=COLOURBAR_LABEL)
    fig.suptitle(DISCLAIMER, fontsize=10, color="#9a1b1b")
    return fig


def render_png(report: CaseReport, cmap: str = "inferno", opacity: float = 0.5) -> bytes:
    """The case report as PNG bytes.

    Args:
        report: what the report shows.
        cmap: matplotlib colour-map name of the maps.
        opacity: map opacity in [0, 1].

    Returns:
        PNG-encoded bytes at :data:`PNG_DPI`.
    """
    fig = build_case_figure(report, cmap, opacity)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI)
    return buf.getvalue()
