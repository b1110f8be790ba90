"""Heatmap overlays composited as arrays at display size: what the Explain page shows on every rerun.

Drawing a map with matplotlib at the scan's own resolution cost 0.1-0.2 s a map on every rerun, and seconds
for a large scan. Here the scan is reduced once to :data:`DISPLAY_SIDE` pixels on its longest side
(:func:`display_scan`), the map is stretched over the crop box at that size (:func:`display_heat`, the same
bilinear resampling as :func:`model.preprocess.to_original`) and blended in numpy (:func:`composite`), so an
opacity or colour-map change costs milliseconds whatever the scan's size. Colours are the shared scale of
:mod:`model.explain.heatmap` (0 to ``DISPLAY_MAX_X_UNIFORM``, clipped at the top), as in the report.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage

from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM, Heatmap
from model.figures.maps import OUTLINE_COLOUR
from model.preprocess import Geometry

DISPLAY_SIDE = 512  # px on the longest side: wider than a map column of the Explain page at 1400 px
DASH_PX = 4  # outline dash and gap length, display pixels
_OUTLINE_RGB = np.array([int(OUTLINE_COLOUR[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)


def display_size(original_size: tuple[int, int], side: int = DISPLAY_SIDE) -> tuple[int, int]:
    """(height, width) of the displayed picture: the scan scaled down (never up) to ``side`` px at most.

    Args:
        original_size: (height, width) of the scan in pixels.
        side: longest displayed side in pixels.

    Returns:
        (height, width), each at least 1, aspect ratio kept up to rounding.
    """
    h, w = original_size
    scale = min(1.0, side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def display_scan(image: Image.Image, side: int = DISPLAY_SIDE) -> NDArray[np.uint8]:
    """The scan as (h, w, 3) uint8 RGB at display size (reduced once per scan; callers cache it).

    Args:
        image: the decoded scan (any PIL mode; converted to RGB).
        side: longest displayed side in pixels; a smaller scan is kept at its own size.

    Returns:
        (h, w, 3) uint8 RGB array, (h, w) = :func:`display_size` of the scan (area-averaged when reduced).
    """
    h, w = display_size((image.height, image.width), side)
    rgb = image.convert("RGB")
    return np.asarray(rgb if (h, w) == (rgb.height, rgb.width) else rgb.resize((w, h), Image.Resampling.BOX))


def _scaled_box(geometry: Geometry, size: tuple[int, int]) -> tuple[int, int, int, int]:
    sy, sx = size[0] / geometry.original_size[0], size[1] / geometry.original_size[1]
    top, left, bottom, right = geometry.crop_box
    t, lft = round(top * sy), round(left * sx)
    return t, lft, max(t + 1, round(bottom * sy)), max(lft + 1, round(right * sx))


def display_heat(record: Heatmap, geometry: Geometry, size: tuple[int, int]) -> NDArray[np.float32]:
    """The map in "x uniform" units over the crop box at display ``size``; NaN where the model saw nothing.

    Args:
        record: the map (patch or input grid).
        geometry: the scan's crop and resize; its crop box is scaled to ``size``.
        size: (h, w) display size, from :func:`display_size`.

    Returns:
        (h, w) float32, nonnegative inside the scaled crop box (1 = an average cell, bilinear), NaN outside.
    """
    top, left, bottom, right = _scaled_box(geometry, size)
    src = Image.fromarray(record.relative(), mode="F")
    out = np.full(size, np.nan, dtype=np.float32)
    inner = src.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    out[top:bottom, left:right] = np.asarray(inner)
    return out


def outline_edge(mask: NDArray[np.bool_], size: tuple[int, int]) -> NDArray[np.bool_]:
    """The dashed edge of a tumour mask (original pixels) at display ``size`` (nearest-neighbour).

    Args:
        mask: (H, W) bool tumour mask on the scan's pixels.
        size: (h, w) display size, from :func:`display_size`.

    Returns:
        (h, w) bool array, True on every other :data:`DASH_PX`-pixel stretch of the mask's one-pixel edge.
    """
    small = Image.fromarray(mask.astype(np.uint8) * 255).resize(size[::-1], Image.Resampling.NEAREST)
    inside = np.asarray(small) > 127
    edge = inside & ~ndimage.binary_erosion(inside)
    rows, cols = np.indices(size)
    return edge & (((rows + cols) // DASH_PX) % 2 == 0)


def composite(
    scan_rgb: NDArray[np.uint8],
    heat: NDArray[np.float32],
    cmap: str,
    opacity: float,
    edge: NDArray[np.bool_] | None = None,
) -> NDArray[np.uint8]:
    """Blend a heatmap over the scan: ``(1 - opacity) * scan + opacity * colour`` inside the crop box.

    Args:
        scan_rgb: (h, w, 3) uint8 from :func:`display_scan`.
        heat: (h, w) from :func:`display_heat` (NaN = transparent).
        cmap: matplotlib colour-map name (only its colour table is used; nothing is drawn).
        opacity: in [0, 1].
        edge: (h, w) outline pixels to paint in the outline colour, or None.

    Returns:
        (h, w, 3) uint8 RGB.
    """
    seen = ~np.isnan(heat)
    level = np.clip(np.nan_to_num(heat) / DISPLAY_MAX_X_UNIFORM, 0.0, 1.0)
    colour = matplotlib.colormaps[cmap](level, bytes=True)[..., :3].astype(np.float32)
    alpha = np.where(seen, np.float32(opacity), np.float32(0.0))[..., None]
    out = scan_rgb.astype(np.float32) * (1.0 - alpha) + colour * alpha
    if edge is not None:
        out[edge] = _OUTLINE_RGB
    return np.rint(out).astype(np.uint8)
