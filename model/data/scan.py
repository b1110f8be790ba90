"""Scan loading: one decoder for training, evaluation and the app.

``load_scan`` turns a path or raw bytes into 8-bit RGB pixels. It decodes by content (the real data set has
PNG files named ``.jpg``), handles every PIL mode a scan arrives in (``model.data.scan_raster``) and DICOM
(``model.data.scan_dicom``, which imports pydicom only when a DICOM is decoded), and refuses unusable input
with one exception type, ``ScanError``, whose message says what is wrong and what to do. What the decoders
share (``Scan``, ``ScanError``, the bounds, the pixel helpers) lives in ``model.data.scan_core`` and is
re-exported here.

Resource bounds (what one call may cost, whatever the input):

- input: at most :data:`MAX_FILE_BYTES` (20 MiB, the upload limit) are read;
- decoded size: at most :data:`MAX_PIXELS` (40 MP), checked from the header before any pixel is decoded; a
  deflated DICOM is inflated to at most ``INFLATED_BYTES_PER_PIXEL x MAX_PIXELS`` bytes before parsing;
- working size: pixels above :data:`WORKING_MAX_PIXELS` (2048 x 2048, the largest clinical slice) are
  area-averaged down to it before any conversion, so everything downstream (display, maps, reports, the
  model's crop) works on at most 4.2 MP. ``Scan.decoded_size`` keeps the exact decoded size, so the scale
  factor is known. No real scan is that large, so training and evaluation see the full decoded pixels.

Example::

    from model.data.scan import ScanError, load_scan

    try:
        scan = load_scan("data/brain_tumor_dataset/yes/Y1.jpg")  # or the uploaded file's bytes
    except ScanError as err:
        print(err)  # what is wrong with the file and what to do instead
    else:
        print(scan.source_format, scan.image.size, scan.sha256[:12], scan.notes)
"""

from __future__ import annotations

import hashlib
import os

from model.data import scan_dicom, scan_raster
from model.data.scan_core import (
    MAX_ASPECT_RATIO,
    MAX_PIXELS,
    MIN_SIDE,
    WORKING_MAX_PIXELS,
    Scan,
    ScanError,
    check_geometry,
    choose_frame,
    finite_range,
    scale_to_uint8,
    shrink_array,
    shrink_image,
    working_size,
)

# The upload limit (.streamlit/config.toml server.maxUploadSize = 20 MB); a path is read no further either.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Re-exported: callers import the scan vocabulary from here, whichever module defines it.
__all__ = [
    "MAX_ASPECT_RATIO",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "WORKING_MAX_PIXELS",
    "Scan",
    "ScanError",
    "check_geometry",
    "choose_frame",
    "finite_range",
    "load_scan",
    "scale_to_uint8",
    "shrink_array",
    "shrink_image",
    "working_size",
]


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
    if scan_dicom.has_dicom_preamble(data):
        return scan_dicom.decode_dicom(data, digest, frame, max_pixels)
    try:
        return scan_raster.decode_raster(data, digest, frame, max_pixels)
    except scan_raster.NotAScanImage as err:
        scan = scan_dicom.try_decode_headerless_dicom(data, digest, frame, max_pixels)
        if scan is None:
            raise ScanError(err.message) from None
        return scan


def _read_file(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)  # one byte more tells an oversized file apart
