"""Paired statistics: exact McNemar against hand-computed binomial sums, outcome table, paired intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from model.evaluate.metrics import CI_LEVEL, SCALARS, bootstrap_intervals, group_resamples
from model.evaluate.paired import mcnemar_exact, paired_difference_intervals, paired_outcomes

LABELS = ("no tumor", "tumor")


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (1, 4, 2 * (1 + 5) / 2**5),  # P(X <= 1), X ~ Bin(5, 1/2), doubled
        (4, 1, 2 * (1 + 5) / 2**5),  # symmetric in A and B
        (0, 6, 2 / 2**6),
        (2, 10, 2 * (1 + 12 + 66) / 2**12),
        (3, 3, 1.0),  # 2 * P(X <= 3) > 1 is capped
        (0, 0, 1.0),  # no discordant case: no evidence either way
        (0, 1, 1.0),
    ],
)
def test_mcnemar_exact_matches_hand_computed_binomial_sums(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("b", "c"), [(1, 4), (7, 19), (30, 12), (0, 9)])
def test_mcnemar_exact_agrees_with_scipy_binomtest(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_mcnemar_refuses_negative_counts():
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_exact(-1, 3)


def test_paired_outcomes_counts_each_cell():
    a = np.array([1, 1, 0, 0, 0, 1], bool)
    b = np.array([1, 0, 1, 1, 0, 1], bool)
    assert paired_outcomes(a, b) == {
        "both_correct": 2,
        "only_a_correct": 1,
        "only_b_correct": 2,
        "both_wrong": 1,
    }
    with pytest.raises(ValueError, match="shapes"):
        paired_outcomes(a, b[:3])


def _probs(p_pos):
    p = np.asarray(p_pos, np.float64)
    return np.column_stack([1 - p, p])


Y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
PA = _probs([0.9, 0.7, 0.4, 0.2, 0.6, 0.55, 0.8, 0.3])
PB = _probs([0.8, 0.3, 0.6, 0.9, 0.1, 0.45, 0.7, 0.2])
GROUPS = ["g0", "g0", "g1", "g2", "g3", "g3", "g4", "g5"]


def test_identical_models_have_zero_width_intervals_at_zero():
    out = paired_difference_intervals(Y, PA, PA.copy(), GROUPS, LABELS, 1, 0.5, n_resamples=200, seed=1)
    for name in ("accuracy", "sensitivity", "roc_auc", "brier", "nll", "ece"):
        assert out[name] == [0.0, 0.0], name


def test_one_group_gives_the_point_difference():
    # Every resample draws the only group, i.e. all cases: the interval collapses onto B - A (3/8 accuracy).
    out = paired_difference_intervals(Y, PA, PB, ["all"] * 8, LABELS, 1, 0.5, n_resamples=50, seed=0)
    assert out["accuracy"] == pytest.approx([0.375, 0.375])
    assert out["roc_auc"] == pytest.approx([13 / 16 - 8 / 16] * 2)
    assert set(out) == set(SCALARS)


def test_accuracy_interval_matches_a_slow_reference_over_the_same_group_draws():
    n_resamples, seed = 300, 7
    out = paired_difference_intervals(Y, PA, PB, GROUPS, LABELS, 1, 0.5, n_resamples, seed)
    # Independent reference: draw groups with the same generator, add up per-group correct counts.
    codes, uniques = pd.factorize(pd.Series(GROUPS))
    gain = (PB.argmax(1) == Y).astype(float) - (PA.argmax(1) == Y)
    size, total = np.bincount(codes), np.bincount(codes, weights=gain)
    draws = np.random.default_rng(seed).integers(0, len(uniques), size=(n_resamples, len(uniques)))
    diffs = total[draws].sum(1) / size[draws].sum(1)
    tail = 100 * (1 - CI_LEVEL) / 2
    assert out["accuracy"] == pytest.approx(list(np.percentile(diffs, [tail, 100 - tail])), abs=1e-12)


def test_group_resamples_draw_whole_groups_and_keep_bootstrap_intervals_reproducible():
    for idx in group_resamples(GROUPS, 20, seed=3):
        drawn = pd.Series(np.asarray(GROUPS)[idx]).value_counts()
        sizes = pd.Series(GROUPS).value_counts()
        assert all(drawn[g] % sizes[g] == 0 for g in drawn.index)  # a group comes whole, maybe repeated
    first = bootstrap_intervals(Y, PA, GROUPS, LABELS, 1, 0.5, 100, 5)
    again = bootstrap_intervals(Y, PA, GROUPS, LABELS, 1, 0.5, 100, 5)
    assert first["accuracy"] == again["accuracy"] and not math.isnan(first["accuracy"][0])
