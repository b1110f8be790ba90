"""How far each explanation method can be trusted *on this model*: verdicts from the saved quality summary.

The batch job (:mod:`model.explain.batch`) saves, per scan and method, deletion and insertion areas, the
same areas for a random patch ranking (the ``random`` rows), and against the tumour masks the pointing-game
hit, the chance of a hit, the share of relevance inside the mask and the mask's share of the area. A verdict
here always compares a method with its reference **scan by scan** and judges the 95 % bootstrap interval of
the mean *difference* (over duplicate groups, :func:`model.explain.summary.bootstrap_mean`): two intervals
that overlap can still differ clearly when the scans move together, and intervals that do not overlap are
not needed.

Verdict words (one definition, used by the Explain and the Explanation-quality pages):

- per comparison: ``better`` (interval of the gain entirely above 0), ``worse`` (entirely below 0),
  ``unclear`` (interval contains 0: the scans cannot tell), ``unknown`` (nothing measured);
- faithfulness (deletion and insertion together): ``supported`` (both better), ``mixed`` (one better, the
  other unclear), ``unproven`` (neither better nor worse), ``fails`` (either worse), ``unknown``;
- localisation (pointing game and mass in mask, each against chance): the same four comparison words, the
  weaker of the two.

These are research and teaching numbers on a few dozen scans with rough student-drawn masks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.explain.summary import RANDOM_REFERENCE, ExplanationSummary, bootstrap_mean

BETTER, WORSE, UNCLEAR, UNKNOWN = "better", "worse", "unclear", "unknown"
SUPPORTED, MIXED, UNPROVEN, FAILS = "supported", "mixed", "unproven", "fails"
# Order for "most trusted first": higher is more trusted; unknown sits between unproven and fails (no
# evidence either way is still better than evidence against).
FAITHFULNESS_RANK = {SUPPORTED: 4, MIXED: 3, UNPROVEN: 2, UNKNOWN: 1, FAILS: 0}
COMPARISON_RANK = {BETTER: 3, UNCLEAR: 2, UNKNOWN: 1, WORSE: 0}
# Fewer paired scans than this: no verdict (a bootstrap over two or three groups is not an interval).
MIN_PAIRED_SCANS = 3
MEANINGS = {
    SUPPORTED: "beats a random patch ranking on both deletion and insertion",
    MIXED: "beats a random ranking on one curve; the other cannot tell",
    UNPROVEN: "not distinguishable from a random patch ranking on these scans",
    FAILS: "worse than a random patch ranking, or (as the overall verdict) off the tumour more than chance",
    UNKNOWN: "not measured for this model",
    BETTER: "better than chance",
    WORSE: "worse than chance",
    UNCLEAR: "not distinguishable from chance",
}


@dataclass(frozen=True)
class Comparison:
    """A method against its reference: mean gain (positive = better) with its 95 % interval.

    Attributes:
        gain: mean over scans of (method - reference), signed so that positive is better; NaN if unknown.
        ci95: (low, high) bootstrap interval of ``gain`` over duplicate groups.
        reference: mean reference value (random ranking's area, or chance).
        value: mean of the method's own score.
        n: paired scans.
        word: :data:`BETTER`, :data:`WORSE`, :data:`UNCLEAR` or :data:`UNKNOWN`.
    """

    gain: float
    ci95: tuple[float, float]
    reference: float
    value: float
    n: int
    word: str


@dataclass(frozen=True)
class MethodTrust:
    """Everything the pages say about one method's trustworthiness on this model.

    Attributes:
        method: registry key; label: its display name.
        deletion, insertion: against the random ranking (deletion gain = random - method).
        pointing, mask_share: against chance (hit chance; the mask's share of the area).
        faithfulness: :data:`SUPPORTED`, :data:`MIXED`, :data:`UNPROVEN`, :data:`FAILS` or :data:`UNKNOWN`.
        localisation: the weaker of the two localisation comparison words.
        sanity_passed: the saved sanity-check verdict (None when not checked).
        measured_with: the method's parameters when the summary was made (see :func:`changed_settings`).
    """

    method: str
    label: str
    deletion: Comparison
    insertion: Comparison
    pointing: Comparison
    mask_share: Comparison
    faithfulness: str
    localisation: str
    sanity_passed: bool | None
    measured_with: dict = field(default_factory=dict)

    @property
    def fails(self) -> bool:
        """Evidence against the method: worse than a random ranking, or off the tumour more than chance."""
        return self.faithfulness == FAILS or self.localisation == WORSE

    @property
    def overall(self) -> str:
        """One word for the method: :data:`FAILS` when there is evidence against it, else its faithfulness."""
        return FAILS if self.fails else self.faithfulness

    @property
    def rank(self) -> tuple[int, int, int, int]:
        """Sort key, larger = more trusted: no failure, faithfulness, localisation, then the sanity check."""
        sanity = {True: 2, None: 1, False: 0}[self.sanity_passed]
        return (
            int(not self.fails),
            FAITHFULNESS_RANK[self.faithfulness],
            COMPARISON_RANK[self.localisation],
            sanity,
        )


def compare_paired(
    values: pd.Series, references: pd.Series, groups: pd.Series, higher_better: bool
) -> Comparison:
    """Judge a method against its reference scan by scan (bootstrap over duplicate groups).

    Args:
        values: (N,) the method's score per scan (NaN = not measured).
        references: (N,) the reference score of the same scans.
        groups: (N,) duplicate group of each scan (the bootstrap resamples groups).
        higher_better: True when a larger score is better (insertion, hits, mask share).

    Returns:
        :class:`Comparison`; ``word`` is :data:`UNKNOWN` below :data:`MIN_PAIRED_SCANS` paired scans.
    """
    # Saved files are untrusted input: anything that is not a number counts as not measured.
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    r = pd.to_numeric(pd.Series(references), errors="coerce").to_numpy(np.float64)
    keep = np.isfinite(v) & np.isfinite(r)
    if keep.sum() < MIN_PAIRED_SCANS:
        return Comparison(math.nan, (math.nan, math.nan), math.nan, math.nan, int(keep.sum()), UNKNOWN)
    gain = (v - r) if higher_better else (r - v)
    stats = bootstrap_mean(gain[keep], np.asarray(groups, dtype=object)[keep])
    low, high = stats["ci95"]
    word = BETTER if low > 0 else WORSE if high < 0 else UNCLEAR
    return Comparison(
        stats["mean"], (low, high), float(r[keep].mean()), float(v[keep].mean()), stats["n"], word
    )


def faithfulness_word(deletion: str, insertion: str) -> str:
    """Combine the two curve comparisons into one faithfulness verdict (see the module docstring).

    Args:
        deletion: comparison word of the deletion curve against the random ranking (``BETTER``, ``WORSE``,
            ``UNCLEAR`` or ``UNKNOWN``).
        insertion: the same for the insertion curve.

    Returns:
        ``FAILS`` if either is worse, ``SUPPORTED`` if both are better, ``MIXED`` if one is, ``UNKNOWN`` if
        both are unknown, else ``UNPROVEN``.
    """
    words = {deletion, insertion}
    if WORSE in words:
        return FAILS
    if words == {BETTER}:
        return SUPPORTED
    if BETTER in words:
        return MIXED
    return UNKNOWN if words == {UNKNOWN} else UNPROVEN


def weaker(*words: str) -> str:
    """The least favourable of several comparison words (unknown ones ignored unless all are unknown)."""
    known = [w for w in words if w != UNKNOWN]
    return min(known, key=COMPARISON_RANK.__getitem__) if known else UNKNOWN


def _paired(cases: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per scan and target: the method's scores beside the random ranking's (suffix ``_random``)."""
    # A scan's path is unique; its hash is not (exact duplicates sit in one split under two names).
    keys = ["path" if "path" in cases else "sha256", "target"]
    if not {"method", *keys} <= set(cases.columns):
        return pd.DataFrame(columns=keys)
    mine = cases[cases["method"] == method]
    random = cases.loc[cases["method"] == RANDOM_REFERENCE, [*keys, "deletion_auc", "insertion_auc"]]
    return mine.merge(random, on=keys, how="left", suffixes=("", "_random"))


def method_trust(summary: ExplanationSummary, method: str) -> MethodTrust:
    """The trust verdicts of one method of a saved summary (from its per-scan rows in ``cases.csv``).

    Args:
        summary: a read :class:`~model.explain.summary.ExplanationSummary`.
        method: a key of ``summary.summary["methods"]`` (not the random reference).

    Returns:
        :class:`MethodTrust`.
    """
    rows = _paired(summary.cases, method)
    col = rows.get
    nan = pd.Series(np.nan, index=rows.index)
    g = rows["group"] if "group" in rows else rows[rows.columns[0]]
    deletion = compare_paired(col("deletion_auc", nan), col("deletion_auc_random", nan), g, False)
    insertion = compare_paired(col("insertion_auc", nan), col("insertion_auc_random", nan), g, True)
    pointing = compare_paired(col("pointing_hit", nan), col("chance_hit", nan), g, True)
    share = compare_paired(col("mask_share", nan), col("area_share", nan), g, True)
    entry = summary.summary["methods"].get(method, {})
    return MethodTrust(
        method,
        entry.get("label", method),
        deletion,
        insertion,
        pointing,
        share,
        faithfulness_word(deletion.word, insertion.word),
        weaker(pointing.word, share.word),
        entry.get("sanity", {}).get("passed"),
        dict(entry.get("params") or {}),
    )


def changed_settings(measured_with: Mapping[str, object], current: Mapping[str, object]) -> list[str]:
    """The parameters whose saved value differs from the current default, as ``name: saved -> now``.

    A verdict describes the maps the summary measured: once a method's defaults change, the map a page shows
    is not the one judged, until ``python -m model.explain`` is run again.

    Args:
        measured_with: the parameters saved with the summary.
        current: the method's current defaults.

    Returns:
        One ``"name: saved -> now"`` line per differing parameter (``(none)`` where one side lacks it),
        sorted by name; empty when nothing changed.
    """
    names = sorted(set(measured_with) | set(current))
    return [
        f"{n}: {measured_with.get(n, '(none)')} -> {current.get(n, '(none)')}"
        for n in names
        if measured_with.get(n) != current.get(n)
    ]


def summary_trust(summary: ExplanationSummary) -> dict[str, MethodTrust]:
    """Registry key -> :class:`MethodTrust` for every method of the summary, most trusted first."""
    names = [m for m in summary.summary["methods"] if m != RANDOM_REFERENCE]
    found = [method_trust(summary, m) for m in names]
    return {t.method: t for t in sorted(found, key=lambda t: t.rank, reverse=True)}


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def can_rank(trust: dict[str, MethodTrust]) -> bool:
    """Whether the scans separate any two methods: some pair's deletion or insertion gains do not overlap.

    Args:
        trust: the result of :func:`summary_trust`.

    Returns:
        False when every pair of known intervals overlaps (too wide to rank the methods).
    """
    for attr in ("deletion", "insertion"):
        cis = [getattr(t, attr).ci95 for t in trust.values() if getattr(t, attr).word != UNKNOWN]
        if any(not _overlap(a, b) for i, a in enumerate(cis) for b in cis[i + 1 :]):
            return True
    return False
