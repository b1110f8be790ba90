"""Plain readings of evaluation numbers: what an AUC interval, a specificity or an accuracy means here.

Every sentence is computed from the saved evaluation (``{split}_results.json``, see
:mod:`model.evaluate.artifacts`),
never hard-coded, so a new model gets its own readings: an ROC-AUC interval that includes 0.5 "cannot be told
apart from chance", a specificity of 0.40 means "6 of 10 healthy scans are flagged", accuracy is set against
the all-majority baseline, and n is always said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

CHANCE_AUC = 0.5
OUT_OF = 10  # "x of 10 healthy scans": a count people can picture


def _finite(*values: object) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def auc_reading(value: float, low: float | None, high: float | None, n: int) -> str:
    """ROC-AUC in words: better than chance only when the whole 95 % interval lies above 0.5.

    Args:
        value: ROC-AUC point estimate in [0, 1] (NaN when undefined).
        low: lower end of its 95 % interval (None or NaN when missing).
        high: upper end of that interval (None or NaN when missing).
        n: number of scans it was measured on.

    Returns:
        One sentence: undefined, no interval, not distinguishable from chance, or better / worse than it.
    """
    if not _finite(value):
        return f"ROC-AUC is undefined on these {n} scans (one class is missing)."
    if not _finite(low, high):
        return f"ROC-AUC {value:.2f} on {n} scans, with no interval: it cannot be read as better than chance."
    if low <= CHANCE_AUC <= high:
        return (
            f"ROC-AUC {value:.2f} (95 % interval {low:.2f}–{high:.2f}, n = {n}): the interval includes 0.5, "
            "so the model's ranking cannot be told apart from chance on this split."
        )
    side = "better" if low > CHANCE_AUC else "worse"
    return f"ROC-AUC {value:.2f} (95 % interval {low:.2f}–{high:.2f}, n = {n}): {side} than chance."


def rate_reading(rate: float, n_class: int, who: str, what: str) -> str:
    """A rate as "about x of 10 <who> are <what>" (e.g. healthy scans flagged as tumour).

    Args:
        rate: share in [0, 1] (NaN when undefined).
        n_class: how many scans of that class it was measured on.
        who: e.g. ``"healthy scans"``.
        what: e.g. ``"flagged as tumor"``.

    Returns:
        One sentence ("About x of 10 ..."), or one saying the rate is undefined.
    """
    if not _finite(rate) or n_class == 0:
        return f"No {who} in this split, so the rate of {who} {what} is undefined."
    return f"About {round(rate * OUT_OF)} of {OUT_OF} {who} are {what} (measured on {n_class})."


def majority_baseline(confusion: Sequence[Sequence[int]], labels: Sequence[str]) -> tuple[str, float]:
    """(label, accuracy) of always answering the most common true label.

    Args:
        confusion: (K, K) counts, rows = true label, columns = predicted label.
        labels: class names in index order.

    Returns:
        The most common true label (the first on a tie) and its share of the scans (NaN with no scans).
    """
    counts = np.asarray(confusion, dtype=np.int64).sum(axis=1)
    n = int(counts.sum())
    top = int(np.argmax(counts))
    return labels[top], (float(counts[top]) / n if n else float("nan"))


def accuracy_reading(accuracy: float, confusion: Sequence[Sequence[int]], labels: Sequence[str]) -> str:
    """Accuracy set against the all-majority baseline on the same scans.

    Args:
        accuracy: accuracy in [0, 1] (NaN when undefined).
        confusion: (K, K) counts, rows = true label, columns = predicted label.
        labels: class names in index order.

    Returns:
        One sentence naming the accuracy, n, and whether it is above the baseline of
        :func:`majority_baseline`.
    """
    label, base = majority_baseline(confusion, labels)
    n = int(np.asarray(confusion).sum())
    if not _finite(accuracy, base):
        return f"Accuracy is undefined on these {n} scans."
    verdict = "above" if accuracy > base else "not above"
    return f"Accuracy {accuracy:.2f} on {n} scans, {verdict} the {base:.2f} of always answering '{label}'."


def evaluation_readings(results: Mapping, calibrated: bool = False) -> list[str]:
    """Plain sentences for a saved evaluation: accuracy vs baseline, AUC vs chance, miss / alarm rates.

    Args:
        results: a saved ``{split}_results.json`` dict (see :mod:`model.evaluate.artifacts`).
        calibrated: read the temperature-scaled view (falls back to raw when there is none).

    Returns:
        Four sentences: accuracy vs baseline, ROC-AUC vs chance, negatives flagged, positives missed.
    """
    view = results["calibrated"] if calibrated and results.get("calibrated") else results
    metrics, ci, confusion = view["metrics"], view.get("ci95") or {}, view["confusion"]
    labels, positive = list(results["labels"]), results["positive_label"]
    pos = labels.index(positive)
    negative = next(label for label in labels if label != positive)
    counts = np.asarray(confusion, dtype=np.int64).sum(axis=1)
    low, high = ci.get("roc_auc") or (None, None)
    return [
        accuracy_reading(metrics["accuracy"], confusion, labels),
        auc_reading(metrics["roc_auc"], low, high, int(results["n"])),
        rate_reading(1.0 - metrics["specificity"], int(counts[1 - pos]), f"'{negative}' scans", "flagged"),
        rate_reading(1.0 - metrics["sensitivity"], int(counts[pos]), f"'{positive}' scans", "missed"),
    ]


def calibration_effect(results: Mapping) -> tuple[bool | None, str]:
    """Does temperature scaling lower the expected calibration error on this evaluation?

    Args:
        results: a saved ``{split}_results.json`` dict.

    Returns:
        (True / False, sentence), or (None, sentence) when no calibrated view was saved.
    """
    if not results.get("calibrated"):
        return None, f"No calibration was saved with '{results['name']}': probabilities are raw."
    raw, cal = results["metrics"]["ece"], results["calibrated"]["metrics"]["ece"]
    helps = bool(cal < raw)
    if helps:
        return True, f"On '{results['name']}', calibration lowers ECE from {raw:.3f} to {cal:.3f}."
    return False, (
        f"On '{results['name']}', calibration does not help: ECE {cal:.3f} calibrated vs {raw:.3f} raw. "
        "Raw probabilities are used unless you choose otherwise."
    )


def training_size(manifest: pd.DataFrame) -> tuple[int, int]:
    """(scans, duplicate groups) in the manifest's train split: the one count every page quotes."""
    train = manifest[manifest["split"] == "train"]
    return len(train), int(train["group"].nunique())
