"""DICOM decoding for ``model.scan.load_scan``: one frame -> 8-bit RGB, no patient data leaving this module.

The dataset never leaves this module. The only values copied into a ``Scan`` are technical ones from an
allow-list (photometric interpretation, bit depth, modality, rescale, window, frame numbers), so names, IDs,
dates and free-text tags cannot leak into notes, errors or logs.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pydicom
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, get_decoder, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from model.scan import Scan, ScanError, check_geometry, choose_frame, scale_to_uint8

PREAMBLE_LENGTH = 128
MAGIC = b"DICM"
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT", "YBR_PARTIAL_420")
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# pydicom "reads" any bytes (with force=True, text becomes a tag such as (6568,6C6C)); only a dataset carrying
# one of these image-describing tags is taken for a DICOM.
DICOM_EVIDENCE = ("PixelData", "Rows", "Columns", "SOPClassUID", "PhotometricInterpretation")
# What damaged DICOM files make pydicom raise while parsing or decoding pixels.
_DICOM_ERRORS = (
    InvalidDicomError,
    ValueError,
    EOFError,
    OSError,
    struct.error,
    KeyError,
    AttributeError,
    TypeError,
    IndexError,
    NotImplementedError,
    RuntimeError,
)
_CORRUPT = "The DICOM file is damaged or incomplete and cannot be decoded; export the series again."


def has_dicom_preamble(data: bytes) -> bool:
    """True when ``data`` has the DICOM Part 10 marker "DICM" after the 128-byte preamble."""
    return data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] == MAGIC


def decode_dicom(data: bytes, digest: str, frame: int | None, max_pixels: int, force: bool = False) -> Scan:
    """Decode one frame of a DICOM file into a ``Scan`` (see ``model.scan.load_scan``).

    Args:
        data: The whole file.
        digest: sha256 hex digest of ``data``.
        frame: 0-based frame index; None picks the middle frame (index n_frames // 2).
        max_pixels: Largest Rows x Columns accepted.
        force: Read without the Part 10 preamble (pydicom ``force=True``).

    Returns:
        Scan with an RGB image (H, W, 3) uint8 and technical notes only.

    Raises:
        ScanError: Damaged file, no pixel data, unsupported compression or photometric interpretation, bad
            size or frame out of range.
    """
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=force)
        has_pixels = any(k in ds for k in PIXEL_DATA_KEYWORDS)
        looks_dicom = any(k in ds for k in DICOM_EVIDENCE)
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    except _DICOM_ERRORS as err:
        raise ScanError(_CORRUPT) from err
    if not looks_dicom:  # the marker is there but what follows parses as no known image tag
        raise ScanError(_CORRUPT)
    if not has_pixels:
        raise ScanError(
            "The DICOM file contains no pixel data (it may be a report or a series index rather "
            "than an image); export an image slice instead."
        )
    if rows == 0 or cols == 0:
        raise ScanError(_CORRUPT)
    check_geometry(cols, rows, max_pixels)
    index = choose_frame(frame, n_frames, default=n_frames // 2)
    notes = ["DICOM"]
    raw = _decode_pixels(ds, index)
    rgb8 = _to_rgb8(raw, ds, photometric, notes)
    if n_frames > 1:
        notes.append(f"frame {index + 1} of {n_frames}")
    return Scan(
        Image.fromarray(rgb8, "RGB"),
        digest,
        "DICOM",
        photometric,
        index if n_frames > 1 else None,
        n_frames,
        tuple(notes),
    )


def try_decode_headerless_dicom(data: bytes, digest: str, frame: int | None, max_pixels: int) -> Scan | None:
    """Decode a DICOM without the 128-byte preamble, or return None when ``data`` is not DICOM at all."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
        looks_dicom = any(k in ds for k in DICOM_EVIDENCE)
    except _DICOM_ERRORS:
        return None  # not parseable as DICOM either; the caller reports "not a readable image"
    if not looks_dicom:
        return None
    return decode_dicom(data, digest, frame, max_pixels, force=True)


def _decode_pixels(ds: Dataset, index: int) -> NDArray:
    """One frame as stored: (R, C) or (R, C, 3); compressed syntaxes go through pydicom's decoder plugins."""
    syntax = _transfer_syntax(ds)
    compressed = syntax.is_compressed
    if compressed:
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            available = False
        if not available:
            raise ScanError(_unsupported_compression(syntax))
    try:
        return pixel_array(ds, index=index)
    except _DICOM_ERRORS as err:
        raise ScanError(_unsupported_compression(syntax) if compressed else _CORRUPT) from err


def _transfer_syntax(ds: Dataset) -> pydicom.uid.UID:
    """The file's transfer syntax; a bare dataset (no file meta) gets the encoding pydicom detected."""
    if "TransferSyntaxUID" not in ds.file_meta:
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds.file_meta.TransferSyntaxUID


def _unsupported_compression(syntax: pydicom.uid.UID) -> str:
    return (
        f"The DICOM file is compressed with {syntax.name}, a compression which cannot be decoded here (no "
        "working decoder for it, or the compressed data is damaged); export the series as uncompressed DICOM "
        "or as PNG."
    )


def _to_rgb8(raw: NDArray, ds: Dataset, photometric: str, notes: list[str]) -> NDArray[np.uint8]:
    """Stored values -> (R, C, 3) uint8 following the DICOM display pipeline (PS3.4 N.2)."""
    notes.append(f"{photometric} {int(ds.get('BitsStored', 8) or 8)}-bit")
    if photometric in MONOCHROME:
        grey = _monochrome_to_uint8(raw, ds, notes)
        if photometric == "MONOCHROME1":  # MONOCHROME1: low values are white
            grey = 255 - grey
            notes.append("MONOCHROME1 inverted")
        return np.repeat(grey[..., None], 3, axis=-1)
    if photometric == "PALETTE COLOR":
        raw = apply_color_lut(raw, ds)
    elif photometric not in COLOUR:
        raise ScanError(
            f"DICOM photometric interpretation {photometric or '(missing)'} is not supported; "
            "export the series as MONOCHROME2 or RGB DICOM, or as PNG."
        )
    if raw.ndim != 3 or raw.shape[-1] != 3:
        raise ScanError(_CORRUPT)
    return raw.astype(np.uint8) if raw.dtype == np.uint8 else scale_to_uint8(raw)


def _monochrome_to_uint8(raw: NDArray, ds: Dataset, notes: list[str]) -> NDArray[np.uint8]:
    """Modality LUT (rescale), then the first window (or VOI LUT), then 0..255."""
    if raw.ndim != 2:
        raise ScanError(_CORRUPT)
    values = apply_modality_lut(raw, ds)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None or intercept is not None:
        notes.append(
            f"rescale slope {float(slope if slope is not None else 1):g} "
            f"intercept {float(intercept if intercept is not None else 0):g}"
        )
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width is not None and width > 0:  # a zero/negative width is invalid: ignored
        function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
        notes.append(f"window C/W {center:g}/{width:g}")
        return window_to_uint8(values, center, width, function)
    if ds.get("VOILUTSequence"):
        values = apply_voi_lut(values, ds)
        notes.append("VOI LUT applied")
    return scale_to_uint8(values)


def window_to_uint8(
    values: NDArray, center: float, width: float, function: str = "LINEAR"
) -> NDArray[np.uint8]:
    """Apply a DICOM window (PS3.3 C.11.2.1.2) mapping the window onto 0..255; outside values saturate.

    pydicom's ``apply_windowing`` maps onto the stored bit range, not onto a display range, so the window is
    applied here with the standard's formulas.

    Args:
        values: Modality values (after rescale), any shape.
        center: Window Center.
        width: Window Width (>= 1 for LINEAR, > 0 otherwise).
        function: VOI LUT Function: "LINEAR" (default), "LINEAR_EXACT" or "SIGMOID".

    Returns:
        uint8 array of the same shape.
    """
    x = np.asarray(values, dtype=np.float64)
    if function == "SIGMOID":
        y = 1.0 / (1.0 + np.exp(np.clip(-4.0 * (x - center) / width, -700.0, 700.0)))  # clip: exp overflow
    elif function == "LINEAR_EXACT":
        y = (x - center) / width + 0.5
    else:  # LINEAR: the standard's half-pixel offsets
        y = (x - (center - 0.5)) / max(width - 1.0, 1.0) + 0.5
    return np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8)


def _first(value: object) -> float | None:
    """Window Center/Width may be multi-valued (alternative views): the first is the default view."""
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        value = value[0] if len(value) else None
    return None if value is None or value == "" else float(value)
