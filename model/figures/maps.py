"""Map figures: heatmap overlays on one shared colour scale, the colour bar, per-layer attention.

The drawing primitives (:func:`draw_overlay`, :func:`overlay_map`) are shared by every page and by the case
report (:mod:`model.figures.case`, :mod:`model.report.pdf`). Every ``build_*`` returns a
``matplotlib.figure.Figure`` made with the OO API (no pyplot, no Streamlit); pages show them with
``st.pyplot(fig)`` while holding ``dashboard.resources.LOCK``. Maps are drawn in "× uniform" units (share of
relevance × number of cells, see ``model.explain.heatmap``) with ``vmin=0, vmax=DISPLAY_MAX_X_UNIFORM`` for
every method, so colours compare across methods and scans.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from numpy.typing import NDArray
from PIL import Image

from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM, Heatmap, relevance_shares
from model.preprocess import Geometry

# Perceptually uniform sequential maps only: equal steps in value look like equal steps in colour, and they
# stay ordered in grey print. Rainbow maps (jet, turbo) put false edges into smooth maps and are not offered.
COLOUR_MAPS = ("inferno", "viridis", "magma", "cividis", "plasma")
MAP_SIZE_IN = (3.2, 3.2)
COLOURBAR_LABEL = "relevance (× uniform: 1 = an average patch)"
OUTLINE_COLOUR = "#00e5ff"  # cyan: visible on every offered colour map and on grey scans


def draw_overlay(
    ax: Axes,
    image: Image.Image,
    heat: NDArray[np.floating] | np.ma.MaskedArray | None,
    cmap: str = "inferno",
    opacity: float = 0.5,
    vmax: float = DISPLAY_MAX_X_UNIFORM,
    outline: NDArray[np.bool_] | None = None,
) -> None:
    """Draw a scan with an optional heatmap on it, on the shared colour scale.

    Args:
        ax: target axes.
        image: scan (any PIL mode; drawn as RGB).
        heat: (H, W) map in "× uniform" units on the scan's pixels (``Heatmap.on_original``), or None.
        cmap: matplotlib colour-map name.
        opacity: heatmap opacity in [0, 1].
        vmax: colour-bar top; the same for every method (see ``model.explain.heatmap``).
        outline: (H, W) bool tumour mask on the scan's pixels; its edge is drawn as a dashed line.
    """
    ax.imshow(np.asarray(image.convert("RGB")))
    if heat is not None:
        ax.imshow(heat, cmap=cmap, alpha=float(opacity), vmin=0.0, vmax=vmax, interpolation="bilinear")
    if outline is not None and outline.shape == (image.height, image.width) and outline.any():
        ax.contour(
            outline.astype(np.float32),
            levels=[0.5],
            colors=OUTLINE_COLOUR,
            linewidths=1.0,
            linestyles="dashed",
        )
    ax.set_axis_off()


def overlay_map(record: Heatmap, geometry: Geometry) -> np.ma.MaskedArray:
    """A map in "× uniform" units on the scan's pixels, masked (transparent) outside the region the model saw.

    Args:
        record: the map, on the patch grid or the model input (:class:`~model.explain.heatmap.Heatmap`).
        geometry: the scan's crop and resize, from preprocessing; maps the map onto the scan's pixels.

    Returns:
        (H, W) float32 masked array (H, W = the scan's size), nonnegative, 1 = an average cell; masked
        outside ``geometry.crop_box``.
    """
    heat = record.on_original(geometry)
    top, left, bottom, right = geometry.crop_box
    outside = np.ones(heat.shape, dtype=bool)
    outside[top:bottom, left:right] = False
    return np.ma.masked_array(heat, mask=outside)


def build_map_figure(
    image: Image.Image,
    record: Heatmap,
    geometry: Geometry,
    title: str,
    cmap: str = "inferno",
    opacity: float = 0.5,
    outline: NDArray[np.bool_] | None = None,
) -> Figure:
    """One method's map over the scan (transparent outside the region the model saw), on the shared scale.

    Args:
        image: the scan (any PIL mode; drawn as RGB), H x W pixels.
        record: the method's map.
        geometry: the scan's crop and resize, as preprocessing made it.
        title: axes title, shown literally (``$`` is not maths).
        cmap: matplotlib colour-map name, one of :data:`COLOUR_MAPS`.
        opacity: heatmap opacity in [0, 1].
        outline: (H, W) bool tumour mask on the scan's pixels when one exists; its edge is drawn dashed.

    Returns:
        A :data:`MAP_SIZE_IN` matplotlib Figure with one axes, colour scale 0..``DISPLAY_MAX_X_UNIFORM``.
    """
    fig = Figure(figsize=MAP_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    draw_overlay(ax, image, overlay_map(record, geometry), cmap, opacity, outline=outline)
    ax.set_title(title, fontsize=10, parse_math=False)  # titles quote file names: "$" is not maths
    return fig


def build_colourbar_figure(cmap: str = "inferno", vmax: float = DISPLAY_MAX_X_UNIFORM) -> Figure:
    """A horizontal colour bar for the shared scale, shown once above the maps.

    Args:
        cmap: matplotlib colour-map name, as the maps use.
        vmax: top of the scale in "× uniform" units (the bar extends beyond it with an arrow).

    Returns:
        A 6 x 0.75 inch Figure holding only the colour bar, 0..``vmax``.
    """
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


def grid_record(raw: NDArray[np.floating], geometry: Geometry, name: str) -> Heatmap:
    """Wrap a raw nonnegative patch-grid map (e.g. one head's CLS attention) as shares for drawing.

    Args:
        raw: (rows, cols) float map on the patch grid, e.g. 14 x 14; negative values count as 0.
        geometry: gives the model input size the grid covers.
        name: recorded as the Heatmap's ``method`` (e.g. ``"head 3"``).

    Returns:
        A ``"patch"``-grid :class:`~model.explain.heatmap.Heatmap` of (rows, cols) shares summing to 1
        (all zero for an all-zero map), target 0.
    """
    return Heatmap(relevance_shares(raw), "patch", name, 0, tuple(geometry.input_size))


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
        cmap: matplotlib colour-map name.
        opacity: heatmap opacity in [0, 1].

    Returns:
        A Figure with one panel per head plus the rollout panel, at most 4 panels a row.
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
