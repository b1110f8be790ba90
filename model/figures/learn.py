"""Learn-page figures: the patch-grid overlay and the rollout strip at a fixed size per panel.

Same conventions as :mod:`model.figures.maps`: OO matplotlib only, no Streamlit. The page shows the strip
with ``st.pyplot(fig, width=strip_width_px(n))`` under ``dashboard.resources.LOCK``, so a strip of one
panel stays one panel wide instead of being stretched over the page.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from numpy.typing import NDArray
from PIL import Image

from model.explain.lesson import PatchLayout
from model.figures.maps import draw_overlay, grid_record, overlay_map
from model.preprocess import Geometry

STRIP_PANEL_IN = (1.6, 1.75)  # (w, h) of one "≤ layer N" panel: the strip grows with N, each panel never does
STRIP_MAX_COLUMNS = 6
STRIP_PX_PER_IN = 100  # screen width of the strip: 160 px per panel, so six panels fit a 1000 px page
PATCH_FIGURE_IN = (4.2, 4.2)
GRID_COLOUR = "#4fc3f7"
HIGHLIGHT_COLOUR = "#ffb300"


def build_patch_grid_figure(image: Image.Image, layout: PatchLayout, title: str = "") -> Figure:
    """The scan with the model's patch borders drawn on it and the brightest patch outlined.

    Args:
        image: the scan.
        layout: patch borders on the scan (:func:`model.explain.lesson.patch_layout`).
        title: axes title.
    """
    fig = Figure(figsize=PATCH_FIGURE_IN, layout="constrained")
    ax = fig.add_subplot()
    draw_overlay(ax, image, None)
    ys, xs = layout.row_edges, layout.col_edges
    ax.hlines(ys, xs[0], xs[-1], colors=GRID_COLOUR, linewidth=0.6, alpha=0.8)
    ax.vlines(xs, ys[0], ys[-1], colors=GRID_COLOUR, linewidth=0.6, alpha=0.8)
    r, c = layout.brightest
    ax.add_patch(
        Rectangle(
            (xs[c], ys[r]), xs[c + 1] - xs[c], ys[r + 1] - ys[r], fill=False, ec=HIGHLIGHT_COLOUR, lw=1.8
        )
    )
    ax.set_title(title, fontsize=9, parse_math=False)
    return fig


def strip_size(n_panels: int) -> tuple[float, float]:
    """(width, height) in inches of a strip of ``n_panels``: a fixed size per panel, wrapped after 6."""
    cols = min(max(n_panels, 1), STRIP_MAX_COLUMNS)
    rows = -(-max(n_panels, 1) // STRIP_MAX_COLUMNS)
    return STRIP_PANEL_IN[0] * cols, STRIP_PANEL_IN[1] * rows


def strip_width_px(n_panels: int) -> int:
    """Width in screen pixels to show a strip of ``n_panels`` at (fixed, never stretched)."""
    return int(round(strip_size(n_panels)[0] * STRIP_PX_PER_IN))


def build_rollout_strip(
    image: Image.Image, rollouts: NDArray[np.floating], geometry: Geometry, upto: int, cmap: str = "inferno"
) -> Figure:
    """Rollout after layers 1..``upto`` side by side, every panel the same size whatever ``upto`` is.

    Args:
        image: the scan.
        rollouts: (L, rows, cols) cumulative rollout per layer.
        geometry: maps the patch grid onto the scan.
        upto: last layer to show (1-based, <= L).
    """
    n = int(upto)
    fig = Figure(figsize=strip_size(n))
    cols = min(n, STRIP_MAX_COLUMNS)
    rows = -(-n // STRIP_MAX_COLUMNS)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.86 if rows == 1 else 0.92, wspace=0.08)
    for i, ax in enumerate(axes):
        if i < n:
            heat = overlay_map(grid_record(rollouts[i], geometry, "rollout"), geometry)
            draw_overlay(ax, image, heat, cmap, 0.6)
            ax.set_title(f"≤ layer {i + 1}", fontsize=8)
        ax.set_axis_off()
    return fig
