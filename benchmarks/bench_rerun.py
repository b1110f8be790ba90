"""What every rerun of the Explain page costs once the maps are cached (rows "rerun.*", section "panel").

A rerun (one opacity step, a colour-map change) redraws every map. The page composites them as arrays at
display size (``dashboard.map_view.map_picture``) and Streamlit encodes each as JPEG; this measures exactly
that, with the page's caches warm, on the benchmark scan and on a generated 40-MP scan (never a real one), and
the matplotlib figure path it replaced on the large scan as the baseline.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import streamlit as st
from PIL import Image

from benchmarks.report import Check, Row
from benchmarks.settings import Settings
from benchmarks.timing import Timing, measure
from dashboard import map_view, resources
from dashboard.widgets import DEFAULT_METHODS
from model.data.scan import MAX_PIXELS
from model.explain.registry import EXPLAINERS
from model.figures import maps as figures

SECTION = "panel"
RERUN_MAX_S = 0.050
SMOKE_PIXELS = 2_000_000  # the tiny smoke run's "large" scan: the same code, less encoding time


def large_scan_bytes(pixels: int) -> bytes:
    """A generated PNG of about ``pixels`` pixels (3:4), a bright disc on black: big, cheap, not a scan."""
    h = int((pixels * 3 / 4) ** 0.5)
    w = pixels // h
    yy, xx = np.ogrid[:h, :w]
    disc = ((yy - h / 2) ** 2 / (0.4 * h) ** 2 + (xx - w / 2) ** 2 / (0.4 * w) ** 2) < 1
    grey = (disc * 160 + (xx % 97) * disc * 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _maps(source: str, fingerprint: str, sha: str, data: bytes) -> tuple[object, list]:
    look = resources.first_look_cached(source, fingerprint, sha, data, 1.0)
    records = [look.rollout]
    for method in (m for m in DEFAULT_METHODS if m in EXPLAINERS and m != look.rollout.method):
        target = look.prediction.predicted
        records.append(resources.explain_cached(source, fingerprint, sha, data, method, target, ()))
    return look, records


def _rerun(source: str, fingerprint: str, data: bytes, opacity: float) -> int:
    """One rerun's map work: cached lookups, compositing and JPEG encoding of every default map."""
    sha = hashlib.sha256(data).hexdigest()
    scan = resources.load_scan_cached(sha, data)
    look, records = _maps(source, fingerprint, sha, data)
    view = {"cmap": "inferno", "opacity": opacity, "outline": None}
    size = 0
    for record in records:
        buf = io.BytesIO()
        Image.fromarray(map_view.map_picture(scan, data, record, look.geometry, view)).save(buf, "JPEG")
        size += buf.tell()
    return size


def _matplotlib(source: str, fingerprint: str, data: bytes) -> int:
    """The replaced path: every default map drawn as a matplotlib figure and rasterised to PNG."""
    sha = hashlib.sha256(data).hexdigest()
    scan = resources.load_scan_cached(sha, data)
    look, records = _maps(source, fingerprint, sha, data)
    size = 0
    for record in records:
        buf = io.BytesIO()
        figures.build_map_figure(scan.image, record, look.geometry, record.method).savefig(buf, format="png")
        size += buf.tell()
    return size


def _timed(source: str, fingerprint: str, data: bytes, s: Settings) -> Timing:
    _rerun(source, fingerprint, data, 0.5)  # fills the caches: what the first visit did
    steps = iter(np.tile(np.arange(0.05, 1.0, 0.05), 50))
    return measure(lambda: _rerun(source, fingerprint, data, float(next(steps))), 4 * s.repeats, 1)


def run_rerun_rows(source: str, fingerprint: str, data: bytes, fwd: Timing, s: Settings) -> list[Row]:
    """Rows rerun.opacity, rerun.opacity_40mp and rerun.matplotlib_40mp (see the module docstring)."""
    st.cache_data.clear()
    pixels = SMOKE_PIXELS if s.tiny else MAX_PIXELS
    large = large_scan_bytes(pixels)
    small_t, large_t = _timed(source, fingerprint, data, s), _timed(source, fingerprint, large, s)
    old = measure(lambda: _matplotlib(source, fingerprint, large), 1, 0)
    n = len(DEFAULT_METHODS)
    speedup = old.median_s / large_t.median_s
    return [
        Row(
            "rerun.opacity",
            SECTION,
            f"rerun, one opacity step: {n} cached maps composited at display size + JPEG (benchmark scan)",
            small_t.median_s,
            small_t.median_s / fwd.median_s,
            runs_s=small_t.runs_s,
            checks=[Check("seconds", small_t.median_s, "<=", RERUN_MAX_S)],
        ),
        Row(
            "rerun.opacity_40mp",
            SECTION,
            f"the same on a generated {pixels / 1e6:.0f}-MP scan (decoded to the working size once, cached)",
            large_t.median_s,
            large_t.median_s / fwd.median_s,
            runs_s=large_t.runs_s,
            value=speedup,
            unit="× speed-up vs matplotlib",
            checks=[Check("seconds", large_t.median_s, "<=", RERUN_MAX_S)],
        ),
        Row(
            "rerun.matplotlib_40mp",
            SECTION,
            f"baseline: the same {n} maps as matplotlib figures at the working size, rasterised to PNG",
            old.median_s,
            old.median_s / fwd.median_s,
            note="what every rerun cost before the maps were composited as arrays",
        ),
    ]


def expected_ids() -> list[str]:
    """Row ids this module always produces."""
    return ["rerun.opacity", "rerun.opacity_40mp", "rerun.matplotlib_40mp"]
