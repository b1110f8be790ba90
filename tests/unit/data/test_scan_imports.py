"""model.data.scan imports its decoders at top level, yet pydicom loads only when a DICOM is decoded."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.bad_inputs import make_dicom

ROOT = Path(__file__).resolve().parents[3]
# Runs in a fresh interpreter: this test process has imported pydicom long ago (tests/bad_inputs).
PROBE = """
import sys
from model.data.scan import load_scan

png = load_scan(sys.argv[1])
print("after png:", "pydicom" in sys.modules, png.source_format, png.image.size)
for path in sys.argv[2:]:
    dcm = load_scan(path)
    print("after dicom:", "pydicom" in sys.modules, dcm.source_format, dcm.image.size)
"""


def _ramp(rows: int = 40, cols: int = 48) -> np.ndarray:
    return (np.arange(rows * cols, dtype=np.uint16).reshape(rows, cols) * 37 % 4096).astype(np.uint16)


def test_png_never_imports_pydicom_and_dicom_still_decodes(tmp_path):
    png, dicom, bare = tmp_path / "scan.png", tmp_path / "scan.dcm", tmp_path / "bare.dcm"
    buf = io.BytesIO()
    Image.fromarray((_ramp() % 256).astype(np.uint8), "L").save(buf, format="PNG")
    png.write_bytes(buf.getvalue())
    dicom.write_bytes(make_dicom(_ramp()))
    bare.write_bytes(make_dicom(_ramp(), preamble=False))  # the headerless path, after the raster decoder
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(png), str(dicom), str(bare)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "after png: False PNG (48, 40)",
        "after dicom: True DICOM (48, 40)",
        "after dicom: True DICOM (48, 40)",
    ]
