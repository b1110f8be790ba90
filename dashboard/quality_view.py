"""Explanation-quality sections: the batch job's summary as tables and figure inputs, and the trained-vs-
randomised map comparison.

This module is the dashboard's only reader of the keys of ``summary.json`` (:mod:`model.explain.summary`);
numbers come from the saved summary, the pass/fail verdicts from its ``sanity.passed`` field. The one thing
computed here on demand is the fully randomised model's map for a case the user picks (the batch job saves
only the trained model's maps and the correlations): see ``resources.randomised_map_cached``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import audit_view, resources, widgets_eval
from dashboard.tables import format_interval
from model.evaluate.result_views import Interval
from model.explain.heatmap import Heatmap
from model.explain.registry import EXPLAINERS
from model.explain.summary import EVAL_SUBDIR, RANDOM_REFERENCE, ExplanationSummary
from model.figures import maps as figures
from model.loading import Classifier
from model.preprocess import crop_and_resize

EXPLANATIONS_SUBDIR = EVAL_SUBDIR  # python -m model.explain --out EVAL_DIR/explanations
PAIR_WIDTH_PX = 360  # each map of the trained/randomised pair; full-width maps dwarf the page


def _interval(value: float, ci95: Interval) -> str:
    return format_interval(value, ci95.low, ci95.high)


def _label(summary: ExplanationSummary, method: str) -> str:
    return summary.info.methods[method].label


def describe(summary: ExplanationSummary) -> str:
    """One line: split, number of scans, model, curve and sanity settings."""
    s = summary.info
    return (
        f"Split '{s.split}': {_count(s.n_cases)} scans; model {s.checkpoint}; "
        f"{_count(s.steps)} steps per deletion/insertion curve; sanity check on "
        f"{_count(s.sanity_cases)} scans; 95% intervals bootstrap over duplicate groups."
    )


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


def summary_frame(summary: ExplanationSummary) -> pd.DataFrame:
    """One row per method (random reference last): faithfulness, sanity and localisation, with intervals."""
    rows = {}
    methods = summary.info.methods
    for name in sorted(methods, key=lambda m: m == RANDOM_REFERENCE):
        m = methods[name]
        sanity, pg, share = m.sanity, m.pointing_game, m.mask_share
        verdict = {True: "pass", False: "fail"}.get(sanity.passed, "not checked")
        rows[m.label] = {
            "deletion AUC ↓": _interval(m.deletion_auc.mean, m.deletion_auc.ci95),
            "insertion AUC ↑": _interval(m.insertion_auc.mean, m.insertion_auc.ci95),
            "sanity: median ρ ↓": f"{format_interval(sanity.median_spearman)} ({verdict})",
            "pointing game ↑": f"{_interval(pg.hit_rate, pg.ci95)} vs chance {format_interval(pg.chance)}",
            "relevance in mask ↑": f"{_interval(share.mean, share.ci95)} vs area "
            + format_interval(share.area_share),
            "scans": m.n_cases,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "method"
    return frame


def curve_inputs(summary: ExplanationSummary) -> dict[str, tuple]:
    """method label -> (fractions, mean deletion curve, mean insertion curve), for methods with curves."""
    return {m.label: (m.curves.fractions, m.curves.deletion, m.curves.insertion)
            for m in summary.info.methods.values() if m.curves is not None}  # fmt: skip


def sanity_inputs(summary: ExplanationSummary) -> tuple[list[str], list[float], list[bool], float]:
    """(labels, median Spearman, verdicts, threshold) of the methods that went through the sanity check."""
    checked = [m for m in summary.info.methods.values() if m.sanity.passed is not None]
    names = [m.label for m in checked]
    rho = [m.sanity.median_spearman for m in checked]
    verdicts = [bool(m.sanity.passed) for m in checked]
    return names, rho, verdicts, summary.info.sanity_threshold


def pointing_inputs(summary: ExplanationSummary) -> tuple[list[str], list[float], list[float], list[float]]:
    """(labels, hit rate, low, high) of the methods scored against tumour masks."""
    scored = [m for m in summary.info.methods.values() if m.pointing_game.n]
    return (
        [m.label for m in scored],
        [m.pointing_game.hit_rate for m in scored],
        [m.pointing_game.ci95.low for m in scored],
        [m.pointing_game.ci95.high for m in scored],
    )


def sanity_cases(summary: ExplanationSummary) -> pd.DataFrame:
    """The scans that went through the sanity check: path, sha256, target, and ρ per method (columns)."""
    cases = summary.cases
    rows = cases[cases["sanity_spearman"].notna()] if "sanity_spearman" in cases else cases.head(0)
    return rows.pivot_table(
        index=["path", "sha256", "target"], columns="method", values="sanity_spearman", aggfunc="first"
    ).reset_index()


def sanity_case(cases: pd.DataFrame, path: str) -> dict:
    """One scan's row of :func:`sanity_cases` as a dict (path, sha256, target, ρ per method).

    Args:
        cases: the frame :func:`sanity_cases` returned.
        path: the scan's data-root-relative path, one of ``cases["path"]``.

    Returns:
        The first row whose ``path`` is ``path``.

    Raises:
        KeyError: No row has that path.
    """
    rows = cases[cases["path"] == path]
    if rows.empty:
        raise KeyError(f"{path!r} is not one of the sanity-checked scans.")
    return rows.iloc[0].to_dict()


def render_pair(
    summary: ExplanationSummary, classifier: Classifier, data_dir: Path, case: dict, method: str
) -> None:
    """The trained model's saved map beside the fully randomised model's map (computed now), same scale."""
    loaded = audit_view.case_scan(data_dir, case["path"])
    if isinstance(loaded, str):
        st.warning(loaded)
        return
    sha, data, scan = loaded
    target = int(case["target"])
    saved = summary.map_for(method, target, case["sha256"])
    _, geometry = crop_and_resize(scan.image, classifier.preprocess)
    left, right = st.columns(2)
    if saved is None:
        left.caption(f"No saved map of {_label(summary, method)} for this scan.")
    else:
        real = Heatmap(np.asarray(saved, np.float32), "patch", method, target, tuple(geometry.input_size))
        with left:
            trained = figures.build_map_figure(scan.image, real, geometry, "trained model (saved)")
            widgets_eval.show_figure(trained, width=PAIR_WIDTH_PX)
    with st.spinner(f"Explaining with the randomised model ({_label(summary, method)})…"):
        random = resources.randomised_map_cached(
            classifier.source, classifier.fingerprint, sha, data, method, target
        )
    with right:
        randomised = figures.build_map_figure(scan.image, random, geometry, "randomised model")
        widgets_eval.show_figure(randomised, width=PAIR_WIDTH_PX)
    rho = case.get(method)
    st.caption(
        f"{_label(summary, method)}: rank correlation between the two maps in the batch job "
        f"ρ = {format_interval(rho)} (pass below {summary.info.sanity_threshold})."
    )


def compare_labels(summary: ExplanationSummary, cases: pd.DataFrame) -> dict[str, str]:
    """Registry key -> label of the methods with a sanity result, fast ones first (first = default)."""
    names = [c for c in cases.columns if c in summary.info.methods and c != RANDOM_REFERENCE]
    names.sort(key=lambda n: EXPLAINERS[n].speed != "fast" if n in EXPLAINERS else True)
    return {n: _label(summary, n) for n in names}
