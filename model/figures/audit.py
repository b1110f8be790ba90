"""Error-audit thumbnails: a scan with a class-specific map, its own colour bar, and the map's peak marked.

OO matplotlib only (no pyplot, no streamlit); shown with ``st.pyplot`` under ``dashboard.resources.LOCK``.
The colour scale is the one shared by every page (``model.explain.heatmap.DISPLAY_MAX_X_UNIFORM``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM
from model.figures.maps import draw_overlay

THUMBNAIL_SIZE_IN = (3.2, 3.0)
COLOURBAR_SHORT_LABEL = "× uniform (1 = average patch)"
PEAK_COLOUR = "#00e5ff"  # cyan, as the mask outline: visible on every colour map


def build_thumbnail_figure(
    image: Image.Image,
    heat: np.ma.MaskedArray,
    title: str,
    cmap: str = "inferno",
    opacity: float = 0.45,
    peak: tuple[int, int] | None = None,
) -> Figure:
    """The scan with a map on the shared colour scale, a colour bar beside it and the peak as a ring.

    Args:
        image: the decoded scan.
        heat: (H, W) map in "× uniform" units on the scan's pixels, masked where the model saw nothing.
        title: e.g. ``"yes/Y12.jpg · why tumor"``.
        cmap: colour map; opacity: of the map in [0, 1].
        peak: (row, col) of the map's strongest pixel, or None.

    Returns:
        A figure with one image axes and one colour-bar axes.
    """
    fig = Figure(figsize=THUMBNAIL_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    draw_overlay(ax, image, heat, cmap, opacity, vmax=DISPLAY_MAX_X_UNIFORM)
    if peak is not None:
        ax.plot(peak[1], peak[0], "o", markersize=10, markerfacecolor="none", markeredgecolor=PEAK_COLOUR)
    ax.set_title(title, fontsize=8, parse_math=False)  # quotes file names: "$" is not maths
    bar = fig.colorbar(ax.images[-1], ax=ax, shrink=0.8, extend="max")
    bar.set_label(COLOURBAR_SHORT_LABEL, fontsize=7)
    bar.ax.tick_params(labelsize=7)
    return fig
