"""DICOM decoding for :func:`~model.data.scan.load_scan`: one frame -> 8-bit RGB; no patient data leaves.

The dataset never leaves this module. The only values copied into a ``Scan`` are technical ones from an
allow-list (photometric interpretation, bit depth, modality, rescale, window, frame numbers), so names, IDs,
dates and free-text tags cannot leak into notes, errors or logs.

Bounds: a "Deflated Explicit VR Little Endian" file is inflated here, to at most
``INFLATED_BYTES_PER_PIXEL x max_pixels`` bytes, before pydicom parses it (pydicom would inflate without
limit); the pixel layout (size, samples, bits, photometric interpretation) is checked before any pixel is
decoded, and the stored values are reduced to the working size before the display pipeline.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.data.scan_core import Scan, ScanError, check_geometry, choose_frame, scale_to_uint8, shrink_array

if TYPE_CHECKING:  # pydicom is imported by the functions that decode a DICOM (a PNG never loads it)
    from pydicom.dataset import Dataset
    from pydicom.uid import UID

PREAMBLE_LENGTH = 128
MAGIC = b"DICM"
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT", "YBR_PARTIAL_420")
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
SUPPORTED_SAMPLES = (1, 3)
SUPPORTED_BITS_ALLOCATED = (1, 8, 16, 32, 64)
# A deflated dataset may inflate to 2 bytes per allowed pixel, one 16-bit slice of max_pixels (80 MB at the
# 40 MP limit), plus 1 MiB for the other elements. A 1 MB deflated file can otherwise claim gigabytes.
INFLATED_BYTES_PER_PIXEL = 2
INFLATED_HEADER_BYTES = 2**20
# pydicom "reads" any bytes (with force=True, text becomes a tag such as (6568,6C6C)); only a dataset carrying
# one of these image-describing tags is taken for a DICOM.
DICOM_EVIDENCE = ("PixelData", "Rows", "Columns", "SOPClassUID", "PhotometricInterpretation")
# What damaged DICOM files make pydicom raise while parsing or decoding pixels, besides its InvalidDicomError
# (see :func:`_dicom_errors`).
_PARSE_ERRORS = (
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
_UNSUPPORTED = (
    "The DICOM file stores its pixels in a layout that cannot be decoded here; export the series as "
    "MONOCHROME2 DICOM or as PNG."
)
_BAD_DISPLAY = (
    "The DICOM file's display attributes (rescale, window or lookup tables) are damaged or inconsistent, so "
    "its pixels cannot be shown correctly; export the series again."
)


def _dicom_errors() -> tuple[type[Exception], ...]:
    """What damaged DICOM files make pydicom raise while parsing or decoding pixels."""
    from pydicom.errors import InvalidDicomError

    return (InvalidDicomError, *_PARSE_ERRORS)


def has_dicom_preamble(data: bytes) -> bool:
    """True when ``data`` has the DICOM Part 10 marker "DICM" after the 128-byte preamble."""
    return data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] == MAGIC


def decode_dicom(data: bytes, digest: str, frame: int | None, max_pixels: int, force: bool = False) -> Scan:
    """Decode one frame of a DICOM file into a ``Scan`` (see ``model.data.scan.load_scan``).

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
    import pydicom

    data = inflate_deflated(data, max_pixels, force)
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=force)
        del data  # an inflated copy: the dataset holds what is needed
        has_pixels = any(k in ds for k in PIXEL_DATA_KEYWORDS)
        looks_dicom = any(k in ds for k in DICOM_EVIDENCE)
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    except _dicom_errors() as err:
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
    _check_layout(ds, photometric)
    index = choose_frame(frame, n_frames, default=n_frames // 2)
    notes = ["DICOM"]
    raw = _decode_pixels(ds, index)
    for keyword in PIXEL_DATA_KEYWORDS:  # decoded: free the stored bytes before the display pipeline
        ds.pop(keyword, None)
    raw = shrink_array(raw, notes)
    try:
        rgb8 = _to_rgb8(raw, ds, photometric, notes)
    except ScanError:
        raise
    except (*_dicom_errors(), ArithmeticError) as err:  # e.g. a LUT shorter than its descriptor, a bad window
        raise ScanError(_BAD_DISPLAY) from err
    if n_frames > 1:
        notes.append(f"frame {index + 1} of {n_frames}")
    frame_index = index if n_frames > 1 else None
    image = Image.fromarray(rgb8, "RGB")
    return Scan(image, digest, "DICOM", photometric, frame_index, n_frames, tuple(notes), (cols, rows))


def try_decode_headerless_dicom(data: bytes, digest: str, frame: int | None, max_pixels: int) -> Scan | None:
    """Decode a DICOM without the 128-byte preamble, or return None when ``data`` is not DICOM at all.

    Args:
        data: the file's raw bytes (no ``DICM`` preamble; a deflated transfer syntax is inflated first).
        digest: hex sha256 of ``data`` as read, stored in the result.
        frame: 0-based frame to decode, or None for the middle frame.
        max_pixels: largest width x height accepted (also bounds the inflated size).

    Returns:
        The decoded :class:`~model.data.scan_core.Scan`, or None when the bytes hold none of the DICOM
        elements that mark a real data set.

    Raises:
        ScanError: the bytes are DICOM but cannot be used, as :func:`decode_dicom`, or inflate too far.
    """
    import pydicom

    data = inflate_deflated(data, max_pixels, force=True)
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
        looks_dicom = any(k in ds for k in DICOM_EVIDENCE)
    except _dicom_errors():
        return None  # not parseable as DICOM either; the caller reports "not a readable image"
    if not looks_dicom:
        return None
    return decode_dicom(data, digest, frame, max_pixels, force=True)


def inflate_deflated(data: bytes, max_pixels: int, force: bool = False) -> bytes:
    """A deflated DICOM re-encoded as Explicit VR Little Endian, inflated with a bound; other data unchanged.

    Args:
        data: The whole file (with or without the 128-byte preamble when ``force``).
        max_pixels: Largest Rows x Columns accepted; the inflated dataset may hold
            ``INFLATED_BYTES_PER_PIXEL * max_pixels + INFLATED_HEADER_BYTES`` bytes.
        force: Read without the Part 10 preamble (as pydicom ``force=True``).

    Returns:
        ``data`` itself unless its transfer syntax is Deflated Explicit VR Little Endian.

    Raises:
        ScanError: The deflated data is damaged or inflates beyond the bound.
    """
    from pydicom.filereader import _read_file_meta_info, read_preamble  # pinned pydicom 3.0.2
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

    fp = io.BytesIO(data)
    try:
        read_preamble(fp, force)
        meta = _read_file_meta_info(fp)
    except _dicom_errors():
        return data  # not readable as Part 10 meta: pydicom reports it (and does not inflate)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return data
    limit = INFLATED_BYTES_PER_PIXEL * max_pixels + INFLATED_HEADER_BYTES
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        dataset = inflater.decompress(data[fp.tell() :], limit + 1)
    except zlib.error as err:
        raise ScanError(_CORRUPT) from err
    if len(dataset) > limit or inflater.unconsumed_tail:
        raise ScanError(
            f"The deflated DICOM file inflates to more than {limit / 2**20:.3g} MB, more than one slice "
            f"of at most {max_pixels / 1e6:g} megapixels needs (a guard against decompression bombs); "
            "export the series uncompressed or as PNG."
        )
    if not inflater.eof:  # the deflate stream stops before its final block: a cut file
        raise ScanError(_CORRUPT)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    out.write(b"\0" * PREAMBLE_LENGTH + MAGIC)
    write_file_meta_info(out, meta, enforce_standard=True)
    out.write(dataset)
    del dataset  # one inflated copy at a time
    return out.getvalue()


def _check_layout(ds: Dataset, photometric: str) -> None:
    """Refuse pixel layouts this decoder does not support before decoding (so "damaged" means damaged)."""
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    if photometric not in (*MONOCHROME, *COLOUR, "PALETTE COLOR"):
        raise ScanError(
            f"DICOM photometric interpretation {photometric or '(missing)'} is not supported; "
            "export the series as MONOCHROME2 or RGB DICOM, or as PNG."
        )
    if samples not in SUPPORTED_SAMPLES or bits not in SUPPORTED_BITS_ALLOCATED:
        raise ScanError(
            f"DICOM pixels of {samples} sample(s) and {bits} bits allocated are not supported (1 or 3 "
            "samples of 1, 8, 16, 32 or 64 bits are); export the series as MONOCHROME2 DICOM or as PNG."
        )
    if photometric == "PALETTE COLOR" and "RedPaletteColorLookupTableDescriptor" not in ds:
        raise ScanError(
            "The DICOM file is PALETTE COLOR but lacks its colour lookup tables, so its colours are unknown; "
            "export the series again or as RGB DICOM."
        )


def _decode_pixels(ds: Dataset, index: int) -> NDArray:
    """One frame as stored: (R, C) or (R, C, 3); compressed syntaxes go through pydicom's decoder plugins."""
    from pydicom.pixels import get_decoder, pixel_array

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
    except NotImplementedError as err:  # a layout pydicom does not decode (the checks above let it pass)
        raise ScanError(_unsupported_compression(syntax) if compressed else _UNSUPPORTED) from err
    except _dicom_errors() as err:
        raise ScanError(_unsupported_compression(syntax) if compressed else _CORRUPT) from err


def _transfer_syntax(ds: Dataset) -> UID:
    """The file's transfer syntax; a bare dataset (no file meta) gets the encoding pydicom detected."""
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if "TransferSyntaxUID" not in ds.file_meta:
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return ds.file_meta.TransferSyntaxUID


def _unsupported_compression(syntax: UID) -> str:
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
        from pydicom.pixels import apply_color_lut

        raw = apply_color_lut(raw, ds)
    if raw.ndim != 3 or raw.shape[-1] != 3:
        raise ScanError(_CORRUPT)
    return raw.astype(np.uint8) if raw.dtype == np.uint8 else scale_to_uint8(raw)


def _monochrome_to_uint8(raw: NDArray, ds: Dataset, notes: list[str]) -> NDArray[np.uint8]:
    """Modality LUT (rescale), then the first window (or VOI LUT), then 0..255."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    if raw.ndim != 2:
        raise ScanError(_CORRUPT)
    slope, intercept = _number(ds, "RescaleSlope"), _number(ds, "RescaleIntercept")
    if (slope is not None and (math.isnan(slope) or slope == 0)) or (
        intercept is not None and math.isnan(intercept)
    ):
        raise ScanError(
            "The DICOM rescale slope or intercept is not a usable number (missing digits, NaN, infinite or "
            "a zero slope), so the pixel values are unknown; export the series again."
        )
    values = apply_modality_lut(raw, ds)
    if slope is not None or intercept is not None:
        notes.append(f"rescale slope {1.0 if slope is None else slope:g} intercept {intercept or 0.0:g}")
    center, width = _number(ds, "WindowCenter"), _number(ds, "WindowWidth")
    if center is not None and width is not None:
        if math.isfinite(center) and math.isfinite(width) and width > 0:
            function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
            notes.append(f"window C/W {center:g}/{width:g}")
            return window_to_uint8(values, center, width, function)
        notes.append("window ignored (centre or width not a finite number, or width <= 0)")
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


def _number(ds: Dataset, keyword: str) -> float | None:
    """The first value of a numeric display attribute: None when absent, NaN when not a finite number.

    Window Center/Width may be multi-valued (alternative views): the first is the default view.
    """
    from pydicom.multival import MultiValue

    try:
        value = ds.get(keyword)
    except _dicom_errors():
        return math.nan
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan
