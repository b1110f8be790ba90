"""Paired statistics for two models scored on the same cases: outcome table, exact McNemar, paired bootstrap.

Two models evaluated on the same scans are compared case by case, not as two independent samples: the
paired difference of a metric is resampled with the *same* duplicate groups for both models
(:func:`model.evaluate.metrics.group_resamples`, the scheme behind every interval of the project), and the
correct /
incorrect outcomes go into the exact McNemar test, a binomial test on the discordant cases
(McNemar 1947; Edwards 1948 for the exact form).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom

from model.evaluate.metrics import (
    BOOTSTRAP_SEED,
    N_BOOTSTRAP,
    SCALARS,
    bootstrap_samples,
    percentile_interval,
    point_metrics,
)

OUTCOME_KEYS = ("both_correct", "only_a_correct", "only_b_correct", "both_wrong")


def paired_outcomes(correct_a: NDArray[np.bool_], correct_b: NDArray[np.bool_]) -> dict[str, int]:
    """The 2 x 2 table of paired outcomes.

    Args:
        correct_a: (N,) bool, model A right on each case.
        correct_b: (N,) bool, model B right on the same cases, in the same order.

    Returns:
        Counts ``both_correct``, ``only_a_correct``, ``only_b_correct``, ``both_wrong`` (summing to N).
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired outcomes need two (N,) arrays, got shapes {a.shape} and {b.shape}.")
    return {
        "both_correct": int((a & b).sum()),
        "only_a_correct": int((a & ~b).sum()),
        "only_b_correct": int((~a & b).sum()),
        "both_wrong": int((~a & ~b).sum()),
    }


def mcnemar_exact(only_a_correct: int, only_b_correct: int) -> float:
    """Two-sided exact McNemar p-value: under "equally accurate", each discordant case is a fair coin.

    Args:
        only_a_correct: cases A gets right and B wrong (>= 0).
        only_b_correct: cases B gets right and A wrong (>= 0).

    Returns:
        ``min(1, 2 * P(X <= min(b, c)))`` with X ~ Binomial(b + c, 1/2); 1.0 when there is no discordant case.
    """
    b, c = int(only_a_correct), int(only_b_correct)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b} and {c}.")
    if b + c == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))


def paired_difference_intervals(
    y: NDArray[np.int64],
    probs_a: NDArray[np.float64],
    probs_b: NDArray[np.float64],
    groups: Sequence[str],
    labels: Sequence[str],
    pos: int,
    threshold: float,
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    progress: bool = False,
    desc: str = "paired bootstrap",
) -> dict[str, list[float]]:
    """95% percentile-bootstrap intervals of metric(B) - metric(A), both models on the same resampled groups.

    Args:
        y: (N,) true class indices.
        probs_a: (N, K) probabilities of model A; probs_b: (N, K) of model B, same cases and order.
        groups: (N,) duplicate group per case.
        labels, pos, threshold: as for :func:`model.evaluate.metrics.point_metrics`.
        n_resamples: bootstrap resamples; seed: their seed (see
        :func:`model.evaluate.metrics.group_resamples`).
        progress: show a tqdm bar on stderr, labelled ``desc``.

    Returns:
        ``{metric: [low, high]}`` for every :data:`model.evaluate.metrics.SCALARS` (NaN where mostly
        undefined).
    """

    def difference(idx: NDArray[np.int64]) -> dict[str, float]:
        m_a = point_metrics(y[idx], probs_a[idx], labels, pos, threshold)[0]
        m_b = point_metrics(y[idx], probs_b[idx], labels, pos, threshold)[0]
        return {name: m_b[name] - m_a[name] for name in SCALARS}

    samples = bootstrap_samples(difference, groups, n_resamples, seed, desc if progress else None)
    return {name: percentile_interval(samples.get(name, []), n_resamples) for name in SCALARS}
