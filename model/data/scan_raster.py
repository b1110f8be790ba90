"""Raster decoding for ``model.data.scan.load_scan``: PNG, JPEG, TIFF, BMP, GIF and WebP through Pillow only.

Pillow is told which containers a scan may come in (``Image.open(..., formats=SCAN_FORMATS)``), so no other
plugin ever parses an upload: an EPS named ``.png`` never reaches Ghostscript, and XBM (C source) or PSD are
refused as "not a scan format". When Pillow cannot open a file, the signature tells apart "a scan format but
damaged or an unsupported variant", "a format scans do not come in" and "no image at all".
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from model.data.scan_core import (
    Scan,
    ScanError,
    check_geometry,
    choose_frame,
    finite_range,
    scale_to_uint8,
    shrink_image,
)
from model.errors import MriExplainError

# The containers scans (and screenshots of scans) come in; everything else Pillow knows is refused unopened.
SCAN_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP")
EXIF_ORIENTATION_TAG = 0x0112
HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
RESIZABLE_MODES = ("L", "LA", "RGB", "RGBA")
# Pillow reads 16 bytes to identify a file (``Image.open``); its ``accept`` functions look at these only.
SIGNATURE_BYTES = 16
# What corrupt files make PIL raise (as its fuzzing harness expects); anything else is a bug to surface.
_PIL_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
# Pillow's message when a zTXt/iTXt/iCCP chunk inflates past PngImagePlugin.MAX_TEXT_CHUNK.
_TEXT_BOMB = "Decompressed data too large"
# PIL's truncation switch is a process-wide global that any importer may flip; it is pinned while decoding.
_PIL_FLAGS_LOCK = threading.Lock()
NO_KNOWN_FORMAT = (
    "This file is not a readable image: its content is no known image format (whatever its name says); "
    "upload a PNG, JPEG, TIFF or DICOM scan."
)


class NotAScanImage(MriExplainError):
    """Pillow may not open the content; ``message`` says why (the caller may still try headerless DICOM)."""


def decode_raster(data: bytes, digest: str, frame: int | None, max_pixels: int) -> Scan:
    """Decode one frame of a raster image into a ``Scan`` (see ``model.data.scan.load_scan``).

    Args:
        data: The whole file.
        digest: sha256 hex digest of ``data``.
        frame: 0-based frame index; None picks the first.
        max_pixels: Largest width x height accepted.

    Returns:
        Scan with an RGB image of at most ``model.data.scan.WORKING_MAX_PIXELS`` pixels.

    Raises:
        NotAScanImage: Pillow may not or cannot identify the content (the message says which).
        ScanError: Damaged, truncated, too large or unsupported content, or a frame out of range.
    """
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
                Image.open(io.BytesIO(data), formats=["PNG"]).verify()
        except _PIL_DECODE_ERRORS as err:
            what = "is truncated or damaged and cannot be fully decoded"
            raise ScanError(_decode_failure(fmt, err, what)) from err
    notes = [f"frame {index + 1} of {n_frames}"] if n_frames > 1 else []
    mode = img.mode
    orientation = img.getexif().get(EXIF_ORIENTATION_TAG, 1)
    if orientation not in (1, None):
        img = ImageOps.exif_transpose(img)
        notes.append(f"EXIF orientation {orientation} applied")
    decoded_size = img.size
    rgb = _to_rgb8(img, notes)
    rgb.info.clear()  # text chunks, comments and EXIF may carry names: only pixels leave this module
    frame_index = index if n_frames > 1 else None
    return Scan(rgb, digest, fmt, mode, frame_index, n_frames, tuple(notes), decoded_size)


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


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Image.open (header only, scan formats only) plus the size checks, before any pixel is decoded."""
    try:
        img = Image.open(io.BytesIO(data), formats=SCAN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ScanError(
            f"The image declares far too many pixels (more than {max_pixels / 1e6:g} megapixels; "
            "a guard against decompression bombs); downscale it or export a single slice."
        ) from err
    except Image.UnidentifiedImageError:
        raise NotAScanImage(_identify_failure(data)) from None
    except _PIL_DECODE_ERRORS as err:
        raise ScanError(
            _decode_failure(_signature_format(data) or "image", err, "header is damaged")
        ) from err
    check_geometry(*img.size, max_pixels=max_pixels)
    return img


def _decode_failure(fmt: str, err: Exception, what: str) -> str:
    """The sentence for a decode error: a text-chunk bomb is named as such, anything else as damage."""
    if isinstance(err, ValueError) and _TEXT_BOMB in str(err):
        limit = PngImagePlugin.MAX_TEXT_CHUNK / 2**20
        return (
            f"The {fmt} file holds a compressed text chunk (metadata) that inflates to more than "
            f"{limit:g} MB, a decompression bomb, so it is not read; re-export the image without metadata."
        )
    return f"The {fmt} image {what} ({err}); re-export it or download it again."


def _signature_format(data: bytes) -> str | None:
    """The Pillow format whose signature check accepts the first bytes (scan formats tried first)."""
    Image.init()
    prefix = data[:SIGNATURE_BYTES]
    for fmt in (*SCAN_FORMATS, *Image.ID):
        accept = Image.OPEN.get(fmt, (None, None))[1]
        if accept is not None and accept(prefix):
            return fmt
    return None


def _identify_failure(data: bytes) -> str:
    """Why Pillow did not open ``data``: a refused container, a damaged/unsupported scan format, or none."""
    fmt = _signature_format(data)
    if fmt is None:
        return NO_KNOWN_FORMAT
    if fmt not in SCAN_FORMATS:
        return (
            f"This file is in the {fmt} format (whatever its name says), which scans do not come in, so "
            "it is not opened; upload a PNG, JPEG, TIFF or DICOM scan."
        )
    try:  # only a scan format's own plugin runs, to learn its reason (e.g. "cannot handle 12-bit layers")
        Image.OPEN[fmt][0](io.BytesIO(data), "")
        reason = "unrecognised layout"
    except _PIL_DECODE_ERRORS as err:
        reason = str(err) or type(err).__name__
    return (
        f"This {fmt} file cannot be opened ({reason}): it is damaged or uses a {fmt} variant that is not "
        "supported here; re-export the scan as an 8-bit or 16-bit PNG."
    )


def _to_rgb8(img: Image.Image, notes: list[str]) -> Image.Image:
    """Any PIL mode -> 8-bit RGB at the working size; appends a note for each lossy or non-obvious step."""
    mode = img.mode
    if mode in HIGH_BIT_MODES:
        img = shrink_image(img if mode in ("I", "F", "I;16") else img.convert("I"), notes)
        values = np.asarray(img)
        lo, hi = finite_range(values)
        notes.append(f"{mode} values {lo:g}..{hi:g} scaled to 0..255")
        return Image.fromarray(scale_to_uint8(values)).convert("RGB")
    if mode not in RESIZABLE_MODES:
        alpha = mode in ALPHA_MODES or (mode == "P" and "transparency" in img.info)
        try:
            img = img.convert("RGBA" if alpha else "RGB")
        except ValueError as err:
            raise ScanError(f"Images in colour mode {mode} are not supported; save the scan as PNG.") from err
    img = shrink_image(img, notes)
    if img.mode in ("RGBA", "LA"):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        notes.append("transparency composited on black")
        return Image.alpha_composite(black, rgba).convert("RGB")
    return img.convert("RGB")
