"""Signed-view figures: evidence for (red) and against (blue) the class on a diverging scale centred at 0.

The signed map is a method's raw attribution as shares of all its evidence, ``raw / sum(|raw|)``
(``extras["signed"]``, :func:`model.explain.heatmap.signed_shares`), shown × number of cells like the
positive view, so ±1 means "as much as an average cell" and both views read on the same ``0–5`` magnitudes.
OO API only (no pyplot, no Streamlit); callers hold ``dashboard.resources.LOCK`` while drawing.
"""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from numpy.typing import NDArray
from PIL import Image

from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM, Heatmap
from model.figures.maps import OUTLINE_COLOUR
from model.preprocess import Geometry, to_original

DIVERGING_CMAP = "RdBu_r"  # perceptually balanced diverging map: white at 0, red = for, blue = against
SIGNED_LABEL = "evidence (× uniform): red for the class, blue against, white none"
MAP_SIZE_IN = (3.2, 3.2)


def signed_overlay(record: Heatmap, geometry: Geometry) -> np.ma.MaskedArray | None:
    """The signed map in "× uniform" units on the scan's pixels, masked outside the crop; None if absent.

    Args:
        record: a map whose ``extras["signed"]`` holds (h, w) signed shares.
        geometry: maps the map's grid onto the scan.

    Returns:
        (H, W) float32 masked array, or None when the method kept no signed map.
    """
    signed = record.extras.get("signed")
    if signed is None:
        return None
    signed = np.asarray(signed, dtype=np.float32)
    heat = to_original(signed * np.float32(signed.size), geometry)
    top, left, bottom, right = geometry.crop_box
    outside = np.ones(heat.shape, dtype=bool)
    outside[top:bottom, left:right] = False
    return np.ma.masked_array(heat, mask=outside)


def has_negative_evidence(record: Heatmap) -> bool:
    """Whether the method's raw map has any evidence against the class (False for magnitude-only maps)."""
    signed = record.extras.get("signed")
    return signed is not None and bool((np.asarray(signed) < 0).any())


def build_signed_map_figure(
    image: Image.Image,
    record: Heatmap,
    geometry: Geometry,
    title: str,
    opacity: float = 0.5,
    outline: NDArray[np.bool_] | None = None,
) -> Figure:
    """One method's signed map over the scan on the diverging scale ``±DISPLAY_MAX_X_UNIFORM``.

    Args:
        image: the scan (any PIL mode; drawn as RGB), H x W pixels.
        record: the method's map; its ``extras["signed"]`` is drawn (the scan alone when it has none).
        geometry: the scan's crop and resize, as preprocessing made it.
        title: axes title, shown literally (``$`` is not maths).
        opacity: map opacity in [0, 1].
        outline: (H, W) bool tumour mask on the scan's pixels when one exists; its edge is drawn dashed.

    Returns:
        A :data:`MAP_SIZE_IN` matplotlib Figure with one axes (red = for the class, blue = against).
    """
    fig = Figure(figsize=MAP_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(np.asarray(image.convert("RGB")))
    heat = signed_overlay(record, geometry)
    if heat is not None:
        v = DISPLAY_MAX_X_UNIFORM
        ax.imshow(heat, cmap=DIVERGING_CMAP, alpha=float(opacity), vmin=-v, vmax=v, interpolation="bilinear")
    if outline is not None and outline.shape == (image.height, image.width) and outline.any():
        ax.contour(outline.astype(np.float32), levels=[0.5], colors=OUTLINE_COLOUR, linestyles="dashed")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10, parse_math=False)
    return fig


def build_signed_colourbar_figure(vmax: float = DISPLAY_MAX_X_UNIFORM) -> Figure:
    """A horizontal diverging colour bar, −vmax … 0 … +vmax, clipped at both ends (arrows)."""
    fig = Figure(figsize=(6.0, 0.75), layout="constrained")
    ax = fig.add_subplot()
    fig.colorbar(
        ScalarMappable(Normalize(-vmax, vmax), DIVERGING_CMAP),
        cax=ax,
        orientation="horizontal",
        label=SIGNED_LABEL,
        extend="both",
    )
    return fig
