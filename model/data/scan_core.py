"""What the scan decoders share: the :class:`Scan` record, :class:`ScanError`, the size bounds and the
geometry and pixel helpers.

:mod:`model.data.scan` (``load_scan``), :mod:`model.data.scan_raster` and :mod:`model.data.scan_dicom` all
import this module and it imports none of them, so the loader imports its decoders at top level. Every name
here is re-exported by :mod:`model.data.scan`, which callers import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.errors import MriExplainError

# 40 megapixels: the largest real scan is 1920x1080 (2 MP) and clinical slices are <= 2048x2048 (4 MP); 40 MP
# leaves 10x headroom while capping a decode at ~160 MB (RGBA), where a 100-byte file could ask for 40 GB.
MAX_PIXELS = 40_000_000
# The working resolution: 2048 x 2048 is the largest clinical slice and 2x the largest real scan (2 MP); the
# model sees 224 px, so nothing it or a screen can show is lost, while memory and time stay bounded.
WORKING_MAX_PIXELS = 2048 * 2048
# Below 16 px a side there is nothing for a 16 px-patch ViT to look at: such a file is an icon, not a scan.
MIN_SIDE = 16
# A slice, a screenshot of a slice (16:9 = 1.8) or a strip of four slices stays under 5:1; 20000x20 is a line.
MAX_ASPECT_RATIO = 5.0


class ScanError(MriExplainError, ValueError):
    """The input is not a usable scan; the message says why in plain words and what to do instead."""


@dataclass(frozen=True)
class Scan:
    """A decoded scan: 8-bit RGB pixels plus where they came from.

    Attributes:
        image: RGB PIL image, 8 bits per channel, EXIF orientation already applied.
        sha256: Hex digest of the input bytes (the whole file, not the pixels).
        source_format: Container detected from the content, e.g. "PNG", "JPEG", "GIF", "TIFF", "DICOM".
        original_mode: PIL mode before conversion (e.g. "I;16", "RGBA"), or the DICOM photometric
            interpretation (e.g. "MONOCHROME1").
        frame: 0-based frame index used for multi-frame files, None for single-frame files.
        n_frames: Number of frames in the file.
        notes: Short technical notes on conversions applied (never patient-identifying DICOM values).
        decoded_size: (width, height) of the decoded pixels before the working-size reduction; ``image`` is
            this size scaled by ``image.width / decoded_size[0]`` (1.0 unless over WORKING_MAX_PIXELS).
    """

    image: Image.Image
    sha256: str
    source_format: str
    original_mode: str
    frame: int | None = None
    n_frames: int = 1
    notes: tuple[str, ...] = field(default=())
    decoded_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.decoded_size is None:
            object.__setattr__(self, "decoded_size", self.image.size)


def working_size(width: int, height: int, limit: int = WORKING_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) scaled by one factor so that width x height <= ``limit`` (unchanged when it fits).

    Args:
        width: Decoded width in pixels (>= 1).
        height: Decoded height in pixels (>= 1).
        limit: Largest pixel count of the working image.
    """
    if width * height <= limit:
        return width, height
    scale = math.sqrt(limit / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def shrink_image(img: Image.Image, notes: list[str], limit: int = WORKING_MAX_PIXELS) -> Image.Image:
    """Area-average ``img`` (any mode PIL resizes: L, LA, RGB, RGBA, I, F, I;16) down to ``working_size``.

    Args:
        img: the decoded image, any size.
        notes: the scan's technical notes; a line is appended when the image is reduced.
        limit: largest width x height kept (default :data:`WORKING_MAX_PIXELS`).

    Returns:
        ``img`` itself when it fits, else a new image of the same mode, at most ``limit`` pixels, same aspect.
    """
    size = working_size(*img.size, limit)
    if size == img.size:
        return img
    notes.append(f"reduced from {img.width} x {img.height} to {size[0]} x {size[1]} pixels (working size)")
    return img.resize(size, Image.Resampling.BOX)


def shrink_array(values: NDArray, notes: list[str], limit: int = WORKING_MAX_PIXELS) -> NDArray:
    """:func:`shrink_image` for a (R, C) or (R, C, S) array; integer arrays stay integers of the same dtype.

    Area averages of stored values stay inside the stored range, so lookup tables still index them. uint8
    and uint16 planes are resized as they are (PIL modes L and I;16); other dtypes as float32, one plane at
    a time, so the extra memory is at most one float32 plane.

    Args:
        values: (R, C) or (R, C, S) array of stored pixel values, any numeric dtype.
        notes: the scan's technical notes; a line is appended when the array is reduced.
        limit: largest R x C kept (default :data:`WORKING_MAX_PIXELS`).

    Returns:
        ``values`` itself when it fits, else an array of the same dtype and ndim with R x C at most ``limit``.
    """
    rows, cols = values.shape[:2]
    if working_size(cols, rows, limit) == (cols, rows):
        return values
    planes = values[..., None] if values.ndim == 2 else values
    native = values.dtype in (np.uint8, np.uint16)
    out = []
    for k in range(planes.shape[-1]):
        plane = np.ascontiguousarray(planes[..., k], dtype=values.dtype if native else np.float32)
        image = Image.fromarray(plane)  # L, I;16 or F
        out.append(np.asarray(shrink_image(image, notes if k == 0 else [], limit)))
    shrunk = np.stack(out, axis=-1) if values.ndim == 3 else out[0]
    if np.issubdtype(values.dtype, np.integer):
        return np.rint(shrunk).astype(values.dtype)
    return shrunk.astype(values.dtype)


def check_geometry(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse sizes no scan has, before decoding: bombs, icons and lines.

    Args:
        width: Declared width in pixels.
        height: Declared height in pixels.
        max_pixels: Largest width x height accepted.

    Raises:
        ScanError: More than ``max_pixels``, a side under ``MIN_SIDE`` or an aspect ratio over
            ``MAX_ASPECT_RATIO``.
    """
    if width * height > max_pixels:
        raise ScanError(
            f"The image declares {width} x {height} pixels ({width * height / 1e6:.1f} megapixels), "
            f"more than the {max_pixels / 1e6:g} megapixels allowed (a guard against decompression "
            "bombs); downscale it or export a single slice."
        )
    if min(width, height) < MIN_SIDE:
        raise ScanError(
            f"The image is only {width} x {height} pixels, too small to be a scan (at least "
            f"{MIN_SIDE} pixels a side is needed); upload the full-size image."
        )
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ScanError(
            f"The image is {width} x {height} pixels, not scan-shaped (aspect ratio over "
            f"{MAX_ASPECT_RATIO:g}:1); crop it to a single slice."
        )


def choose_frame(frame: int | None, n_frames: int, default: int) -> int:
    """Validate a requested 0-based frame index against ``n_frames``; None picks ``default``.

    Args:
        frame: the requested 0-based frame, or None.
        n_frames: number of frames in the file (at least 1).
        default: the frame used when ``frame`` is None (not checked).

    Returns:
        The frame index to decode.

    Raises:
        ScanError: The index is outside 0..n_frames-1.
    """
    if frame is None:
        return default
    if not 0 <= frame < n_frames:
        raise ScanError(
            f"Frame {frame} was requested but the file has {n_frames} frame(s), numbered 0 to "
            f"{n_frames - 1}; choose a frame in that range."
        )
    return frame


def scale_to_uint8(values: NDArray[np.floating] | NDArray[np.integer]) -> NDArray[np.uint8]:
    """Map an array linearly from its own min..max onto 0..255 (a constant array maps to 0).

    Args:
        values: Any shape, any real dtype; NaN/inf are treated as the minimum.

    Returns:
        uint8 array of the same shape, 0..255.

    Raises:
        ScanError: No value is finite.
    """
    arr = np.asarray(values, dtype=np.float64)
    lo, hi = finite_range(arr)
    if math.isnan(lo):
        raise ScanError("The image holds no finite pixel values (all NaN or infinite); re-export it.")
    arr = np.where(np.isfinite(arr), arr, lo)
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.round((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def finite_range(values: NDArray) -> tuple[float, float]:
    """(min, max) over the finite values (NaN/inf ignored); (nan, nan) when none is finite."""
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    return (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
