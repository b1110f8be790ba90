"""All Streamlit caches of the dashboard: each wrapper is a few lines around a pure ``model/`` function.

Keys are hashable ids only (model source, weights fingerprint, scan sha256, method name, target, params); the
scan's bytes travel as the unhashed ``_scan_bytes`` argument, so the sha256 is the key and the bytes are never
hashed twice. Cached functions read only their arguments (never env vars or session state).

The model is shared read-only by every session: no method hooks it, trains it or keeps gradients on it, so
model work of two sessions may overlap (``tests/unit/explain/test_concurrency.py``: the maps stay
bit-identical).
Model work goes through one of two lanes so that one session's first answer never waits behind another's
slow map: :data:`FAST_LANE` (the first answer, TTA, the fast maps) and :data:`SLOW_LANE` (slow maps, scores,
references), one computation at a time in each, so the two cores are never split more than two ways. In the
fast lane a waiting first answer goes ahead of waiting TTA views and fast maps (:class:`Lane`), so a session
that arrives while others are busy is not queued behind their follow-up work; follow-up work and slow maps
already running pause at their next encoder layer, giving up their lane, until it is done
(``model.explain.pause``).
:data:`LOCK` guards matplotlib, which is not thread-safe (these locks and the gate are the app's only
module-level state).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from numpy.typing import NDArray

from dashboard import tables
from model import inference, overlay
from model.data import provenance
from model.data.input_check import InputReference, QualityReport, check_input_quality, load_input_reference
from model.data.masks import MaskError, load_mask
from model.data.scan import Scan, load_scan
from model.evaluate import artifacts, cohorts, compare, comparison, metrics
from model.explain import gradient_rollout, lesson, reference, sanity, summary, trust
from model.explain import single as explain_scan
from model.explain.heatmap import Heatmap
from model.explain.pause import GATE, install_checkpoints
from model.explain.quality import FaithfulnessCurves
from model.explain.registry import EXPLAINERS
from model.labels import positive_index
from model.loading import Classifier, load_classifier


class Lane:
    """One model computation at a time, where a waiting first answer goes before other waiting work.

    ``with lane:`` queues follow-up work (TTA views, maps); ``with lane.first():`` is a session's first
    answer, which takes the lane as soon as it is free, ahead of any follow-up work still waiting; work
    holding the lane gives it up at its next encoder layer and resumes after (:data:`GATE`). With plain locks,
    sessions arriving together got their first answers only after earlier sessions' TTA views and fast maps,
    and with a lane that was never given up, 1.8 s after another session's ViT-Base TTA batch
    (``benchmarks/bench_concurrency.py``).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._waiting = {True: 0, False: 0}  # first answers, other work
        self._marks: dict[int, contextlib.AbstractContextManager] = {}  # holder thread -> its pausable mark

    def acquire(self, first: bool = False) -> None:
        """Block until the lane is free (and, unless ``first``, no first answer is waiting), then take it."""
        with self._changed:
            self._waiting[first] += 1
            try:
                self._changed.wait_for(lambda: not self._held and (first or not self._waiting[True]))
                self._held = True
            finally:
                self._waiting[first] -= 1
                self._changed.notify_all()  # a first answer that gave up must not leave others waiting

    def release(self) -> None:
        """Free the lane for the next waiter (first answers first)."""
        with self._changed:
            self._held = False
            self._changed.notify_all()

    def queued(self) -> tuple[int, int]:
        """(first answers, other computations) waiting for the lane now."""
        with self._changed:
            return self._waiting[True], self._waiting[False]

    def __enter__(self) -> Lane:
        """Take the lane for follow-up work, which gives it up while paused for a first answer (GATE)."""
        self.acquire()
        mark = GATE.pausable(aside=self.release, back=self.acquire)
        mark.__enter__()
        self._marks[threading.get_ident()] = mark
        return self

    def __exit__(self, *exc: object) -> None:
        mark = self._marks.pop(threading.get_ident(), None)
        if mark is not None:
            mark.__exit__(None, None, None)
        self.release()

    @contextmanager
    def first(self) -> Iterator[None]:
        """Hold the lane for a first answer (ahead of waiting follow-up work).

        From the moment it waits until it is done, other sessions' lane work pauses at its next encoder layer
        (:data:`model.explain.pause.GATE`), giving up this lane, so the first answer gets the lane at once and
        the cores, not half of them. A first answer itself is never paused.
        """
        with GATE.priority():
            self.acquire(first=True)
            try:
                yield
            finally:
                self.release()


# First-answer passes kept with their graphs (live_pass_cached): a handful of recent scans, for minutes.
LIVE_PASSES = 4
LIVE_PASS_TTL_S = 600
LOCK = threading.Lock()  # matplotlib drawing (pyplot-free, but its font and text caches are shared)
FAST_LANE = Lane()  # first answers, TTA and fast maps: never queued behind a slow map
SLOW_LANE = Lane()  # slow maps, faithfulness curves, reference rankings, sanity maps


def lane(method: str) -> Lane:
    """The lane of one registry method's map: :data:`FAST_LANE` for fast methods, else :data:`SLOW_LANE`."""
    return FAST_LANE if EXPLAINERS[method].speed == "fast" else SLOW_LANE


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_classifier_cached(source: str) -> Classifier:
    """Load a classifier once for all sessions; errors are not cached (a fixed folder loads on rerun).

    Raises:
        ModelLoadError: the source cannot be loaded.
        LabelMismatchError: its class names are not plain, or it has no "tumor" class: every page shows
            P(tumor) and its maps, and no other class is guessed in its place.
    """
    classifier = load_classifier(source)
    positive_index(classifier.labels)
    install_checkpoints(classifier.model)  # slow-lane work pauses at any layer while a first answer runs
    inference.warm_up(classifier)  # its hooks settle before two lanes may run it at once
    return classifier


# 16 working-size scans of at most 12.6 MB (WORKING_MAX_PIXELS RGB) each: at most ~200 MB for all sessions.
@st.cache_data(show_spinner=False, max_entries=16)
def load_scan_cached(sha256: str, _scan_bytes: bytes) -> Scan:
    """Decode scan bytes (PNG/JPEG/DICOM) in memory, once per scan; raises ``ScanError`` for unusable input.

    Every other cache below takes the image from here, so a scan is decoded once, and what is cached (and
    copied on each hit) is the working-size image (at most ``model.data.scan.WORKING_MAX_PIXELS``).
    """
    return load_scan(_scan_bytes)


@st.cache_data(show_spinner=False, max_entries=8)
def temperature_cached(eval_dir: str, fingerprint: str, mtime: float) -> tuple[float, str]:
    """(T, note) of this model's ``calibration.json`` (T = 1.0 when none); ``mtime`` busts the cache."""
    return inference.calibration_temperature(eval_dir, fingerprint)


@st.cache_data(show_spinner=False, max_entries=8)
def input_reference_cached(source: str, fingerprint: str) -> InputReference | None:
    """The training-data reference ranges saved in the model folder, or None (check disabled)."""
    return load_input_reference(source)


@st.cache_data(show_spinner=False, max_entries=64)
def display_scan_cached(sha256: str, _scan_bytes: bytes) -> NDArray[np.uint8]:
    """The scan reduced once to display size (``model.overlay.DISPLAY_SIDE``), (h, w, 3) uint8 RGB."""
    return overlay.display_scan(load_scan_cached(sha256, _scan_bytes).image)


@st.cache_data(show_spinner=False, max_entries=64)
def quality_cached(source: str, fingerprint: str, sha256: str, _scan_bytes: bytes) -> QualityReport:
    """Input-quality check of a scan against the model's training reference."""
    return check_input_quality(
        load_scan_cached(sha256, _scan_bytes).image, input_reference_cached(source, fingerprint)
    )


@st.cache_data(show_spinner=False, max_entries=64)
def first_look_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, temperature: float
) -> inference.FirstLook:
    """Prediction (raw + calibrated + TTA) and attention rollout: :func:`quick_look_cached` + TTA views."""
    classifier = load_classifier_cached(source)
    look = quick_look_cached(source, fingerprint, sha256, _scan_bytes, temperature)
    with FAST_LANE:
        return inference.complete_tta(classifier, load_scan_cached(sha256, _scan_bytes).image, look)


@st.cache_resource(show_spinner=False, max_entries=LIVE_PASSES, ttl=LIVE_PASS_TTL_S)
def live_pass_cached(source: str, fingerprint: str, sha256: str, _scan_bytes: bytes) -> inference.LivePass:
    """The first answer's forward pass with its graph: the default gradient rollout is one backward on it.

    Callers hold :data:`FAST_LANE`. Few are kept, briefly (each holds the pass's activations); one that was
    dropped is simply run again.
    """
    classifier = load_classifier_cached(source)
    return inference.LivePass(classifier, load_scan_cached(sha256, _scan_bytes).image)


@st.cache_data(show_spinner=False, max_entries=64)
def quick_look_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, temperature: float
) -> inference.FirstLook:
    """The first answer: prediction and attention rollout from one eager forward pass (no TTA yet)."""
    with FAST_LANE.first():  # ahead of other sessions' waiting TTA views and fast maps
        return live_pass_cached(source, fingerprint, sha256, _scan_bytes).look(temperature)


@st.cache_data(show_spinner=False, max_entries=256)
def explain_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, method: str, target: int, params: tuple
) -> Heatmap:
    """One explanation map (shares summing to 1; model.explain.heatmap); ``params``: (name, value) pairs."""
    classifier = load_classifier_cached(source)
    with lane(method):
        if method == gradient_rollout.NAME and not params:  # the first answer's pass, one backward more
            return live_pass_cached(source, fingerprint, sha256, _scan_bytes).gradient_rollout(target)
        return explain_scan.explain_image(
            classifier, load_scan_cached(sha256, _scan_bytes).image, method, target, dict(params)
        )


@st.cache_data(show_spinner=False, max_entries=256)
def faithfulness_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, method: str, target: int, params: tuple
) -> FaithfulnessCurves:
    """Deletion / insertion areas of one map (computed on demand, then cached)."""
    classifier = load_classifier_cached(source)
    record = explain_cached(source, fingerprint, sha256, _scan_bytes, method, target, params)
    with SLOW_LANE:
        return explain_scan.score_faithfulness(
            classifier, load_scan_cached(sha256, _scan_bytes).image, record
        )


@st.cache_data(show_spinner=False, max_entries=16)
def layer_maps_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes
) -> explain_scan.LayerMaps:
    """Per-layer, per-head CLS attention and cumulative rollout for the Learn page."""
    classifier = load_classifier_cached(source)
    with FAST_LANE:
        return explain_scan.layer_maps(classifier, load_scan_cached(sha256, _scan_bytes).image)


@st.cache_data(show_spinner=False, max_entries=16)
def random_faithfulness_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, target: int
) -> FaithfulnessCurves:
    """Deletion / insertion of a fixed random patch ranking: the Learn page's perturbation reference."""
    classifier = load_classifier_cached(source)
    rows, cols = classifier.patch_grid
    record = lesson.random_map(rows, cols, target, classifier.preprocess.image_size)
    with SLOW_LANE:
        image = load_scan_cached(sha256, _scan_bytes).image
        return explain_scan.score_faithfulness(classifier, image, record)


def file_mtime(path: str | Path) -> float:
    """Modification time used as a cache-busting key (0.0 when the file is absent)."""
    p = Path(path)
    return p.stat().st_mtime if p.exists() else 0.0


# --- evaluation & explanation-summary loaders ---


# Slider values are multiples of 0.01 in float arithmetic; this close to the saved threshold is the same.
SAME_THRESHOLD_TOL = 1e-9


def results_mtime(eval_dir: str | Path, name: str) -> float:
    """Cache key of a saved evaluation: its results file's mtime (written last, so it marks the pair)."""
    return file_mtime(Path(eval_dir) / f"{name}{artifacts.RESULTS_SUFFIX}")


def load_evaluation(eval_dir: str | Path, name: str) -> artifacts.Evaluation:
    """The saved evaluation ``name`` in ``eval_dir`` through the cache (raises ``ArtifactError``)."""
    return evaluation_cached(str(eval_dir), name, results_mtime(eval_dir, name))


def load_evaluations(eval_dir: str | Path) -> tuple[list[artifacts.Evaluation], dict[str, str]]:
    """Every saved evaluation in ``eval_dir`` that reads cleanly, and name -> fix message for the others."""
    found, problems = [], {}
    for name in artifacts.list_evaluations(eval_dir):
        try:
            found.append(load_evaluation(eval_dir, name))
        except artifacts.ArtifactError as err:
            problems[name] = str(err)
    return found, problems


@st.cache_data(show_spinner=False, max_entries=32)
def evaluation_cached(eval_dir: str, name: str, mtime: float) -> artifacts.Evaluation:
    """One saved evaluation, validated (raises ``ArtifactError``); ``mtime`` invalidates the entry."""
    return artifacts.read_evaluation(eval_dir, name)


@st.cache_data(show_spinner="Recomputing the metrics at this threshold…", max_entries=256)
def metrics_at_threshold_cached(
    eval_dir: str, name: str, mtime: float, threshold: float, calibrated: bool
) -> dict:
    """``metrics.compute_metrics`` on a saved evaluation's records at any threshold (with intervals)."""
    ev = evaluation_cached(eval_dir, name, mtime)
    return metrics.compute_metrics(ev.records, ev.labels, ev.results["positive_label"], threshold, calibrated)


def metrics_at_threshold(
    eval_dir: str | Path, ev: artifacts.Evaluation, threshold: float, calibrated: bool
) -> dict:
    """Metrics of ``ev`` at ``threshold``: the saved ones at the saved threshold, else recomputed (cached)."""
    if math.isclose(threshold, tables.saved_threshold(ev), abs_tol=SAME_THRESHOLD_TOL):
        return tables.saved_result(ev, calibrated)
    return metrics_at_threshold_cached(
        str(eval_dir), ev.name, results_mtime(eval_dir, ev.name), threshold, calibrated
    )


@st.cache_data(show_spinner=False, max_entries=32)
def curves_cached(
    eval_dir: str, name: str, mtime: float, calibrated: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ROC points, PR points) of a saved evaluation, from ``model.evaluate.metrics`` curve functions."""
    ev = evaluation_cached(eval_dir, name, mtime)
    positive = ev.results["positive_label"]
    return (
        metrics.roc_curve_points(ev.records, ev.labels, positive, calibrated),
        metrics.pr_curve_points(ev.records, ev.labels, positive, calibrated),
    )


def curves(
    eval_dir: str | Path, ev: artifacts.Evaluation, calibrated: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ROC points, PR points) of a saved evaluation, through the cache."""
    return curves_cached(str(eval_dir), ev.name, results_mtime(eval_dir, ev.name), calibrated)


@st.cache_resource(show_spinner="Randomising a copy of the model…", max_entries=1)
def randomised_classifier_cached(source: str, fingerprint: str, seed: int = 0) -> Classifier:
    """A copy of the model with every weight block re-initialised (the sanity check's last stage).

    A separate copy (``model.explain.sanity.randomised_copy`` deep-copies), never the shared model; one is
    kept at a time because it is as large as the model.
    """
    classifier = load_classifier_cached(source)
    n_blocks = len(sanity.cascade_blocks(classifier.model))
    return dataclasses.replace(
        classifier,
        model=sanity.randomised_copy(classifier.model, n_blocks, seed),
        fingerprint=f"{fingerprint}+random{seed}",
    )


@st.cache_data(show_spinner=False, max_entries=64)
def randomised_map_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, method: str, target: int, seed: int = 0
) -> Heatmap:
    """One map of the fully randomised model (default parameters), for the sanity-check comparison."""
    random_classifier = randomised_classifier_cached(source, fingerprint, seed)
    with SLOW_LANE:
        return explain_scan.explain_image(
            random_classifier, load_scan_cached(sha256, _scan_bytes).image, method, target, {}
        )


@st.cache_data(show_spinner=False, max_entries=8)
def explanation_summary_cached(directory: str, mtime: float) -> summary.ExplanationSummary:
    """The batch job's explanation summary (raises ``ExplanationArtifactError``); ``mtime`` invalidates."""
    return summary.read_explanation_summary(directory)


def load_explanation_summary(directory: str | Path) -> summary.ExplanationSummary:
    """The explanation summary in ``directory`` through the cache."""
    return explanation_summary_cached(str(directory), file_mtime(Path(directory) / summary.SUMMARY_JSON))


# --- model comparison (Compare page) ---


@st.cache_data(show_spinner="Comparing the two models case by case…", max_entries=16)
def split_comparison_cached(a_dir: str, b_dir: str, name: str, mtime_a: float, mtime_b: float) -> dict:
    """``model.evaluate.comparison.compare_evaluations`` of one shared evaluation at its saved threshold.

    Raises ``ComparisonError`` (not the same cases or labels, or other thresholds) or ``ArtifactError``.
    """
    pair = {name: (evaluation_cached(a_dir, name, mtime_a), evaluation_cached(b_dir, name, mtime_b))}
    settings = comparison.PairedSettings(compare.resolve_threshold(pair, None))
    return comparison.compare_evaluations(*pair[name], settings)


def split_comparison(a_dir: str | Path, b_dir: str | Path, name: str) -> dict:
    """The paired comparison of evaluation ``name`` of folders A and B, through the cache."""
    mtimes = results_mtime(a_dir, name), results_mtime(b_dir, name)
    return split_comparison_cached(str(a_dir), str(b_dir), name, *mtimes)


@st.cache_data(show_spinner=False, max_entries=8)
def explanation_comparison_cached(
    a_dir: str, b_dir: str, names: tuple[str, ...], mtimes: tuple[float, ...]
) -> tuple[dict | None, str]:
    """Both folders' explanation-quality summaries side by side, or why not (``mtimes`` busts the cache)."""
    pairs = {n: (load_evaluation(a_dir, n), load_evaluation(b_dir, n)) for n in names}
    return compare.explanation_quality((a_dir, b_dir), pairs)


def explanation_comparison(a_dir: str | Path, b_dir: str | Path, names: list[str]) -> tuple[dict | None, str]:
    """The side-by-side explanation block of two evaluation folders, through the cache."""
    files = [Path(d) / summary.EVAL_SUBDIR / summary.SUMMARY_JSON for d in (a_dir, b_dir)]
    mtimes = tuple(file_mtime(f) for f in files) + tuple(
        results_mtime(d, n) for d in (a_dir, b_dir) for n in names
    )
    return explanation_comparison_cached(str(a_dir), str(b_dir), tuple(names), mtimes)


# --- provenance: the training manifest and tumour masks (issue 13) ---


@st.cache_data(show_spinner=False, max_entries=4)
def manifest_cached(path: str, mtime: float) -> pd.DataFrame | None:
    """The split manifest at ``path`` (None when invalid); ``mtime`` busts the cache; read-only."""
    return provenance.load_manifest(path)


@st.cache_data(show_spinner=False, max_entries=64)
def mask_cached(data_dir: str, sha256: str) -> NDArray | None:
    """(H, W) bool tumour mask drawn on the scan with this hash (from ``<data_dir>_masks``), or None."""
    record = provenance.find_mask(data_dir, sha256)
    try:
        return load_mask(record) if record is not None else None
    except MaskError:
        return None


# --- error-audit cohorts (issue 13) ---


@st.cache_data(show_spinner=False, max_entries=32)
def cohorts_cached(eval_dir: str, name: str, mtime: float, data_dir: str | None) -> pd.DataFrame:
    """Cohort attributes (split, source, file format, image size) of one evaluation's cases, from headers."""
    ev = evaluation_cached(eval_dir, name, mtime)
    folder = Path(data_dir) if data_dir else None
    return cohorts.case_cohorts(ev.records, ev.name, str(ev.results.get("data") or "unknown"), folder)


def case_cohorts(eval_dir: str | Path, ev: artifacts.Evaluation, data_dir: Path | None) -> pd.DataFrame:
    """:func:`cohorts_cached` of ``ev`` through the cache."""
    folder = str(data_dir) if data_dir else None
    return cohorts_cached(str(eval_dir), ev.name, results_mtime(eval_dir, ev.name), folder)


# --- trust in a map (issue 13): saved verdicts per method, the random-ranking reference of one scan ---


@st.cache_data(show_spinner=False, max_entries=8)
def trust_cached(directory: str, mtime: float) -> dict[str, trust.MethodTrust]:
    """Per-method trust verdicts of the summary in ``directory`` (raises ``ExplanationArtifactError``)."""
    return trust.summary_trust(explanation_summary_cached(directory, mtime))


@st.cache_data(show_spinner=False, max_entries=64)
def reference_cached(
    source: str, fingerprint: str, sha256: str, _scan_bytes: bytes, target: int
) -> reference.ScoreReference:
    """What a random patch ranking scores on this scan and class (shared by every method's scores)."""
    classifier = load_classifier_cached(source)
    with SLOW_LANE:
        return reference.random_reference(classifier, load_scan_cached(sha256, _scan_bytes).image, target)
