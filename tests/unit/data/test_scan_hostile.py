"""model.data.scan under hostile input (issue 14): allowed containers, bounded inflation and working size.

The hostile files themselves are in ``tests/bad_inputs.py`` (and so also go through the Explain page in
tests/app/test_upload_corpus.py); this file checks the guards behind them: which decoder may run, that the
bounds hold before parsing, that a reduced image keeps its geometry, and the peak memory of the worst uploads.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, XbmImagePlugin

from model.data.scan import MAX_FILE_BYTES, MAX_PIXELS, WORKING_MAX_PIXELS, ScanError, load_scan, working_size
from model.data.scan_dicom import INFLATED_BYTES_PER_PIXEL, INFLATED_HEADER_BYTES
from model.data.scan_raster import SCAN_FORMATS
from tests.bad_inputs import (
    DS_MARKER,
    EPS,
    XBM,
    deflate_bomb,
    disc,
    encode,
    lut_item,
    make_dicom,
    with_raw_value,
)

GREY16 = disc(high=1000, dtype=np.uint16)
# Peak memory of one decode, over the process's level before it: the bound README states. The worst inputs
# below need about 2 x 4 bytes x 40 MP (the decoded frame and one converted copy); measured 390 MB at most.
DECODE_PEAK_BOUND_MB = 500


def _grey(data: bytes, **kwargs: object) -> np.ndarray:
    return np.asarray(load_scan(data, **kwargs).image)[..., 0]


# --- containers: only scan formats are ever opened --------------------------------------------------------


def test_eps_and_xbm_never_reach_their_pillow_plugins(monkeypatch):
    def refuse(self):
        raise AssertionError(f"{type(self).__name__} parsed an upload")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(XbmImagePlugin.XbmImageFile, "_open", refuse)
    for data, name in ((EPS, "EPS"), (XBM, "XBM")):
        with pytest.raises(ScanError, match=f"{name} format"):
            load_scan(data)


def _other_format_files() -> list[tuple[str, bytes]]:
    """Every container Pillow can write here that is not a scan format, encoded from the same small disc."""
    Image.init()
    out = []
    for fmt in sorted(set(Image.SAVE) - set(SCAN_FORMATS) - {"EPS", "PDF", "MPO"}):  # EPS/PDF: no raster read
        for mode in ("L", "RGB", "1"):
            try:
                out.append((fmt, encode(Image.fromarray(disc()).convert(mode), fmt)))
                break
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return out


@pytest.mark.parametrize("fmt,data", _other_format_files(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_other_pillow_format_is_refused_with_one_sentence(fmt, data):
    with pytest.raises(ScanError) as err:
        load_scan(data)
    message = str(err.value)
    assert "format" in message and message.count(". ") == 0  # one sentence


@pytest.mark.parametrize("fmt", SCAN_FORMATS)
def test_every_scan_format_is_decoded(fmt):
    data = encode(Image.fromarray(disc()).convert("RGB"), fmt)
    assert load_scan(data).source_format in (fmt, "MPO")


# --- DICOM display attributes -----------------------------------------------------------------------------


@pytest.mark.parametrize("centre", ["nan", "inf", "abc"])
def test_an_unusable_window_is_ignored_and_the_full_range_shown(centre):
    plain = make_dicom(GREY16)
    if centre == "abc":  # pydicom refuses to write it: put it into the encoded bytes
        data = with_raw_value(
            make_dicom(GREY16, WindowCenter=DS_MARKER.decode(), WindowWidth=400), DS_MARKER, b"abc     "
        )
    else:
        data = make_dicom(GREY16, WindowCenter=centre, WindowWidth=400)
    scan = load_scan(data)
    assert np.array_equal(np.asarray(scan.image), np.asarray(load_scan(plain).image))
    assert np.asarray(scan.image).max() == 255  # not the silently black image of issue 14
    assert any("window ignored" in note for note in scan.notes)


@pytest.mark.parametrize("slope", [b"one     ", b"nan     ", b"0       "])
def test_an_unusable_rescale_slope_is_refused(slope):
    data = make_dicom(GREY16, RescaleSlope=DS_MARKER.decode(), RescaleIntercept=0)
    with pytest.raises(ScanError, match="rescale slope"):
        load_scan(with_raw_value(data, DS_MARKER, slope))


def test_a_voi_lut_that_matches_its_descriptor_is_applied_and_a_short_one_refused():
    from pydicom.sequence import Sequence

    ramp = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 1024
    full = lut_item(1024, [1023 - v for v in range(1024)])  # an inverting LUT
    scan = load_scan(make_dicom(ramp, VOILUTSequence=Sequence([full])))
    assert "VOI LUT applied" in scan.notes
    assert np.corrcoef(np.asarray(scan.image)[..., 0].ravel(), ramp.ravel())[0, 1] < -0.99
    with pytest.raises(ScanError, match="lookup tables"):
        load_scan(make_dicom(ramp, VOILUTSequence=Sequence([lut_item(1024, [1, 2, 3])])))


# --- deflated DICOM: bounded before pydicom parses --------------------------------------------------------


def test_a_deflated_dicom_decodes_like_the_plain_one_without_pydicom_inflating(monkeypatch):
    import pydicom.filereader
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    def unbounded(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("pydicom inflated the dataset itself (no bound)")

    monkeypatch.setattr(pydicom.filereader.zlib, "decompress", unbounded)
    plain = load_scan(make_dicom(GREY16))
    for preamble in (True, False):
        deflated = load_scan(make_dicom(GREY16, syntax=DeflatedExplicitVRLittleEndian, preamble=preamble))
        assert np.array_equal(np.asarray(deflated.image), np.asarray(plain.image))


def test_the_inflation_bound_follows_max_pixels():
    max_pixels = 128 * 128
    limit = INFLATED_BYTES_PER_PIXEL * max_pixels + INFLATED_HEADER_BYTES  # the 64 x 64 16-bit slice fits
    assert load_scan(deflate_bomb(GREY16, n_bytes=0), max_pixels=max_pixels).image.size == (64, 64)
    with pytest.raises(ScanError, match="inflates to more than"):
        load_scan(deflate_bomb(GREY16, n_bytes=limit), max_pixels=max_pixels)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_cut_deflate_stream_is_damaged(keep):
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    data = make_dicom(GREY16, syntax=DeflatedExplicitVRLittleEndian)
    with pytest.raises(ScanError, match="damaged"):
        load_scan(data[: int(len(data) * keep)])


# --- working size: bounded, geometry kept -----------------------------------------------------------------


@pytest.mark.parametrize("size", [(10, 10), (2048, 2048), (2049, 2048), (6300, 6300), (9000, 1800), (16, 80)])
def test_working_size_is_bounded_and_keeps_the_aspect_ratio(size):
    w, h = working_size(*size)
    assert w * h <= WORKING_MAX_PIXELS
    if size[0] * size[1] <= WORKING_MAX_PIXELS:
        assert (w, h) == size
    else:  # one scale factor for both axes, within the rounding of one pixel
        assert abs(w / size[0] - h / size[1]) <= 1.0 / min(w, h)


def test_a_large_png_is_reduced_by_area_averaging_with_its_decoded_size_kept():
    left_right = np.zeros((4096, 4096), np.uint8)
    left_right[:, 2048:] = 200
    scan = load_scan(encode(Image.fromarray(left_right), "PNG"))
    assert scan.image.size == (2048, 2048) and scan.decoded_size == (4096, 4096)
    grey = np.asarray(scan.image)[..., 0]
    assert (grey[:, :1024] == 0).all() and (grey[:, 1024:] == 200).all()  # factor 2 exactly: no blur
    assert any("reduced from 4096 x 4096 to 2048 x 2048" in note for note in scan.notes)


def test_a_16_bit_png_and_a_dicom_are_reduced_before_scaling():
    ramp = np.tile(np.linspace(0, 4000, 4200).astype(np.uint16), (1100, 1))  # 4.6 MP > the working size
    png = load_scan(encode(Image.fromarray(ramp), "PNG"))
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    dicom = load_scan(make_dicom(ramp, syntax=DeflatedExplicitVRLittleEndian))
    for scan in (png, dicom):
        assert scan.image.width * scan.image.height <= WORKING_MAX_PIXELS
        assert scan.decoded_size == (4200, 1100)
        grey = np.asarray(scan.image)[..., 0].astype(int)
        assert grey[:, 0].max() <= 1 and grey[:, -1].min() >= 254 and (np.diff(grey, axis=1) >= 0).all()


def test_real_sized_scans_are_not_reduced():
    data = encode(Image.fromarray(np.tile(disc(256), (4, 7))[:1080, :1920]), "PNG")
    scan = load_scan(data)
    assert scan.image.size == scan.decoded_size == (1792, 1024)


def test_a_file_over_the_upload_limit_is_refused_from_a_path_without_reading_it_all(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encode(Image.fromarray(disc()), "PNG") + bytes(MAX_FILE_BYTES))
    with pytest.raises(ScanError, match="larger than 20 MB"):
        load_scan(path)


def test_nan_pixels_do_not_reach_the_note():
    values = np.full((64, 64), np.nan, np.float32)
    values[10:20] = 5.0
    values[30] = 9.0
    assert "F values 5..9 scaled to 0..255" in load_scan(encode(Image.fromarray(values), "TIFF")).notes


# --- peak memory of the worst uploads ---------------------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import json, sys
    from model.data.scan import ScanError, load_scan

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    data = open(sys.argv[1], "rb").read()
    before = rss("VmRSS:")
    try:
        load_scan(data)
        outcome = "decoded"
    except ScanError as err:
        outcome = str(err)
    print(json.dumps({"rise_mb": rss("VmHWM:") - before, "outcome": outcome}))
    """
)


def _worst_uploads() -> dict[str, bytes]:
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    side = int(MAX_PIXELS**0.5)  # 6324 x 6324: just under the 40 MP limit
    return {
        "rgba_png_40mp": encode(Image.new("RGBA", (side, side), (90, 90, 90, 200)), "PNG"),
        "float_tiff_40mp": encode(
            Image.new("F", (side, side), 3.5), "TIFF", compression="tiff_adobe_deflate"
        ),
        "png16_40mp": encode(Image.new("I;16", (side, side), 999), "PNG"),
        "deflate_bomb_dicom": deflate_bomb(GREY16),
        "deflated_dicom_40mp": make_dicom(
            np.zeros((side, side), np.uint16), syntax=DeflatedExplicitVRLittleEndian
        ),
    }


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_worst_uploads_stay_under_the_stated_memory_bound(tmp_path):
    results = {}
    for name, data in _worst_uploads().items():
        assert len(data) <= MAX_FILE_BYTES, name
        path = tmp_path / name
        path.write_bytes(data)
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True, cwd="."
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(r["rise_mb"] <= DECODE_PEAK_BOUND_MB for r in results.values()), results
    assert "inflates to more than" in results["deflate_bomb_dicom"]["outcome"], results
    assert {n for n, r in results.items() if r["outcome"] == "decoded"} == set(results) - {
        "deflate_bomb_dicom"
    }


def test_the_scan_stored_by_the_app_is_bounded():
    side = int(MAX_PIXELS**0.5)
    scan = load_scan(encode(Image.new("L", (side, side), 7), "PNG"))
    stored = len(io.BytesIO(scan.image.tobytes()).getvalue())
    assert stored <= 3 * WORKING_MAX_PIXELS  # what st.cache_data keeps per scan, whatever was uploaded
