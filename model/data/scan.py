"""Scan loading: one decoder for training, evaluation and the app.

``load_scan`` turns a path or raw bytes into 8-bit RGB pixels. It decodes by content (the real data set has
PNG files named ``.jpg``), handles every PIL mode a scan arrives in (``model.data.scan_raster``) and DICOM
(``model.data.scan_dicom``), and refuses unusable input with one exception type, ``ScanError``, whose message
says what is wrong and what to do.

Resource bounds (what one call may cost, whatever the input):

- input: at most :data:`MAX_FILE_BYTES` (20 MiB, the upload limit) are read;
- decoded size: at most :data:`MAX_PIXELS` (40 MP), checked from the header before any pixel is decoded; a
  deflated DICOM is inflated to at most ``INFLATED_BYTES_PER_PIXEL x MAX_PIXELS`` bytes before parsing;
- working size: pixels above :data:`WORKING_MAX_PIXELS` (2048 x 2048, the largest clinical slice) are
  area-averaged down to it before any conversion, so everything downstream (display, maps, reports, the
  model's crop) works on at most 4.2 MP. ``Scan.decoded_size`` keeps the exact decoded size, so the scale
  factor is known. No real scan is that large, so training and evaluation see the full decoded pixels.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# 40 megapixels: the largest real scan is 1920x1080 (2 MP) and clinical slices are <= 2048x2048 (4 MP); 40 MP
# leaves 10x headroom while capping a decode at ~160 MB (RGBA), where a 100-byte file could ask for 40 GB.
MAX_PIXELS = 40_000_000
# The working resolution: 2048 x 2048 is the largest clinical slice and 2x the largest real scan (2 MP); the
# model sees 224 px, so nothing it or a screen can show is lost, while memory and time stay bounded.
WORKING_MAX_PIXELS = 2048 * 2048
# The upload limit (.streamlit/config.toml server.maxUploadSize = 20 MB); a path is read no further either.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Below 16 px a side there is nothing for a 16 px-patch ViT to look at: such a file is an icon, not a scan.
MIN_SIDE = 16
# A slice, a screenshot of a slice (16:9 = 1.8) or a strip of four slices stays under 5:1; 20000x20 is a line.
MAX_ASPECT_RATIO = 5.0


class ScanError(ValueError):
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


def load_scan(
    source: str | os.PathLike | bytes, frame: int | None = None, max_pixels: int = MAX_PIXELS
) -> Scan:
    """Decode a scan from a path or bytes, by content, into 8-bit RGB at most WORKING_MAX_PIXELS large.

    Greyscale, RGB, RGBA/LA (composited on black, the MRI background), palette, 1-bit, CMYK, 16-bit and 32-bit
    integer/float images (scaled by their actual min..max range) in PNG, JPEG, TIFF, BMP, GIF or WebP, and
    DICOM (modality LUT, VOI LUT or window, MONOCHROME1 inversion) are accepted; other containers (EPS, XBM,
    PSD, ...) are refused before their decoder runs. The declared size is checked before any pixel is
    decoded, and a truncated file is refused even where ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` was set to
    True elsewhere. The module docstring lists the resource bounds.

    Args:
        source: Path to a file, or its raw bytes (at most MAX_FILE_BYTES).
        frame: 0-based frame for animated GIF, multi-page TIFF or multi-frame DICOM. Default: the first frame,
            or the middle frame for DICOM (the middle slice of a series shows the most anatomy).
        max_pixels: Largest width x height accepted (decompression-bomb guard).

    Returns:
        Scan whose ``image`` is an RGB PIL image of shape (H, W, 3), uint8, in 0..255.

    Raises:
        ScanError: Empty, oversized, unreadable, unsupported, truncated, too large, too small, wrongly shaped
            or undecodable input, or a frame out of range.
        FileNotFoundError: ``source`` is a path that does not exist.
    """
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else _read_file(source)
    if not data:
        raise ScanError("The file is empty (0 bytes); choose the scan file again or re-export it.")
    if len(data) > MAX_FILE_BYTES:
        raise ScanError(
            f"The file is larger than {MAX_FILE_BYTES // 2**20} MB, more than one scan slice needs; "
            "export a single slice (PNG or DICOM)."
        )
    digest = hashlib.sha256(data).hexdigest()
    from model.data import (
        scan_dicom,
        scan_raster,  # local: they import this module (and pydicom is heavy)
    )

    if scan_dicom.has_dicom_preamble(data):
        return scan_dicom.decode_dicom(data, digest, frame, max_pixels)
    try:
        return scan_raster.decode_raster(data, digest, frame, max_pixels)
    except scan_raster.NotAScanImage as err:
        scan = scan_dicom.try_decode_headerless_dicom(data, digest, frame, max_pixels)
        if scan is None:
            raise ScanError(err.message) from None
        return scan


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
    """Area-average ``img`` (any mode PIL resizes: L, LA, RGB, RGBA, I, F, I;16) down to ``working_size``."""
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


def _read_file(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)  # one byte more tells an oversized file apart
