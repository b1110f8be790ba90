"""Generated phantom "scans" for tests, benchmarks and demos (no real images are ever committed).

A phantom is a dark background with a bright elliptical head; a "tumour" phantom adds a brighter blob.
They exercise every code path without any licence question.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image


def _patch_centre(y: float, x: float, head: NDArray[np.bool_], grid: int) -> tuple[float, float]:
    """Centre of the patch holding (y, x) once the model crops to the head and cuts it ``grid`` x ``grid``."""
    from model.preprocess import brain_crop_box  # local: keeps plain phantom generation free of torch

    top, left, bottom, right = brain_crop_box(np.where(head, 255, 0).astype(np.uint8))
    ch, cw = (bottom - top) / grid, (right - left) / grid  # one patch, in scan pixels
    row = min(grid - 1, max(0, int((y - top) // ch)))
    col = min(grid - 1, max(0, int((x - left) // cw)))
    # pixel centres sit at index + 0.5 in the resize, so the patch centre is half a pixel before it
    return top + (row + 0.5) * ch - 0.5, left + (col + 0.5) * cw - 0.5


def phantom(
    seed: int,
    size: tuple[int, int] = (96, 112),
    tumour: bool = False,
    border: int = 8,
    grid: int | None = None,
) -> NDArray[np.uint8]:
    """Make one greyscale phantom.

    Args:
        seed: random seed (position/size/texture of head and blob).
        size: (height, width) in pixels.
        tumour: add a bright round blob inside the head.
        border: black margin around the head, in pixels.
        grid: the model's patch grid side (e.g. 16); when given, the blob is centred on the centre of a patch
            as :func:`model.preprocess.crop_and_resize` cuts it (not where four patches meet, which makes
            every patch-grid map look misplaced).

    Returns:
        (H, W) uint8 image.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h / 2, w / 2
    ry, rx = h / 2 - border, w / 2 - border
    head = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    img = np.zeros((h, w), np.float32)
    img[head] = 90 + 25 * rng.standard_normal(head.sum()).clip(-2, 2)
    if tumour:
        by = cy + rng.uniform(-0.4, 0.4) * ry
        bx = cx + rng.uniform(-0.4, 0.4) * rx
        if grid:
            by, bx = _patch_centre(by, bx, head, grid)
        br = rng.uniform(0.15, 0.25) * min(ry, rx)
        blob = (yy - by) ** 2 + (xx - bx) ** 2 <= br**2
        img[blob] = 230
    return img.clip(0, 255).astype(np.uint8)


def phantom_image(
    seed: int, size: tuple[int, int] = (96, 112), tumour: bool = False, grid: int | None = None
) -> Image.Image:
    """Same as :func:`phantom`, as an RGB PIL image.

    Args:
        seed: random seed, as for :func:`phantom`.
        size: (height, width) in pixels.
        tumour: add a bright round blob inside the head.
        grid: the model's patch grid side, as for :func:`phantom`; None places the blob freely.

    Returns:
        RGB PIL image of ``size`` (the three channels equal), 8 bits per channel.
    """
    return Image.fromarray(phantom(seed, size, tumour, grid=grid)).convert("RGB")
