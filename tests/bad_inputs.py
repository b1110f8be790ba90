"""The bad-input corpus: awkward and broken scan files, generated in memory (nothing is committed).

Used by tests/unit/test_scan.py and by the app/e2e tests: ``bad_input_corpus()`` lists every case with the
file name a user would upload, its bytes, whether ``model.scan.load_scan`` must accept it, and a substring of
the ``ScanError`` message expected when it must not. The encoders (``encode``, ``make_dicom``,
``png_declaring``) are shared with the pixel-level tests.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# Identifying values written into the "patient" DICOM; none of them may appear anywhere in the decoded Scan.
PATIENT_NAME = "Doe^Janet Secretname"
PATIENT_ID = "PID-4711-SECRET"
PATIENT_BIRTH_DATE = "19700101"
PATIENT_STRINGS = (PATIENT_NAME, "Secretname", PATIENT_ID, PATIENT_BIRTH_DATE, "4711")
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


@dataclass(frozen=True)
class BadInput:
    """One corpus case: ``expect`` is a substring of the ScanError message, or "" when ``valid``."""

    name: str
    filename: str
    data: bytes
    valid: bool
    expect: str = ""


def disc(size: int = 64, high: int = 255, dtype: type = np.uint8) -> NDArray:
    """A bright disc with a radial falloff on a black background: (size, size) of ``dtype``, 0..high."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2) / (size / 2)
    return np.round(np.clip(1.0 - r, 0.0, 1.0) * high).astype(dtype)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    """Encode a PIL image with PIL (``save_all=True`` etc. pass through as ``params``)."""
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR declares ``width`` x ``height`` 8-bit grey: a decompression bomb's header."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def make_dicom(
    pixels: NDArray | None,
    photometric: str = "MONOCHROME2",
    *,
    syntax: str = "1.2.840.10008.1.2.1",
    encapsulated: bytes | None = None,
    preamble: bool = True,
    **elements: object,
) -> bytes:
    """Write an MR DICOM file to bytes with pydicom.

    Args:
        pixels: (R, C) or (frames, R, C) greyscale, or (R, C, 3) RGB; uint8, uint16 or int16. None: no
            pixel data.
        photometric: Photometric Interpretation.
        syntax: Transfer Syntax UID (default Explicit VR Little Endian).
        encapsulated: Raw compressed frame bytes for a compressed ``syntax`` (``pixels`` then only sets the
            size).
        preamble: False strips the 128-byte preamble and "DICM" marker.
        **elements: Extra data elements by keyword, e.g. ``WindowCenter=100``.

    Returns:
        The DICOM Part 10 file as bytes.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        MR_IMAGE_STORAGE,
        "1.2.826.0.1.3680043.2.1",
    )
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MR_IMAGE_STORAGE, meta.MediaStorageSOPInstanceUID, "MR"
    if pixels is not None:
        _describe_pixels(ds, np.asarray(pixels), photometric)
        ds.PixelData = (
            encapsulate([encapsulated]) if encapsulated is not None else np.asarray(pixels).tobytes()
        )
        if encapsulated is not None:
            ds["PixelData"].VR, ds["PixelData"].is_undefined_length = "OB", True
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    return data if preamble else data[132:]


def _describe_pixels(ds: object, arr: NDArray, photometric: str) -> None:
    colour = photometric not in ("MONOCHROME1", "MONOCHROME2")
    if arr.ndim == 3 and not colour:
        ds.NumberOfFrames = arr.shape[0]
    ds.Rows, ds.Columns = (arr.shape[0], arr.shape[1]) if colour or arr.ndim == 2 else arr.shape[1:3]
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = arr.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(arr.dtype, np.signedinteger))


def _valid(name: str, filename: str, data: bytes) -> BadInput:
    return BadInput(name, filename, data, True, "")


def _invalid(name: str, filename: str, data: bytes, expect: str) -> BadInput:
    return BadInput(name, filename, data, False, expect)


def _raster_cases() -> list[BadInput]:
    grey = Image.fromarray(disc())
    jpeg, png = encode(grey, "JPEG", quality=90), encode(grey, "PNG")
    frames = [Image.fromarray(disc(high=h)) for h in (60, 120, 250)]
    return [
        _invalid("empty_file", "empty.png", b"", "empty"),
        _invalid(
            "text_renamed_jpg",
            "notes.jpg",
            b"Radiology report: no image here.\n" * 20,
            "not a readable image",
        ),
        _invalid("truncated_jpeg", "cut.jpg", jpeg[: len(jpeg) // 2], "truncated"),
        _invalid("truncated_png", "cut.png", png[: len(png) // 2], "truncated"),
        _invalid("png_without_iend", "cut_end.png", png[:-12], "truncated"),
        _invalid("bomb_png_100000", "bomb.png", png_declaring(100_000, 100_000), "megapixels"),
        _invalid("oversized_png_8000", "huge.png", png_declaring(8_000, 8_000), "megapixels"),
        _invalid("one_pixel", "dot.png", encode(Image.new("L", (1, 1), 200), "PNG"), "too small"),
        _invalid(
            "line_20000x20", "line.png", encode(Image.new("L", (20_000, 20), 90), "PNG"), "not scan-shaped"
        ),
        _valid("png_named_jpg", "scan.jpg", png),
        _valid("cmyk_jpeg", "cmyk.jpg", encode(Image.fromarray(np.dstack([disc()] * 4), "CMYK"), "JPEG")),
        _valid("png_16bit", "deep.png", encode(Image.fromarray(disc(high=4095, dtype=np.uint16)), "PNG")),
        _valid("rgba_png", "alpha.png", encode(grey.convert("RGBA"), "PNG")),
        _valid("la_png", "la.png", encode(grey.convert("LA"), "PNG")),
        _valid("palette_png", "palette.png", encode(grey.convert("P"), "PNG")),
        _valid("one_bit_png", "bw.png", encode(grey.convert("1"), "PNG")),
        _valid("float_tiff", "float.tif", encode(Image.fromarray(disc().astype(np.float32) / 7), "TIFF")),
        _valid("animated_gif", "cine.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:])),
        _valid(
            "multipage_tiff", "stack.tif", encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
        ),
    ]


def _dicom_cases() -> list[BadInput]:
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

    grey16 = disc(high=1000, dtype=np.uint16)
    stack = np.stack([disc(high=100 * (k + 1), dtype=np.uint16) for k in range(5)])
    plain = make_dicom(grey16)
    return [
        _valid("dicom_monochrome2", "slice.dcm", plain),
        _valid("dicom_monochrome1", "mono1.dcm", make_dicom(grey16, "MONOCHROME1")),
        _valid("dicom_multiframe", "cine.dcm", make_dicom(stack)),
        _valid("dicom_rgb", "colour.dcm", make_dicom(np.dstack([disc()] * 3), "RGB")),
        _valid("dicom_without_preamble", "bare.dcm", make_dicom(grey16, preamble=False)),
        _valid(
            "dicom_with_patient_data",
            "patient.dcm",
            make_dicom(
                grey16, PatientName=PATIENT_NAME, PatientID=PATIENT_ID, PatientBirthDate=PATIENT_BIRTH_DATE
            ),
        ),
        _invalid("dicom_without_pixel_data", "report.dcm", make_dicom(None), "no pixel data"),
        _invalid("dicom_truncated", "cut.dcm", plain[: len(plain) - 3000], "damaged"),
        _invalid(
            "dicom_garbage_after_marker", "junk.dcm", b"\0" * 128 + b"DICM" + bytes(range(256)) * 4, "damaged"
        ),
        _invalid(
            "dicom_jpeg2000_garbage",
            "j2k.dcm",
            make_dicom(grey16, syntax=JPEG2000Lossless, encapsulated=b"\xff\x4f\xff\x51" + b"garbage" * 50),
            "compression",
        ),
        _invalid(
            "dicom_jpegls_no_decoder",
            "jls.dcm",
            make_dicom(grey16, syntax=JPEGLSLossless, encapsulated=b"\xff\xd8" + b"jpeg-ls" * 50),
            "compression",
        ),
    ]


@cache
def _corpus() -> tuple[BadInput, ...]:
    return tuple(_raster_cases() + _dicom_cases())


def bad_input_corpus() -> list[BadInput]:
    """Every corpus case (generated once per process, then copied): valid oddities and invalid files."""
    return list(_corpus())
