"""Widgets of the Error-audit page: which splits, and which cohorts, to audit.

Each ``show_*`` owns one session-state key (``error_audit.*``), sets its default once, drops stored values
that are no longer offered, and returns a plain value.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.widgets import PERSIST

SPLITS_KEY = "error_audit.splits"


def show_splits(names: Sequence[str], key: str = SPLITS_KEY) -> list[str]:
    """Saved evaluations to audit together (default: ``test``, else the first); never empty."""
    kept = [n for n in st.session_state.get(key) or [] if n in names]
    st.session_state[key] = kept or (["test"] if "test" in names else list(names[:1]))
    chosen = st.multiselect(
        "Splits",
        list(names),
        key=key,
        persist_state=PERSIST,
        help="Saved evaluations whose cases are listed; choose several to compare cohorts across splits.",
    )
    return chosen or (["test"] if "test" in names else list(names[:1]))


def show_cohort_filter(column: str, values: Sequence[str]) -> list[str]:
    """Values of one cohort attribute to keep (nothing chosen keeps every case).

    Args:
        column: the cohort column (``"source"``, ``"file format"``, ``"image size"``).
        values: the values present among the listed cases.
    """
    key = f"error_audit.cohort.{column.replace(' ', '_')}"
    st.session_state[key] = [v for v in st.session_state.get(key) or [] if v in values]
    return st.multiselect(
        column.capitalize(),
        list(values),
        key=key,
        persist_state=PERSIST,
        placeholder="all",
        help=f"Keep only cases with this {column}; a shortcut shows as errors piling up in one value.",
    )
