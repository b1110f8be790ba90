"""Explain/Learn figures: heatmap overlays on one shared colour scale, the colour bar, per-layer attention.

Every ``build_*`` returns a ``matplotlib.figure.Figure`` made with the OO API (no pyplot, no Streamlit);
pages show them with ``st.pyplot(fig)`` while holding ``dashboard.resources.LOCK``. Maps are drawn in
"× uniform" units (share of relevance × number of cells, see ``model.explain.heatmap``) with
``vmin=0, vmax=DISPLAY_MAX_X_UNIFORM`` for every method, so colours compare across methods and scans.
"""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from numpy.typing import NDArray
from PIL import Image

from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM, relevance_shares
from model.explain.single import MapRecord
from model.preprocess import Geometry
from model.report.case import COLOURBAR_LABEL, draw_overlay, overlay_map

# Perceptually uniform sequential maps only: equal steps in value look like equal steps in colour, and they
# stay ordered in grey print. Rainbow maps (jet, turbo) put false edges into smooth maps and are not offered.
COLOUR_MAPS = ("inferno", "viridis", "magma", "cividis", "plasma")
MAP_SIZE_IN = (3.2, 3.2)


def build_scan_figure(image: Image.Image, title: str = "") -> Figure:
    """The scan alone, at the same size as a map panel."""
    fig = Figure(figsize=MAP_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    draw_overlay(ax, image, None)
    ax.set_title(title, fontsize=10, parse_math=False)
    return fig


def build_map_figure(
    image: Image.Image,
    record: MapRecord,
    geometry: Geometry,
    title: str,
    cmap: str = "inferno",
    opacity: float = 0.5,
    outline: NDArray[np.bool_] | None = None,
) -> Figure:
    """One method's map over the scan (transparent outside the region the model saw), on the shared scale.

    ``outline`` is the scan's tumour mask (H, W) when one exists; its edge is drawn dashed.
    """
    fig = Figure(figsize=MAP_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    draw_overlay(ax, image, overlay_map(record, geometry), cmap, opacity, outline=outline)
    ax.set_title(title, fontsize=10, parse_math=False)  # titles quote file names: "$" is not maths
    return fig


def build_colourbar_figure(cmap: str = "inferno", vmax: float = DISPLAY_MAX_X_UNIFORM) -> Figure:
    """A horizontal colour bar for the shared scale, shown once above the maps."""
    fig = Figure(figsize=(6.0, 0.75), layout="constrained")
    ax = fig.add_subplot()
    fig.colorbar(
        ScalarMappable(Normalize(0.0, vmax), cmap),
        cax=ax,
        orientation="horizontal",
        label=COLOURBAR_LABEL,
        extend="max",
    )
    return fig


def grid_record(raw: NDArray[np.floating], geometry: Geometry, name: str) -> MapRecord:
    """Wrap a raw nonnegative patch-grid map (e.g. one head's CLS attention) as shares for drawing."""
    return MapRecord(relevance_shares(raw), "patch", name, 0, tuple(geometry.input_size))


def build_heads_figure(
    image: Image.Image,
    heads: NDArray[np.floating],
    rollout: NDArray[np.floating],
    geometry: Geometry,
    layer: int,
    cmap: str = "inferno",
    opacity: float = 0.55,
) -> Figure:
    """Each head's CLS attention at one layer, plus the rollout accumulated up to that layer.

    Args:
        image: the scan.
        heads: (heads, rows, cols) raw CLS -> patch attention of the layer.
        rollout: (rows, cols) cumulative rollout after this layer.
        geometry: maps the patch grid onto the scan.
        layer: 1-based layer number (titles only).
    """
    n = heads.shape[0] + 1
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.4 * cols, 2.5 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    panels = [(f"head {h + 1}", heads[h]) for h in range(heads.shape[0])] + [
        (f"rollout ≤ layer {layer}", rollout)
    ]
    for ax, (title, raw) in zip(axes, panels, strict=False):
        draw_overlay(ax, image, overlay_map(grid_record(raw, geometry, title), geometry), cmap, opacity)
        ax.set_title(title, fontsize=9, fontweight="bold" if title.startswith("rollout") else "normal")
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.suptitle(f"Layer {layer}: where the CLS token attends, per head", fontsize=10)
    return fig
