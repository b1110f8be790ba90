"""The whole schema of one saved evaluation, checked at read (and write) time by ``model.evaluate.artifacts``.

A results file is checked key by key: types (a JSON ``true`` is not the integer 1), ranges (probabilities and
rates in [0, 1], counts >= 0, the threshold in [0, 1], the temperature in the range it is fitted in), shapes
(K x K confusion, 10 reliability bins, one ``per_class`` entry per label) and sums (the confusion and the bins
count n cases). The predictions file is checked row by row: unique relative paths, known labels, finite
logits, and probabilities that are the softmax of those logits (``pcal_`` at the saved temperature). Finally
the saved confusion, metrics and reliability bins must be what :func:`model.evaluate.metrics.compute_metrics`
gives
on the records, so a page never shows a number its records do not support. Every failure raises
:class:`ArtifactError` with one sentence and the command that regenerates the evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from model.errors import MriExplainError
from model.evaluate.calibration import check_temperature, softmax_with_temperature
from model.evaluate.metrics import (
    CAL_PREFIX,
    LOGIT_PREFIX,
    N_RELIABILITY_BINS,
    PROB_PREFIX,
    SCALARS,
    compute_metrics,
    predict_indices,
)
from model.labels import is_plain_label

KINDS = ("split", "external")
VIEW_KEYS = ("metrics", "ci95", "undefined", "confusion", "reliability")
PER_CLASS_RATES = ("precision", "recall", "f1")
BIN_KEYS = ("lower", "upper", "count", "confidence", "accuracy")
# Saved and recomputed values come from the same float64 code; another CPU may differ in the last bits only.
RECOMPUTE_TOL = 1e-9
# Stored probabilities are softmax(logits) written in round-trip precision; recomputed they agree to ~1e-16.
SOFTMAX_TOL = 1e-9


class ArtifactError(MriExplainError, RuntimeError):
    """A saved evaluation is missing, corrupt or belongs to another model; the message names the fix."""


def is_int(value: object) -> bool:
    """A JSON integer (``true``/``false`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A finite JSON number (booleans are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _rate(value: object, nullable: bool = True) -> bool:
    return (nullable and value is None) or (is_real(value) and 0.0 <= value <= 1.0)


class _Checker:
    """Collects the evaluation's name and fix so every refusal is one line."""

    def __init__(self, name: str, fix: str) -> None:
        self.name, self.fix = name, fix

    def require(self, ok: bool, what: str) -> None:
        if not ok:
            raise ArtifactError(f"evaluation '{self.name}' {what}: {self.fix}")


def check_results(name: str, results: Mapping, fix: str) -> None:
    """Types, ranges and shapes of a results dict as read from JSON (nulls still None).

    Args:
        name: evaluation name (for the message).
        results: the parsed ``{name}_results.json``.
        fix: the command that regenerates it.

    Raises:
        ArtifactError: the first violation found.
    """
    c = _Checker(name, fix)
    labels = results["labels"]
    c.require(
        isinstance(labels, list) and len(labels) >= 2 and all(is_plain_label(x) for x in labels),
        "has labels that are not a list of at least two plain names (letters, digits, spaces, _ - ( ))",
    )
    c.require(len(set(labels)) == len(labels), "lists a label twice")
    for key in ("name", "checkpoint", "predictions_sha256"):
        c.require(isinstance(results[key], str) and bool(results[key]), f"has a '{key}' that is not text")
    c.require(results["kind"] in KINDS, f"has kind {results['kind']!r:.40}, not one of {list(KINDS)}")
    c.require(results["positive_label"] in labels, "has a positive label that is not one of its labels")
    n = results["n"]
    c.require(is_int(n) and n >= 1, "has a case count 'n' that is not a positive integer")
    n_groups = results.get("n_groups", n)
    c.require(is_int(n_groups) and 1 <= n_groups <= n, "has an 'n_groups' that is not an integer in 1..n")
    c.require(_rate(results["threshold"], nullable=False), "has a threshold that is not a number in [0, 1]")
    _check_view(c, results, labels, n)
    calibrated = results["calibrated"]
    if calibrated is not None:
        c.require(isinstance(calibrated, dict), "has a 'calibrated' block that is neither null nor an object")
        missing = [k for k in ("temperature", "fitted_on", *VIEW_KEYS) if k not in calibrated]
        c.require(not missing, f"has a 'calibrated' block without {missing}")
        try:
            check_temperature(calibrated["temperature"])
        except ValueError as err:
            c.require(False, f"has a calibrated {err}")
        c.require(isinstance(calibrated["fitted_on"], str), "has a 'fitted_on' that is not text")
        _check_view(c, calibrated, labels, n, "calibrated ")


def _check_view(c: _Checker, view: Mapping, labels: list[str], n: int, prefix: str = "") -> None:
    metrics = view["metrics"]
    c.require(isinstance(metrics, dict), f"has {prefix}metrics that are not an object")
    missing = [k for k in (*SCALARS, "per_class") if k not in metrics]
    c.require(not missing, f"has {prefix}metrics without {missing}")
    for key in SCALARS:
        ok = metrics[key] is None or (is_real(metrics[key]) and metrics[key] >= 0)
        c.require(ok and (key == "nll" or _rate(metrics[key])), f"has a {prefix}{key} outside its range")
    per_class = metrics["per_class"]
    one_per_label = isinstance(per_class, dict) and set(per_class) == set(labels)
    c.require(one_per_label, f"has {prefix}per-class metrics that are not one object per label")
    for stats in per_class.values():
        ok = isinstance(stats, dict) and all(_rate(stats.get(k, -1)) for k in PER_CLASS_RATES)
        ok = ok and is_int(stats.get("support")) and stats["support"] >= 0
        c.require(ok, f"has {prefix}per-class precision/recall/f1 outside [0, 1] or a bad support")
    undefined = view["undefined"]
    reasons = isinstance(undefined, dict) and all(isinstance(v, str) for v in undefined.values())
    c.require(reasons, f"has {prefix}'undefined' reasons that are not text")
    _check_ci(c, view["ci95"], labels, prefix)
    confusion = view["confusion"]
    k = len(labels)
    shape_ok = isinstance(confusion, list) and len(confusion) == k
    shape_ok = shape_ok and all(isinstance(row, list) and len(row) == k for row in confusion)
    c.require(shape_ok, f"has inconsistent shapes ({prefix}confusion is not {k} x {k} for {k} labels)")
    counts = [x for row in confusion for x in row]
    c.require(all(is_int(x) and x >= 0 for x in counts), f"has {prefix}confusion counts that are not counts")
    c.require(sum(counts) == n, f"has a {prefix}confusion matrix that does not count its n={n} cases")
    _check_reliability(c, view["reliability"], n, prefix)


def _check_ci(c: _Checker, ci: object, labels: list[str], prefix: str) -> None:
    if ci is None:
        return
    c.require(isinstance(ci, dict), f"has {prefix}intervals that are neither null nor an object")

    def pair(value: object) -> bool:
        if value is None:
            return True
        if not (isinstance(value, list) and len(value) == 2):
            return False
        if value == [None, None]:
            return True
        return all(is_real(v) and v >= 0 for v in value) and value[0] <= value[1]

    for key, value in ci.items():
        if key == "per_class":
            ok = isinstance(value, dict) and set(value) <= set(labels)
            ok = ok and all(isinstance(s, dict) and all(pair(v) for v in s.values()) for s in value.values())
        else:
            ok = key in SCALARS and pair(value)
        c.require(ok, f"has a {prefix}95% interval '{key}' that is not [low, high]")


def _check_reliability(c: _Checker, reliability: object, n: int, prefix: str) -> None:
    kinds = ("top_label", "positive")
    c.require(
        isinstance(reliability, dict) and set(kinds) <= set(reliability),
        f"has {prefix}reliability without 'top_label' and 'positive' bins",
    )
    for kind in kinds:
        bins = reliability[kind]
        ok = isinstance(bins, list) and len(bins) == N_RELIABILITY_BINS
        ok = ok and all(isinstance(b, dict) and set(BIN_KEYS) <= set(b) for b in bins)
        c.require(ok, f"has {prefix}{kind} reliability that is not {N_RELIABILITY_BINS} bins")
        for b in bins:
            ok = _rate(b["lower"], False) and _rate(b["upper"], False) and _rate(b["confidence"])
            ok = ok and _rate(b["accuracy"]) and is_int(b["count"]) and b["count"] >= 0
            c.require(ok, f"has a {prefix}{kind} reliability bin outside [0, 1] or with a bad count")
        c.require(
            sum(b["count"] for b in bins) == n, f"has {prefix}{kind} bins that do not count n={n} cases"
        )


def check_records(name: str, results: Mapping, records: pd.DataFrame, fix: str) -> None:
    """Rows of the predictions file: paths, labels, logits and probabilities (after the columns exist).

    Args:
        name: evaluation name (for the message).
        results: the parsed ``{name}_results.json``, already passed by :func:`check_results` (its
            ``labels``, ``positive_label`` and ``calibrated`` temperature are used).
        records: the N rows of ``{name}_predictions.csv`` with ``path``, ``label``, ``predicted`` and the
            ``logit_``/``p_`` (and, when calibrated, ``pcal_``) column of every label.
        fix: the command that regenerates it.

    Raises:
        ArtifactError: the first violation found (a repeated, absolute or ``..`` path, an unknown label,
            a non-finite logit, probabilities that are not the softmax of the logits to within
            :data:`SOFTMAX_TOL`, or a ``predicted`` label that is not the class at threshold 0.5).
    """
    c = _Checker(name, fix)
    labels = results["labels"]
    paths = records["path"]
    c.require(paths.is_unique, "lists a case path twice in its predictions")
    c.require(all(_relative(p) for p in paths), "has case paths that are empty, absolute or contain '..'")
    for column in ("label", "predicted"):
        c.require(records[column].isin(labels).all(), f"has a '{column}' that is not one of its labels")
    logits = _numbers(records, [f"{LOGIT_PREFIX}{x}" for x in labels])
    c.require(bool(np.isfinite(logits).all()), "has logits that are not finite numbers")
    views = [(PROB_PREFIX, 1.0)]
    if results["calibrated"] is not None:
        views.append((CAL_PREFIX, float(results["calibrated"]["temperature"])))
    for prefix, temperature in views:
        probs = _numbers(records, [f"{prefix}{x}" for x in labels])
        expected = softmax_with_temperature(logits, temperature)
        c.require(
            bool(np.isfinite(probs).all()) and np.allclose(probs, expected, rtol=0, atol=SOFTMAX_TOL),
            f"has {prefix} columns that are not the softmax of its logits (probabilities must lie in [0, 1])",
        )
    raw = _numbers(records, [f"{PROB_PREFIX}{x}" for x in labels])
    predicted = np.asarray(labels)[predict_indices(raw, labels.index(results["positive_label"]))]
    at_half = bool((records["predicted"].to_numpy() == predicted).all())
    c.require(at_half, "has a 'predicted' column that is not the class at threshold 0.5")


def _relative(path: str) -> bool:
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path


def _numbers(records: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """(N, K) float64 of ``columns``; text that is not a number becomes NaN (then refused as not finite)."""
    return records[columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)


def check_recomputed(name: str, results: Mapping, records: pd.DataFrame, fix: str) -> None:
    """The saved confusion, point metrics and reliability bins equal those recomputed from the records.

    Both the raw view and (when saved) the calibrated view are recomputed with
    :func:`model.evaluate.metrics.compute_metrics` (no bootstrap) and compared to within
    :data:`RECOMPUTE_TOL`; a NaN recomputed value must be saved as null.

    Args:
        name: evaluation name (for the message).
        results: the parsed ``{name}_results.json`` (nulls still None), already checked.
        records: its per-case records, already passed by :func:`check_records`.
        fix: the command that regenerates it.

    Raises:
        ArtifactError: a view disagrees (an edited file), naming the fix.
        ValueError: the records cannot be scored (raised by ``compute_metrics``; the caller wraps it).
    """
    c = _Checker(name, fix)
    views = [(results, False)] + (
        [(results["calibrated"], True)] if results["calibrated"] is not None else []
    )
    for view, calibrated in views:
        check = compute_metrics(
            records, results["labels"], results["positive_label"], results["threshold"], calibrated, 0
        )
        same = check["confusion"] == view["confusion"] and _close(check["metrics"], view["metrics"])
        same = same and _close(check["reliability"], view["reliability"])
        c.require(same, "results do not match its predictions (edited?)")


def _close(a: object, b: object) -> bool:
    """Equal up to RECOMPUTE_TOL, NaN equal to null; same keys and lengths."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and math.isnan(a):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return is_real(b) and math.isclose(a, b, rel_tol=RECOMPUTE_TOL, abs_tol=RECOMPUTE_TOL)
