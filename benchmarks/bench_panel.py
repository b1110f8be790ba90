"""The Explain page's panel for one scan, through the dashboard's own cached resources (section "panel").

The calls are those the page makes (``dashboard.explain_view``): decode the scan, read the calibration
temperature, ``quick_look_cached`` (prediction + rollout from one eager pass: the first answer), the
input-quality check, one ``explain_cached`` per default method not already given by the first look, then
``first_look_cached`` (the TTA views: the stability line the page fills in after the fast maps). "Cold" clears
``st.cache_data`` and the kept first-answer passes (``live_pass_cached``) before each run (the model stays
loaded, as it does for every session after the first);
"cached" repeats the same calls, so every one is a ``st.cache_data`` lookup.
"""

from __future__ import annotations

import hashlib
import io
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from PIL import Image

from benchmarks import bench_rerun
from benchmarks.report import Check, Row
from benchmarks.settings import Settings
from benchmarks.timing import Timing, measure
from dashboard import resources
from dashboard.widgets import DEFAULT_METHODS
from model.data.input_check import InputReferenceError
from model.evaluate.artifacts import CALIBRATION_FILE
from model.explain.registry import EXPLAINERS
from model.figures import maps as figures

SECTION = "panel"
FIRST_ANSWER_MAX_RATIO = 1.5
DEFAULT_PANEL_MAX_RATIO = 3.0  # prediction + rollout + gradient rollout, cold
CACHED_MAX_S = 0.050


@dataclass(frozen=True)
class PanelTimes:
    """Seconds from the start of one panel run to its first answer, its last default map, and its TTA line."""

    first_s: float
    default_s: float
    total_s: float


def run_panel(source: str, fingerprint: str, data: bytes, eval_dir: str) -> tuple[PanelTimes, list]:
    """Make the page's model-level calls for one scan, in the page's order.

    Returns:
        The times and the objects the page would draw (first look, then one map per extra default method).
    """
    start = time.perf_counter()
    sha = hashlib.sha256(data).hexdigest()
    resources.load_scan_cached(sha, data)
    mtime = resources.file_mtime(Path(eval_dir) / CALIBRATION_FILE)
    temperature, _ = resources.temperature_cached(eval_dir, fingerprint, mtime)
    try:
        resources.quality_cached(source, fingerprint, sha, data)  # the page checks before it answers
    except InputReferenceError:  # the page shows a caption and carries on
        pass
    look = resources.quick_look_cached(source, fingerprint, sha, data, temperature)
    first = time.perf_counter() - start
    shown = [look]
    for method in (m for m in DEFAULT_METHODS if m in EXPLAINERS and m != look.rollout.method):
        target = look.prediction.predicted
        shown.append(resources.explain_cached(source, fingerprint, sha, data, method, target, ()))
    default = time.perf_counter() - start
    shown[0] = resources.first_look_cached(source, fingerprint, sha, data, temperature)  # + TTA stability
    return PanelTimes(first, default, time.perf_counter() - start), shown


def render_figures(scan_image: Image.Image, shown: list) -> int:
    """Build and rasterise each map figure and the colour bar as ``st.pyplot`` does; returns the PNG bytes."""
    look = shown[0]
    records = [look.rollout] + list(shown[1:])
    figs = [figures.build_colourbar_figure()]
    figs += [
        figures.build_map_figure(scan_image, r, look.geometry, EXPLAINERS[r.method].label) for r in records
    ]
    size = 0
    for fig in figs:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        size += buf.tell()
    return size


def _cold_runs(source: str, fingerprint: str, data: bytes, eval_dir: str, repeats: int) -> list[PanelTimes]:
    runs = []
    for _ in range(repeats):
        st.cache_data.clear()
        resources.live_pass_cached.clear()  # the first answer's kept pass: cold means it is computed again
        runs.append(run_panel(source, fingerprint, data, eval_dir)[0])
    return runs


def run_panel_rows(source: str, data: bytes, eval_dir: str, fwd: Timing, s: Settings) -> list[Row]:
    """Measure the panel: first visit (model load), cold, first answer, cached lookups, figure rendering.

    Args:
        source: model folder as the dashboard gets it. data: the scan file's bytes.
        eval_dir: evaluation folder (calibration temperature; absent = T 1).
        fwd: the forward-pass timing of this run. s: run settings.
    """
    st.cache_resource.clear()
    st.cache_data.clear()
    start = time.perf_counter()
    classifier = resources.load_classifier_cached(source)
    visit = run_panel(source, classifier.fingerprint, data, eval_dir)[0]
    first_visit_s = time.perf_counter() - start
    cold = _cold_runs(source, classifier.fingerprint, data, eval_dir, max(1, s.repeats - 1))
    first_s = statistics.median(r.first_s for r in cold)
    default_s = statistics.median(r.default_s for r in cold)
    total_s = statistics.median(r.total_s for r in cold)
    cached = measure(lambda: run_panel(source, classifier.fingerprint, data, eval_dir), 4 * s.repeats, 1)
    shown = cached.value[1]
    image = resources.load_scan_cached(hashlib.sha256(data).hexdigest(), data).image
    render = measure(lambda: render_figures(image, shown), s.repeats, 1)
    methods = ", ".join(DEFAULT_METHODS)
    ratio = first_s / fwd.median_s
    return [
        Row(
            "panel.first_visit",
            SECTION,
            f"first visit: model load + cold panel ({methods})",
            first_visit_s,
            first_visit_s / fwd.median_s,
            note=f"of which panel {visit.total_s:.2f} s",
        ),
        Row(
            "panel.first_answer",
            SECTION,
            "cold: scan decode + temperature + input-quality check + quick_look_cached (prediction + "
            "rollout map; TTA follows)",
            first_s,
            ratio,
            runs_s=tuple(r.first_s for r in cold),
            checks=[Check("× forward", ratio, "<=", FIRST_ANSWER_MAX_RATIO)],
        ),
        Row(
            "panel.default",
            SECTION,
            f"cold: the first answer + every default map ({methods}), before the TTA views",
            default_s,
            default_s / fwd.median_s,
            runs_s=tuple(r.default_s for r in cold),
            checks=[Check("× forward", default_s / fwd.median_s, "<=", DEFAULT_PANEL_MAX_RATIO)],
        ),
        Row(
            "panel.cold",
            SECTION,
            f"cold: whole default panel ({methods}; + input-quality check, TTA views)",
            total_s,
            total_s / fwd.median_s,
            runs_s=tuple(r.total_s for r in cold),
            note="slow methods stream in after this under st.status (explain_view)",
        ),
        Row(
            "panel.cached",
            SECTION,
            "cached: same calls again (st.cache_data lookups only)",
            cached.median_s,
            cached.median_s / fwd.median_s,
            runs_s=cached.runs_s,
            checks=[Check("seconds", cached.median_s, "<=", CACHED_MAX_S)],
        ),
        Row(
            "panel.render",
            SECTION,
            f"drawing: {len(shown)} map figures + colour bar as matplotlib PNGs (the old rerun path)",
            render.median_s,
            render.median_s / fwd.median_s,
            note="what st.pyplot added on top of the cached lookups before the maps became arrays "
            "(the rerun rows below)",
        ),
    ] + bench_rerun.run_rerun_rows(source, classifier.fingerprint, data, fwd, s)


def expected_ids() -> list[str]:
    """Row ids this section always produces."""
    panel = [
        "panel.first_visit",
        "panel.first_answer",
        "panel.default",
        "panel.cold",
        "panel.cached",
        "panel.render",
    ]
    return panel + bench_rerun.expected_ids()
