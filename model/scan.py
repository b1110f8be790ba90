"""Scan loading: one decoder for training, evaluation and the app.

``load_scan`` turns a path or raw bytes into 8-bit RGB pixels. It decodes by content (the real data set has
PNG files named ``.jpg``), handles every PIL mode a scan arrives in and DICOM (``model.scan_dicom``), and
refuses unusable input with one exception type, ``ScanError``, whose message says what is wrong and what to
do.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps

# 40 megapixels: the largest real scan is 1920x1080 (2 MP) and clinical slices are <= 2048x2048 (4 MP); 40 MP
# leaves 10x headroom while capping a decode at ~160 MB (RGBA), where a 100-byte file could ask for 40 GB.
MAX_PIXELS = 40_000_000
# Below 16 px a side there is nothing for a 16 px-patch ViT to look at: such a file is an icon, not a scan.
MIN_SIDE = 16
# A slice, a screenshot of a slice (16:9 = 1.8) or a strip of four slices stays under 5:1; 20000x20 is a line.
MAX_ASPECT_RATIO = 5.0
EXIF_ORIENTATION_TAG = 0x0112
HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
# What corrupt files make PIL raise (as its fuzzing harness expects); anything else is a bug to surface.
_PIL_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
# PIL's truncation switch is a process-wide global that any importer may flip; it is pinned while decoding.
_PIL_FLAGS_LOCK = threading.Lock()


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
    """

    image: Image.Image
    sha256: str
    source_format: str
    original_mode: str
    frame: int | None = None
    n_frames: int = 1
    notes: tuple[str, ...] = field(default=())


def load_scan(
    source: str | os.PathLike | bytes, frame: int | None = None, max_pixels: int = MAX_PIXELS
) -> Scan:
    """Decode a scan from a path or bytes, by content, into 8-bit RGB.

    Greyscale, RGB, RGBA/LA (composited on black, the MRI background), palette, 1-bit, CMYK, 16-bit and 32-bit
    integer/float images (scaled by their actual min..max range) and DICOM (modality LUT, VOI LUT or window,
    MONOCHROME1 inversion) are accepted. The declared size is checked before any pixel is decoded, and a
    truncated file is refused even where ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` was set to True elsewhere.

    Args:
        source: Path to a file, or its raw bytes.
        frame: 0-based frame for animated GIF, multi-page TIFF or multi-frame DICOM. Default: the first frame,
            or the middle frame for DICOM (the middle slice of a series shows the most anatomy).
        max_pixels: Largest width x height accepted (decompression-bomb guard).

    Returns:
        Scan whose ``image`` is an RGB PIL image of shape (H, W, 3), uint8, in 0..255.

    Raises:
        ScanError: Empty, unreadable, truncated, too large, too small, wrongly shaped or undecodable input,
            or a frame out of range.
        FileNotFoundError: ``source`` is a path that does not exist.
    """
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else _read_file(source)
    if not data:
        raise ScanError("The file is empty (0 bytes); choose the scan file again or re-export it.")
    digest = hashlib.sha256(data).hexdigest()
    from model import scan_dicom  # local import: pydicom is only needed when a DICOM arrives

    if scan_dicom.has_dicom_preamble(data):
        return scan_dicom.decode_dicom(data, digest, frame, max_pixels)
    try:
        return _decode_raster(data, digest, frame, max_pixels)
    except _NotAnImage:
        scan = scan_dicom.try_decode_headerless_dicom(data, digest, frame, max_pixels)
        if scan is None:
            raise ScanError(
                "This file is not a readable image: its content is no known image format (whatever "
                "its name says); upload a PNG, JPEG, TIFF or DICOM scan."
            ) from None
        return scan


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
    """
    arr = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        raise ScanError("The image holds no finite pixel values (all NaN or infinite); re-export it.")
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    arr = np.where(finite, arr, lo)
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.round((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


class _NotAnImage(Exception):
    """PIL does not recognise the content (internal: the caller may still try headerless DICOM)."""


def _read_file(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


@contextmanager
def _strict_pil() -> Iterator[None]:
    """Decode with truncated files refused and PIL's decompression-bomb warning raised as an error."""
    with _PIL_FLAGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode_raster(data: bytes, digest: str, frame: int | None, max_pixels: int) -> Scan:
    with _strict_pil():
        img = _open_checked(data, max_pixels)
        n_frames = int(getattr(img, "n_frames", 1))
        index = choose_frame(frame, n_frames, default=0)
        fmt = img.format or "unknown"
        try:
            if index:
                img.seek(index)
            img.load()
            if fmt == "PNG":  # load() stops at the pixels; verify() reads every chunk to IEND with CRCs
                Image.open(io.BytesIO(data)).verify()
        except _PIL_DECODE_ERRORS as err:
            raise ScanError(
                f"The {fmt} image is truncated or damaged and cannot be fully decoded ({err}); "
                "re-export it or download it again."
            ) from err
    notes = [f"frame {index + 1} of {n_frames}"] if n_frames > 1 else []
    mode = img.mode
    orientation = img.getexif().get(EXIF_ORIENTATION_TAG, 1)
    if orientation not in (1, None):
        img = ImageOps.exif_transpose(img)
        notes.append(f"EXIF orientation {orientation} applied")
    rgb = _to_rgb8(img, notes)
    rgb.info.clear()  # text chunks, comments and EXIF may carry names: only pixels leave this module
    return Scan(rgb, digest, fmt, mode, index if n_frames > 1 else None, n_frames, tuple(notes))


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Image.open (header only) plus the size checks, before any pixel is decoded."""
    try:
        img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ScanError(
            f"The image declares far too many pixels (more than {max_pixels / 1e6:g} megapixels; "
            "a guard against decompression bombs); downscale it or export a single slice."
        ) from err
    except Image.UnidentifiedImageError as err:
        raise _NotAnImage from err
    except _PIL_DECODE_ERRORS as err:
        raise ScanError(f"The image header is damaged ({err}); re-export the scan as PNG.") from err
    check_geometry(*img.size, max_pixels=max_pixels)
    return img


def _to_rgb8(img: Image.Image, notes: list[str]) -> Image.Image:
    """Any PIL mode -> 8-bit RGB; appends a note for each lossy or non-obvious step."""
    mode = img.mode
    if mode in HIGH_BIT_MODES:
        values = np.asarray(img)
        notes.append(f"{mode} values {values.min():g}..{values.max():g} scaled to 0..255")
        return Image.fromarray(scale_to_uint8(values)).convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ALPHA_MODES:
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        notes.append("transparency composited on black")
        return Image.alpha_composite(black, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except ValueError as err:
        raise ScanError(f"Images in colour mode {mode} are not supported; save the scan as PNG.") from err
