"""The bad-input corpus: awkward and broken scan files, generated in memory (nothing is committed).

Used by tests/unit/data/test_scan.py and by the app/e2e tests: ``bad_input_corpus()`` lists every case with
the
file name a user would upload, its bytes, whether ``model.data.scan.load_scan`` must accept it, and a
substring of
the ``ScanError`` message expected when it must not. The encoders (``encode``, ``make_dicom``,
``png_declaring``, ``png_with_chunk``, ``with_raw_value``) are shared with the pixel-level tests.

Besides broken files the corpus holds hostile ones (issue 14): other containers disguised as scans (EPS,
XBM, PPM), decompression bombs hidden in metadata (PNG zTXt/iTXt) or in a deflated DICOM, DICOM display
attributes that are not numbers or lookup tables shorter than declared, and scan-format variants that are
not supported (12-bit JPEG, 12 bits allocated, an unknown photometric interpretation).
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


def png_with_chunk(png: bytes, kind: bytes, payload: bytes, after_idat: bool = False) -> bytes:
    """``png`` with one extra chunk (CRC included) after IHDR, or just before IEND when ``after_idat``."""
    chunk = struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    at = len(png) - 12 if after_idat else 33  # IEND is the last 12 bytes; 8 signature + 25 IHDR bytes
    return png[:at] + chunk + png[at:]


def with_raw_value(data: bytes, marker: bytes, value: bytes) -> bytes:
    """Replace a unique ``marker`` in an encoded file by ``value`` of the same length (a value pydicom would
    refuse to write, e.g. the text "abc" in a decimal-string tag)."""
    if data.count(marker) != 1 or len(marker) != len(value):
        raise ValueError("the marker must occur once and the replacement keep its length")
    return data.replace(marker, value)


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


# A decimal string no real header holds, replaced after encoding (DS values are padded to an even length).
DS_MARKER = b"98765.4 "
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n" + b"0 0 moveto 64 64 lineto stroke\n" * 8
XBM = (
    b"#define scan_width 32\n#define scan_height 32\nstatic char scan_bits[] = {\n" + b"0x00," * 128 + b"};\n"
)
TEXT_BOMB_BYTES = 20_000_000  # inflated size of the zTXt/iTXt bombs: 20x Pillow's 1 MB text-chunk limit
DEFLATE_BOMB_BYTES = 100_000_000  # inflated size of the deflated-DICOM bomb: over the 80 MB bound at 40 MP


def lut_item(n_entries: int, values: list[int], **extra: object) -> object:
    """A LUT sequence item whose descriptor declares ``n_entries`` 16-bit entries but holds ``values``."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor = [n_entries, 0, 16]
    item.LUTData = struct.pack(f"<{len(values)}H", *values)
    for keyword, value in extra.items():
        setattr(item, keyword, value)
    return item


def deflate_bomb(pixels: NDArray, n_bytes: int = DEFLATE_BOMB_BYTES) -> bytes:
    """A small deflated DICOM whose dataset inflates to over ``n_bytes`` (zeros in a private OB element)."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    data = make_dicom(pixels, syntax=DeflatedExplicitVRLittleEndian)
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(data))
    ds.add_new(0x00091010, "OB", bytes(n_bytes))
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def twelve_bit_jpeg(jpeg: bytes) -> bytes:
    """A baseline JPEG re-labelled as extended-sequential 12-bit (SOF1, precision 12): a real JPEG variant."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[:at] + b"\xff\xc1" + jpeg[at + 2 : at + 4] + b"\x0c" + jpeg[at + 5 :]


def _hostile_raster_cases() -> list[BadInput]:
    grey = Image.fromarray(disc())
    png, tiff = encode(grey, "PNG"), encode(grey, "TIFF")
    ztxt = b"Comment\0\0" + zlib.compress(b"A" * TEXT_BOMB_BYTES)
    itxt = b"Comment\0\1\0\0\0" + zlib.compress(b"A" * TEXT_BOMB_BYTES)
    return [
        _invalid("eps_named_png", "figure.png", EPS, "EPS format"),
        _invalid("xbm_named_png", "icon.png", XBM, "XBM format"),
        _invalid("ppm_named_jpg", "frame.jpg", encode(grey, "PPM"), "PPM format"),
        _invalid("jpeg_12bit", "deep.jpg", twelve_bit_jpeg(encode(grey, "JPEG")), "12-bit"),
        _invalid("tiff_header_cut", "cut.tif", tiff[:20], "TIFF file cannot be opened"),
        _invalid("png_ztxt_bomb", "meta.png", png_with_chunk(png, b"zTXt", ztxt), "decompression bomb"),
        _invalid(
            "png_itxt_bomb_late", "meta2.png", png_with_chunk(png, b"iTXt", itxt, True), "decompression"
        ),
        _invalid("file_over_20mb", "huge.tif", b"II*\0" + bytes(21 * 2**20), "larger than 20 MB"),
        _valid("bmp", "scan.bmp", encode(grey, "BMP")),
        _valid("png_6300_square", "big.png", encode(Image.new("L", (6300, 6300), 40), "PNG")),
    ]


def _hostile_dicom_cases() -> list[BadInput]:
    from pydicom.sequence import Sequence
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    grey16 = disc(high=1000, dtype=np.uint16)
    short = Sequence([lut_item(4096, [1, 2, 3])])
    return [
        _valid(
            "dicom_window_centre_text",
            "wc.dcm",
            with_raw_value(
                make_dicom(grey16, WindowCenter=DS_MARKER.decode(), WindowWidth=400), DS_MARKER, b"abc     "
            ),
        ),
        _valid(
            "dicom_window_centre_nan", "wcnan.dcm", make_dicom(grey16, WindowCenter="nan", WindowWidth=400)
        ),
        _invalid(
            "dicom_rescale_slope_text",
            "slope.dcm",
            with_raw_value(
                make_dicom(grey16, RescaleSlope=DS_MARKER.decode(), RescaleIntercept=0),
                DS_MARKER,
                b"one     ",
            ),
            "rescale slope",
        ),
        _invalid("dicom_short_voi_lut", "voi.dcm", make_dicom(grey16, VOILUTSequence=short), "lookup tables"),
        _invalid(
            "dicom_short_modality_lut",
            "mlut.dcm",
            make_dicom(
                grey16, ModalityLUTSequence=Sequence([lut_item(4096, [1, 2, 3], ModalityLUTType="HU")])
            ),
            "lookup tables",
        ),
        _invalid(
            "dicom_palette_without_luts",
            "palette.dcm",
            make_dicom(disc(), "PALETTE COLOR", SamplesPerPixel=1),
            "lacks its colour lookup tables",
        ),
        _invalid("dicom_unknown_photometric", "hsv.dcm", make_dicom(grey16, "HSV"), "not supported"),
        _invalid("dicom_12_bits_allocated", "b12.dcm", make_dicom(grey16, BitsAllocated=12), "not supported"),
        _valid("dicom_deflated", "deflated.dcm", make_dicom(grey16, syntax=DeflatedExplicitVRLittleEndian)),
        _invalid("dicom_deflate_bomb", "bomb.dcm", deflate_bomb(grey16), "inflates to more than"),
    ]


@cache
def _corpus() -> tuple[BadInput, ...]:
    return tuple(_raster_cases() + _dicom_cases() + _hostile_raster_cases() + _hostile_dicom_cases())


def bad_input_corpus() -> list[BadInput]:
    """Every corpus case (generated once per process, then copied): valid oddities and invalid files."""
    return list(_corpus())
