"""Error-audit tables across splits: the listed cases of every chosen split with their cohorts.

No Streamlit here; values come from :func:`dashboard.tables.audit_cases` (the one decision rule) and
:mod:`model.evaluate.cohorts`. This module only joins, orders and counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from dashboard.safe_text import plain
from dashboard.tables import AUDIT_KINDS, audit_cases
from model.evaluate.artifacts import Evaluation
from model.evaluate.cohorts import COHORT_COLUMNS, cohort_counts

FILTER_COLUMNS = ("source", "file format", "image size")  # the split has its own choice above


def cases_with_cohorts(
    evaluations: Sequence[Evaluation],
    cohorts: Mapping[str, pd.DataFrame],
    threshold: float,
    band: tuple[float, float],
    calibrated: bool = False,
) -> pd.DataFrame:
    """The audit list of every evaluation, one after the other, with the cohort columns of each case.

    Args:
        evaluations: the chosen splits (same labels).
        cohorts: split name -> :func:`model.evaluate.cohorts.case_cohorts` frame.
        threshold, band, calibrated: as :func:`dashboard.tables.audit_cases`.

    Returns:
        ``audit_cases`` columns plus :data:`model.evaluate.cohorts.COHORT_COLUMNS`; errors first in each
        split.
    """
    frames = []
    for ev in evaluations:
        listed = audit_cases(ev, threshold, band, calibrated)
        attrs = cohorts[ev.name].drop_duplicates("case")
        frames.append(listed.merge(attrs, on="case", how="left"))
    if not frames:
        return pd.DataFrame(columns=["case", "finding", *COHORT_COLUMNS])
    joined = pd.concat(frames, ignore_index=True)
    order = joined["finding"].map(AUDIT_KINDS.index)
    return joined.loc[order.sort_values(kind="stable").index].reset_index(drop=True)


def findings_by_cohort(
    cases: pd.DataFrame, columns: Sequence[str] = ("split", *FILTER_COLUMNS)
) -> pd.DataFrame:
    """Counts of each finding per cohort value, all columns stacked: a pile-up in one cohort hints a shortcut.

    Returns:
        Index (cohort, value), one column per finding present.
    """
    parts = {column: cohort_counts(cases, column) for column in columns if column in cases and len(cases)}
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, names=["cohort", "value"]).fillna(0).astype(int)
    return frame[[k for k in AUDIT_KINDS if k in frame.columns]]


def audit_summary(cases: pd.DataFrame, evaluations: Sequence[Evaluation], threshold: float) -> str:
    """One sentence: how many of the chosen splits' scans are listed (after the cohort filters), and why."""
    counts = ", ".join(
        f"{n} {kind}{'s' if n != 1 and kind != 'low confidence' else ''}"
        for kind, n in ((k, int((cases["finding"] == k).sum())) for k in AUDIT_KINDS)
    )
    total = sum(int(ev.results["n"]) for ev in evaluations)
    names = ", ".join(plain(ev.name) for ev in evaluations)
    return f"{len(cases)} of {total} scans in {names} are listed at threshold {threshold:.2f}: {counts}."
