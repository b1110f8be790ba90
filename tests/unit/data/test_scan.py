"""model.data.scan.load_scan: every PIL mode, DICOM display pipeline, privacy, and the bad-input corpus."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from model.data.scan import (
    MAX_ASPECT_RATIO,
    MIN_SIDE,
    Scan,
    ScanError,
    check_geometry,
    load_scan,
    scale_to_uint8,
)
from model.data.scan_dicom import window_to_uint8
from tests.bad_inputs import (
    PATIENT_BIRTH_DATE,
    PATIENT_ID,
    PATIENT_NAME,
    PATIENT_STRINGS,
    bad_input_corpus,
    disc,
    encode,
    make_dicom,
    png_declaring,
)

CORPUS = bad_input_corpus()
# JPEG is lossy: flat 8x8-aligned blocks come back within a few grey levels; 12 leaves margin for chroma.
JPEG_TOLERANCE = 12
JPEG_NAMED_PNGS = {"no/No15.jpg", "no/No17.jpg", "no/No18.jpg", "no/no 96.jpg", "no/no 98.jpg", "no/no.jpg"}


def pixels(scan: Scan) -> np.ndarray:
    """(H, W, 3) uint8 array of a Scan, after checking the output contract."""
    assert scan.image.mode == "RGB"
    arr = np.asarray(scan.image)
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    return arr


def grey(scan: Scan) -> np.ndarray:
    """(H, W) of a greyscale-looking scan: all three channels must be equal."""
    arr = pixels(scan).astype(int)
    assert np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])
    return arr[..., 0]


# --- the corpus -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_corpus_case_is_accepted_or_refused_with_its_message(case):
    if case.valid:
        scan = load_scan(case.data)
        assert pixels(scan).shape[:2] == scan.image.size[::-1]
        assert scan.sha256 == hashlib.sha256(case.data).hexdigest()
    else:
        with pytest.raises(ScanError) as err:
            load_scan(case.data)
        assert case.expect and case.expect in str(err.value)


def test_corpus_is_well_formed():
    names = [c.name for c in CORPUS]
    assert len(names) == len(set(names))
    assert all(bool(c.expect) != c.valid for c in CORPUS)
    assert {c.valid for c in CORPUS} == {True, False}


@pytest.mark.parametrize("case", [c for c in CORPUS if c.data], ids=lambda c: c.name)
def test_path_and_bytes_agree(case, tmp_path):
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    if not case.valid:
        with pytest.raises(ScanError, match=re.escape(case.expect)):
            load_scan(path)
        return
    from_path, from_bytes = load_scan(str(path)), load_scan(case.data)
    assert from_path.sha256 == from_bytes.sha256
    assert np.array_equal(pixels(from_path), pixels(from_bytes))


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_scan(tmp_path / "absent.png")


# --- raster modes -----------------------------------------------------------------------------------------


def test_png_named_jpg_decodes_by_content(tmp_path):
    original = disc()
    path = tmp_path / "scan.jpg"
    path.write_bytes(encode(Image.fromarray(original), "PNG"))
    scan = load_scan(path)
    assert scan.source_format == "PNG" and scan.original_mode == "L"
    assert np.array_equal(grey(scan), original)  # lossless: exactly the pixels written


def test_16bit_ramp_is_scaled_by_its_actual_range():
    ramp = np.tile(np.linspace(1000, 3000, 64).astype(np.uint16), (32, 1))  # 12-bit-ish values, not from 0
    scan = load_scan(encode(Image.fromarray(ramp), "PNG"))
    out = grey(scan)[0]
    assert scan.original_mode.startswith("I")
    assert out.min() == 0 and out.max() == 255  # stretched to the full range, not clipped at 255
    assert np.all(np.diff(out) >= 0)  # order preserved
    expected = np.round((ramp[0].astype(float) - 1000) / 2000 * 255)
    assert np.array_equal(out, expected)
    assert any("scaled to 0..255" in note for note in scan.notes)


def test_32bit_integer_and_float_tiffs_are_scaled():
    ints = np.tile(np.arange(-32, 32, dtype=np.int32), (32, 1)) * 1000
    floats = ints.astype(np.float32) / 7.5
    for arr in (ints, floats):
        out = grey(load_scan(encode(Image.fromarray(arr), "TIFF")))
        assert out[0, 0] == 0 and out[0, -1] == 255
        assert np.all(np.diff(out[0].astype(int)) > 0)


def test_rgba_is_composited_on_black():
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white everywhere, but ...
    rgba[:, :16, 3] = 0  # ... left half fully transparent
    rgba[:, 16:24, 3] = 128  # half transparent
    rgba[:, 24:, 3] = 255  # opaque
    scan = load_scan(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    out = grey(scan)
    assert (out[:, :16] == 0).all() and (out[:, 24:] == 255).all()
    assert np.all(np.abs(out[:, 16:24] - 128) <= 1)
    assert scan.original_mode == "RGBA"


def test_la_palette_and_one_bit_keep_their_grey_values():
    base = disc()
    la = np.dstack([base, np.full_like(base, 255)])
    assert np.array_equal(grey(load_scan(encode(Image.fromarray(la, "LA"), "PNG"))), base)
    palette = Image.fromarray(base).convert("P")
    assert np.array_equal(pixels(load_scan(encode(palette, "PNG"))), np.asarray(palette.convert("RGB")))
    bits = grey(load_scan(encode(Image.fromarray(base > 128), "PNG")))
    assert set(np.unique(bits)) == {0, 255} and np.array_equal(bits == 255, base > 128)


def test_palette_transparency_is_composited_on_black():
    img = Image.new("P", (32, 32), 1)
    img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    img.info["transparency"] = 1  # palette index 1 (white) transparent -> black
    out = grey(load_scan(encode(img, "PNG", transparency=1)))
    assert (out == 0).all()


def test_cmyk_jpeg_converts_to_rgb():
    cmyk = np.zeros((32, 32, 4), dtype=np.uint8)
    cmyk[:, :16, 3] = 255  # left half full black ink, right half no ink (white paper)
    scan = load_scan(encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95))
    out = pixels(scan).astype(int)
    assert scan.original_mode == "CMYK"
    assert out[:, :16].max() <= JPEG_TOLERANCE and out[:, 16:].min() >= 255 - JPEG_TOLERANCE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_rotates_the_shape(fmt):
    stored = np.zeros((16, 48), dtype=np.uint8)  # 48 wide, 16 high
    stored[:8, :8] = 255  # bright block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    scan = load_scan(encode(Image.fromarray(stored), fmt, exif=exif))
    out = grey(scan)
    assert out.shape == (48, 16)  # displayed: 16 wide, 48 high
    assert out[:8, -8:].min() >= 255 - JPEG_TOLERANCE  # top-left rotated clockwise lands top-right
    assert out[:8, :8].max() <= JPEG_TOLERANCE
    assert "EXIF orientation 6 applied" in scan.notes


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_multi_frame_raster_takes_requested_or_first_frame(fmt):
    values = (40, 120, 200)
    frames = [Image.new("L", (32, 32), v) for v in values]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    first = load_scan(data)
    assert (first.frame, first.n_frames) == (0, 3) and "frame 1 of 3" in first.notes
    assert np.all(grey(first) == values[0])
    third = load_scan(data, frame=2)
    assert third.frame == 2 and np.all(grey(third) == values[2])
    for bad in (3, -1):
        with pytest.raises(ScanError, match="Frame"):
            load_scan(data, frame=bad)


def test_single_frame_file_has_no_frame_index_and_refuses_frame_one():
    data = encode(Image.fromarray(disc()), "PNG")
    scan = load_scan(data)
    assert (scan.frame, scan.n_frames) == (None, 1)
    assert load_scan(data, frame=0).frame is None
    with pytest.raises(ScanError, match="Frame 1"):
        load_scan(data, frame=1)


# --- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((MIN_SIDE, MIN_SIDE), None),
        ((MIN_SIDE - 1, 100), "too small"),
        ((100, int(100 * MAX_ASPECT_RATIO)), None),
        ((100, int(100 * MAX_ASPECT_RATIO) + 1), "not scan-shaped"),
        ((20_000, 20), "not scan-shaped"),
        ((1920, 1080), None),  # the widest real scan
    ],
)
def test_check_geometry(size, message):
    if message is None:
        check_geometry(*size)
    else:
        with pytest.raises(ScanError, match=message):
            check_geometry(*size)


def test_max_pixels_is_a_parameter():
    data = encode(Image.fromarray(disc(64)), "PNG")  # 4096 pixels
    assert load_scan(data, max_pixels=64 * 64).image.size == (64, 64)
    with pytest.raises(ScanError, match="megapixels"):
        load_scan(data, max_pixels=64 * 64 - 1)


def test_declared_size_is_refused_before_any_decoding(monkeypatch):
    def refuse_decoding(self):
        raise AssertionError("pixels were decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_decoding)
    for width, height in ((8_000, 8_000), (100_000, 100_000)):
        with pytest.raises(ScanError, match="megapixels"):
            load_scan(png_declaring(width, height))


def test_truncation_is_refused_even_if_pil_was_told_to_accept_it(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    base = Image.fromarray(disc())
    for fmt in ("JPEG", "PNG"):
        data = encode(base, fmt)
        with pytest.raises(ScanError, match="truncated"):
            load_scan(data[: len(data) * 2 // 3])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored


def test_scale_to_uint8_edge_cases():
    assert np.array_equal(scale_to_uint8(np.full((3, 3), 7.0)), np.zeros((3, 3), np.uint8))
    out = scale_to_uint8(np.array([np.nan, 0.0, 10.0, np.inf]))
    assert out.tolist() == [0, 0, 255, 0]  # non-finite values count as the minimum
    with pytest.raises(ScanError, match="finite"):
        scale_to_uint8(np.array([np.nan, np.inf]))


# --- DICOM ------------------------------------------------------------------------------------------------


def test_dicom_monochrome1_is_the_inverse_of_monochrome2():
    stored = disc(high=1000, dtype=np.uint16)
    mono2 = load_scan(make_dicom(stored, "MONOCHROME2"))
    mono1 = load_scan(make_dicom(stored, "MONOCHROME1"))
    assert np.array_equal(grey(mono1), 255 - grey(mono2))
    assert grey(mono2).max() == 255 and grey(mono2).min() == 0
    assert mono1.original_mode == "MONOCHROME1" and "MONOCHROME1 inverted" in mono1.notes
    assert mono2.source_format == "DICOM" and "MONOCHROME1 inverted" not in mono2.notes


def test_dicom_rescale_then_window_with_hand_computed_values():
    stored = np.tile(np.array([0, 50, 100, 150, 200], dtype=np.uint16), (16, 4))[:, :16]
    # modality = 2 * stored - 100 -> -100, 0, 100, 200, 300.  LINEAR window C=100.5, W=201 spans modality
    # 0..200: y = (x - 100) / 200 + 0.5, so 0 -> 0, 100 -> 127.5 (rounds to 128), 200 -> 255; the rest
    # saturates.
    ds = make_dicom(stored, RescaleSlope=2, RescaleIntercept=-100, WindowCenter=100.5, WindowWidth=201)
    scan = load_scan(ds)
    expected = {0: 0, 50: 0, 100: 128, 150: 255, 200: 255}
    out = grey(scan)
    for value, want in expected.items():
        assert np.all(out[stored == value] == want), value
    assert "rescale slope 2 intercept -100" in scan.notes and "window C/W 100.5/201" in scan.notes


def test_dicom_without_window_uses_the_rescaled_range():
    stored = np.tile(np.arange(-512, 512, 16, dtype=np.int16), (16, 1))  # signed, CT-like
    out = grey(load_scan(make_dicom(stored, RescaleSlope=1, RescaleIntercept=-1024)))
    assert out[0, 0] == 0 and out[0, -1] == 255 and np.all(np.diff(out[0].astype(int)) > 0)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_window_functions_saturate_and_centre(function):
    out = window_to_uint8(np.array([-1e6, 40.0, 1e6]), center=40.0, width=80.0, function=function)
    assert out[0] == 0 and out[2] == 255 and abs(int(out[1]) - 128) <= 1


def test_dicom_multiframe_defaults_to_the_middle_frame():
    values = np.array([100, 200, 300, 400, 500], dtype=np.uint16)
    stack = np.broadcast_to(values[:, None, None], (5, 16, 16)).copy()  # frame k is constant values[k]
    center, width = 500.0, 1001.0
    data = make_dicom(stack, WindowCenter=center, WindowWidth=width)

    def shown(v: float) -> int:  # the LINEAR window by hand
        return int(np.round(np.clip((v - (center - 0.5)) / (width - 1) + 0.5, 0, 1) * 255))

    middle = load_scan(data)
    assert (middle.frame, middle.n_frames) == (2, 5) and "frame 3 of 5" in middle.notes
    assert np.all(grey(middle) == shown(300))
    assert np.all(grey(load_scan(data, frame=4)) == shown(500))
    assert np.all(grey(load_scan(data, frame=0)) == shown(100))
    with pytest.raises(ScanError, match="Frame 5"):
        load_scan(data, frame=5)


def test_dicom_rgb_and_headerless_keep_their_pixels():
    rgb = np.dstack([disc(), 255 - disc(), np.full((64, 64), 30, np.uint8)])
    assert np.array_equal(pixels(load_scan(make_dicom(rgb, "RGB"))), rgb)
    stored = disc(high=255)
    with_preamble, bare = make_dicom(stored), make_dicom(stored, preamble=False)
    assert bare[128:132] != b"DICM"
    assert np.array_equal(pixels(load_scan(bare)), pixels(load_scan(with_preamble)))


def test_raster_metadata_is_dropped():
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("Comment", PATIENT_NAME)
    exif = Image.Exif()
    exif[0x010E] = PATIENT_ID  # ImageDescription
    scan = load_scan(encode(Image.fromarray(disc()), "PNG", pnginfo=text, exif=exif))
    assert scan.image.info == {}
    assert not any(secret in repr(scan) + " ".join(scan.notes) for secret in PATIENT_STRINGS)


def test_dicom_without_rows_is_damaged():
    with pytest.raises(ScanError, match="damaged"):
        load_scan(make_dicom(disc(16), Rows=0))


def test_dicom_too_small_is_refused_before_decoding():
    with pytest.raises(ScanError, match="too small"):
        load_scan(make_dicom(np.zeros((8, 8), np.uint16)))


def test_dicom_compression_error_names_the_fix():
    case = next(c for c in CORPUS if c.name == "dicom_jpegls_no_decoder")
    with pytest.raises(ScanError, match="uncompressed DICOM or as PNG"):
        load_scan(case.data)


def test_patient_data_never_reaches_the_scan_or_its_errors():
    stored = disc(high=1000, dtype=np.uint16)
    tags = dict(PatientName=PATIENT_NAME, PatientID=PATIENT_ID, PatientBirthDate=PATIENT_BIRTH_DATE)
    scan = load_scan(make_dicom(stored, **tags))
    visible = " ".join(
        [repr(scan), *scan.notes, scan.source_format, scan.original_mode, str(scan.image.info)]
    )
    assert scan.image.info == {}
    for secret in PATIENT_STRINGS:
        assert secret not in visible
    broken = (make_dicom(None, **tags), make_dicom(np.zeros((4, 4), np.uint16), **tags))
    for data in broken:
        with pytest.raises(ScanError) as err:
            load_scan(data)
        assert not any(secret in str(err.value) for secret in PATIENT_STRINGS)


# --- the real data set ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_every_real_file_loads(real_data: Path):
    manifest = dict(
        reversed(line.split("  ", 1)) for line in (real_data / "MANIFEST.sha256").read_text().splitlines()
    )
    assert len(manifest) == 253
    formats = {}
    for rel, digest in manifest.items():
        scan = load_scan(real_data / rel)
        assert scan.sha256 == digest, rel
        assert min(pixels(scan).shape[:2]) >= MIN_SIDE
        formats[rel] = scan.source_format
    misnamed = {
        rel for rel, fmt in formats.items() if fmt == "PNG" and rel.lower().endswith((".jpg", ".jpeg"))
    }
    assert misnamed == JPEG_NAMED_PNGS
    assert set(formats.values()) == {"JPEG", "PNG"}
