"""Display tables and sentences for the Performance page's threshold section.

Splits the metrics into those that move with the decision threshold and those that do not
(:data:`model.evaluate.metrics.THRESHOLD_FREE`), gives the positive-class scores per true class for the score
distribution, the confusion counts of every split at one threshold, and the sentence under the slider.
Nothing here computes a metric: counts come from :func:`model.evaluate.metrics.confusion_at`, metrics from
``compute_metrics`` results or the saved evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dashboard.safe_text import plain
from dashboard.tables import METRIC_NAMES, has_calibration, metric_cells, positive_label
from model.evaluate.artifacts import Evaluation
from model.evaluate.metrics import THRESHOLD_FREE, confusion_at, record_arrays

FREE_NAMES = tuple(k for k in METRIC_NAMES if k in THRESHOLD_FREE)
DEPENDENT_NAMES = tuple(k for k in METRIC_NAMES if k not in THRESHOLD_FREE)
NEAR_THRESHOLD = 0.05  # scores this close to the threshold flip with a small move of the slider
NOT_AVAILABLE = "n/a"


def _frame(columns: Mapping[str, Mapping[str, str]], names: Sequence[str], index_name: str) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=list(names))
    frame.index = pd.Index([METRIC_NAMES[k] for k in names], name=index_name)
    return frame


def threshold_free_frame(evaluations: Sequence[Evaluation], calibrated: bool = False) -> pd.DataFrame:
    """Threshold-free metrics with 95% intervals: one row per metric, one column per split.

    Returns:
        Index "threshold-free metric (95% interval)", columns ``"<name> (n=<n>)"``; "n/a" where a split has
        no calibrated probabilities and ``calibrated`` is asked for.
    """
    columns = {}
    for ev in evaluations:
        header = f"{ev.name} (n={ev.results['n']})"
        usable = not calibrated or has_calibration(ev)
        columns[header] = (
            metric_cells(ev, calibrated, FREE_NAMES) if usable else dict.fromkeys(FREE_NAMES, "n/a")
        )
    return _frame(columns, FREE_NAMES, "threshold-free metric (95% interval)")


def threshold_dependent_frame(results: Mapping[str, Mapping], threshold: float) -> pd.DataFrame:
    """Threshold-dependent metrics of each split at one threshold, with 95% intervals.

    Args:
        results: column header (e.g. ``"test (n=26)"``) -> ``compute_metrics`` result at ``threshold``.
        threshold: the threshold they were computed at (named in the index).
    """
    columns = {header: metric_cells(result, names=DEPENDENT_NAMES) for header, result in results.items()}
    return _frame(columns, DEPENDENT_NAMES, f"at threshold {threshold:.2f} (95% interval)")


def scores_by_class(ev: Evaluation, calibrated: bool = False) -> dict[str, NDArray[np.float64]]:
    """True label -> (n,) positive-class probabilities of its scans, in label order (for the histogram)."""
    y, probs = record_arrays(ev.records, ev.labels, calibrated)
    pos = ev.labels.index(positive_label(ev))
    return {label: probs[y == i, pos] for i, label in enumerate(ev.labels)}


def confusions_at(
    evaluations: Sequence[Evaluation], threshold: float, calibrated: bool = False
) -> dict[str, NDArray[np.int64]]:
    """``"<name> (n=<n>)"`` -> (K, K) counts at ``threshold`` (rows = true, columns = predicted) per split.

    Splits without calibrated probabilities are left out when ``calibrated`` is asked for.
    """
    return {
        f"{ev.name} (n={ev.results['n']})": confusion_at(
            ev.records, ev.labels, positive_label(ev), threshold, calibrated
        )
        for ev in evaluations
        if not calibrated or has_calibration(ev)
    }


def threshold_caption(ev: Evaluation, threshold: float, calibrated: bool = False) -> str:
    """What the slider's position means for this split, in words; follows the slider.

    Returns:
        E.g. "At threshold 0.47, 20 of 26 scans in test are called tumor: 14 of 16 tumor scans and 6 of 10
        others. 9 scans score within 0.05 of the threshold: a small move changes their answers."
    """
    positive = positive_label(ev)
    scores = scores_by_class(ev, calibrated)
    called = {label: int((p >= threshold).sum()) for label, p in scores.items()}
    n_pos, n_other = len(scores[positive]), sum(len(p) for k, p in scores.items() if k != positive)
    other_called = sum(v for k, v in called.items() if k != positive)
    near = sum(int((np.abs(p - threshold) < NEAR_THRESHOLD).sum()) for p in scores.values())
    name, pos = plain(ev.name), plain(positive)
    text = (
        f"At threshold {threshold:.2f}, {called[positive] + other_called} of {n_pos + n_other} scans in "
        f"{name} are called {pos}: {called[positive]} of {n_pos} {pos} scans and {other_called} of "
        f"{n_other} others."
    )
    if near:
        scans = "1 scan scores" if near == 1 else f"{near} scans score"
        text += (
            f" {scans} within {NEAR_THRESHOLD:.2f} of the threshold: a small move of the slider changes "
            "their answers."
        )
    return text
