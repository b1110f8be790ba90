"""Display tables for the evaluation pages: saved-evaluation dicts in, pandas frames and strings out.

This module is the dashboard's only reader of the keys of a results dict (see
:mod:`model.evaluate.artifacts`) and of
:func:`model.evaluate.metrics.compute_metrics` output, so pages stay free of JSON keys. Nothing here computes
a metric:
values come from the saved evaluation or from ``compute_metrics``; this module selects, formats and arranges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard.safe_text import plain
from model.evaluate.artifacts import Evaluation
from model.evaluate.metrics import predict_indices, record_arrays
from model.evaluate.readings import evaluation_readings
from model.evaluate.result_views import Interval, ResultView

# Display names in table order; the first four are the headline metrics.
METRIC_NAMES: dict[str, str] = {
    "accuracy": "Accuracy",
    "roc_auc": "ROC-AUC",
    "sensitivity": "Sensitivity (tumour recall)",
    "specificity": "Specificity",
    "balanced_accuracy": "Balanced accuracy",
    "pr_auc": "PR-AUC (average precision)",
    "macro_f1": "Macro F1",
    "brier": "Brier score (lower is better)",
    "ece": "Expected calibration error (lower is better)",
}
HEADLINE = ("accuracy", "roc_auc", "sensitivity", "specificity")
NOT_AVAILABLE = "n/a"


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


DEGENERATE = "degenerate"  # every bootstrap resample gave the same value: the interval measures no spread
DEGENERATE_NOTE = (
    "An interval marked *degenerate* has zero width: every bootstrap resample gave the same value (e.g. all "
    "healthy scans right), which says the split is too small to measure the spread, not that it is certain."
)


def is_degenerate(low: object, high: object) -> bool:
    """Whether an interval is a single point (both ends finite and equal)."""
    return _finite(low) and _finite(high) and math.isclose(low, high, abs_tol=1e-12)


def format_interval(
    value: float, low: float | None = None, high: float | None = None, digits: int = 2
) -> str:
    """``"0.85 (0.78–0.91)"``; ``"1.00 (1.00–1.00, degenerate)"`` for a zero-width interval; the value alone
    when the interval is missing; ``"n/a"`` when undefined."""
    if not _finite(value):
        return NOT_AVAILABLE
    text = f"{value:.{digits}f}"
    if is_degenerate(low, high):
        text += f" ({low:.{digits}f}–{high:.{digits}f}, {DEGENERATE})"
    elif _finite(low) and _finite(high):
        text += f" ({low:.{digits}f}–{high:.{digits}f})"
    return text


def _view(source: Evaluation | Mapping | ResultView, calibrated: bool) -> ResultView:
    """The typed numbers of a saved evaluation's view, or of a compute_metrics result."""
    if isinstance(source, Evaluation):
        if calibrated and source.calibrated is None:
            raise ValueError(f"evaluation '{source.name}' has no calibrated probabilities.")
        return source.view(calibrated)
    return source if isinstance(source, ResultView) else ResultView.from_dict(source)


def _ends(interval: Interval) -> tuple[float, float]:
    return interval.low, interval.high


def metric_cells(
    source: Evaluation | Mapping | ResultView,
    calibrated: bool = False,
    names: Sequence[str] = tuple(METRIC_NAMES),
) -> dict[str, str]:
    """Formatted ``value (low–high)`` per metric key, from a saved evaluation or a compute_metrics result."""
    view = _view(source, calibrated)
    return {name: format_interval(view.metrics.value(name), *_ends(view.interval(name))) for name in names}


def headline(ev: Evaluation, calibrated: bool = False) -> list[tuple[str, str, str]]:
    """(display name, value, "95% CI low–high") for each headline metric, for ``st.metric``."""
    view = _view(ev, calibrated)
    out = []
    for name in HEADLINE:
        value, (low, high) = view.metrics.value(name), _ends(view.interval(name))
        interval = f"95% CI {low:.2f}–{high:.2f}" if _finite(low) and _finite(high) else "no interval"
        interval += f" ({DEGENERATE})" if is_degenerate(low, high) else ""
        out.append((METRIC_NAMES[name], format_interval(value), interval))
    return out


def has_calibration(ev: Evaluation) -> bool:
    """Whether the evaluation holds temperature-scaled probabilities."""
    return ev.calibrated is not None


def describe(ev: Evaluation) -> str:
    """One line naming an evaluation: its name, cases, duplicate groups, checkpoint and threshold."""
    kind = "external data set" if ev.kind == "external" else "split"
    return (
        f"{plain(ev.name)} ({kind}): {ev.n} scans in {ev.n_groups} duplicate groups; "
        f"model {plain(ev.checkpoint)}; threshold {ev.threshold:.2f}"
    )


def split_metrics_frame(evaluations: Sequence[Evaluation], calibrated: bool = False) -> pd.DataFrame:
    """Metrics with 95% intervals: one row per metric, one column per evaluation (``test (n=51)``).

    Evaluations without calibrated probabilities show "n/a" when ``calibrated`` is asked for.
    """
    columns = {}
    for ev in evaluations:
        header = f"{ev.name} (n={ev.n})"
        if calibrated and not has_calibration(ev):
            columns[header] = dict.fromkeys(METRIC_NAMES, NOT_AVAILABLE)
        else:
            columns[header] = metric_cells(ev, calibrated)
    frame = pd.DataFrame(columns, index=list(METRIC_NAMES))
    frame.index = [METRIC_NAMES[k] for k in frame.index]
    frame.index.name = "metric (95% interval)"
    return frame


def threshold_metrics_frame(result: Mapping) -> pd.DataFrame:
    """One compute_metrics result as a frame: index = metric name, one column of value (interval)."""
    view = _view(result, False)
    cells = metric_cells(view)
    names = pd.Index([METRIC_NAMES[k] for k in cells], name=f"at threshold {view.threshold:.2f}")
    return pd.DataFrame({"value (95% interval)": list(cells.values())}, index=names)


def saved_result(ev: Evaluation, calibrated: bool = False) -> dict:
    """A saved evaluation's metrics in the shape of a ``compute_metrics`` result (no recomputation)."""
    _view(ev, calibrated)  # no calibration: ValueError
    view = ev.results["calibrated"] if calibrated else ev.results
    return {**view, "n": ev.n, "threshold": ev.threshold}


def curve_kwargs(
    result: Mapping | ResultView, roc: pd.DataFrame, pr: pd.DataFrame, positive: str
) -> tuple[dict, dict]:
    """Keyword arguments of ``build_roc_figure`` and ``build_pr_figure`` for one threshold's result.

    Args:
        result: ``compute_metrics`` output at the threshold to mark.
        roc: ``roc_curve_points`` frame; pr: ``pr_curve_points`` frame (same records).
        positive: the positive class.
    """
    view = _view(result, False)
    m, threshold = view.metrics, view.threshold
    pos = m.per_class[positive]
    recall = m.sensitivity
    roc_kw = {
        "fpr": roc["fpr"].to_numpy(),
        "tpr": roc["tpr"].to_numpy(),
        "auc": m.roc_auc,
        "operating_point": (1.0 - m.specificity, recall),
        "threshold": threshold,
    }
    pr_kw = {
        "recall": pr["recall"].to_numpy(),
        "precision": pr["precision"].to_numpy(),
        "average_precision": m.pr_auc,
        "prevalence": pos.support / view.n,
        "operating_point": (recall, pos.precision),
        "threshold": threshold,
    }
    return roc_kw, pr_kw


def positive_label(ev: Evaluation) -> str:
    """The class the binary metrics treat as positive."""
    return ev.positive_label


def saved_threshold(ev: Evaluation) -> float:
    """The decision threshold the saved metrics were computed at."""
    return ev.threshold


def reliability_curves(ev: Evaluation) -> tuple[dict[str, tuple], dict[str, float]]:
    """Inputs of :func:`model.figures.evaluation.build_reliability_figure`: raw and calibrated positive bins.

    Returns:
        (name -> (mean predicted probability, observed share positive, count) over non-empty bins,
        name -> ECE of the top-label bins as saved).
    """
    curves, ece = {}, {}
    views = {"raw": ev.raw, "calibrated": ev.calibrated}
    for name, view in views.items():
        if view is None:
            continue
        bins = [b for b in view.reliability_positive if b.count > 0]
        columns = ("confidence", "accuracy", "count")
        curves[name] = tuple(np.array([getattr(b, k) for b in bins], dtype=float) for k in columns)
        ece[name] = view.metrics.ece
    return curves, ece


AUDIT_KINDS = ("false positive", "false negative", "low confidence")
AUDIT_TITLES = {
    "false positive": "False positives",
    "false negative": "False negatives",
    "low confidence": "Low confidence",
}


def audit_cases(
    ev: Evaluation, threshold: float, band: tuple[float, float], calibrated: bool = False
) -> pd.DataFrame:
    """Cases worth a second look: wrong at ``threshold``, or with a positive probability inside ``band``.

    The decision is :func:`model.evaluate.metrics.predict_indices` (the rule every metric uses).

    Args:
        ev: a saved evaluation.
        threshold: decision threshold on the positive probability, in [0, 1].
        band: (low, high) positive probabilities counted as unsure, inclusive.
        calibrated: use the temperature-scaled probabilities.

    Returns:
        One row per case with ``case`` (path relative to the data root), ``finding`` (one of
        :data:`AUDIT_KINDS`; an error inside the band is listed as the error), ``true label``, ``predicted``,
        ``P(<positive>)``, ``unsure`` (inside the band) and ``sha256``; errors first, most confident first.
    """
    labels, positive = ev.labels, positive_label(ev)
    y, probs = record_arrays(ev.records, labels, calibrated)
    pos = labels.index(positive)
    pred = predict_indices(probs, pos, threshold)
    p_pos = probs[:, pos]
    unsure = (p_pos >= band[0]) & (p_pos <= band[1])
    finding = np.select([(pred == pos) & (y != pos), (pred != pos) & (y == pos), unsure], AUDIT_KINDS, "")
    frame = pd.DataFrame(
        {
            "case": ev.records["path"],
            "finding": finding,
            "true label": [labels[i] for i in y],
            "predicted": [labels[i] for i in pred],
            probability_column(positive): p_pos,
            "unsure": unsure,
            "sha256": ev.records["sha256"],
        }
    )
    frame = frame[frame["finding"] != ""]
    order = frame["finding"].map(AUDIT_KINDS.index) * 10 - (frame[probability_column(positive)] - 0.5).abs()
    return frame.loc[order.sort_values(kind="stable").index].reset_index(drop=True)


def probability_column(positive: str) -> str:
    """Name of the positive-class probability column of :func:`audit_cases`, e.g. ``"P(tumor)"``.

    Args:
        positive: the positive class label.

    Returns:
        The column name, as the pages show it.
    """
    return f"P({positive})"


def missing_evaluations_help(eval_dir: str | Path) -> str:
    """What to do when an evaluation folder holds no saved evaluation."""
    return (
        f"No saved evaluation was found in {plain(eval_dir)}. Create them with python -m model.evaluate "
        "--model MODEL_DIR --data DATA_DIR --manifest artifacts/split_manifest.csv "
        f"--out {plain(eval_dir)}, or point the sidebar's *Evaluation folder* field (or `MRI_EXPLAIN_EVAL`) "
        "at a folder that has them."
    )


def audit_counts(cases: pd.DataFrame) -> dict[str, int]:
    """Number of listed cases per finding, in :data:`AUDIT_KINDS` order."""
    return {kind: int((cases["finding"] == kind).sum()) for kind in AUDIT_KINDS}


def audit_summary(cases: pd.DataFrame, ev: Evaluation, threshold: float) -> str:
    """One sentence: how many of the split's scans are listed, and why."""
    counts = ", ".join(
        f"{n} {kind}{'s' if n != 1 and kind != 'low confidence' else ''}"
        for kind, n in audit_counts(cases).items()
    )
    return (
        f"{len(cases)} of {ev.n} scans in {plain(ev.name)} are listed at threshold {threshold:.2f}: {counts}."
    )


def plain_readings(ev: Evaluation, calibrated: bool = False) -> str:
    """The saved metrics in words, a markdown list (:func:`~model.evaluate.readings.evaluation_readings`)."""
    lines = evaluation_readings(ev.results, calibrated)
    return f"**In plain words** (saved threshold {saved_threshold(ev):.2f}):\n" + "".join(
        f"\n- {x}" for x in lines
    )
