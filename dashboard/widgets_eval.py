"""Widgets of the evaluation pages (performance, error audit, explanation quality).

Each ``show_*`` function owns one session-state key: it sets the default once, draws the widget bound to that
key and returns a plain value, so pages never touch session state for these settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import streamlit as st
from matplotlib.figure import Figure

from dashboard.resources import LOCK
from dashboard.widgets import PERSIST, kept, snap
from model.certainty import UNSURE_BAND

DEFAULT_THRESHOLD = 0.5
DEFAULT_BAND = UNSURE_BAND
THRESHOLD_STEP = 0.01


def _init(key: str, default: object) -> None:
    if key not in st.session_state:
        st.session_state[key] = default


def _probability_slider(
    label: str, key: str, value: float | tuple[float, ...], help_text: str
) -> float | tuple[float, float]:
    """A 0..1 slider in :data:`THRESHOLD_STEP` steps bound to ``key``; ``value`` is a number or a range."""
    return st.slider(
        label,
        0.0,
        1.0,
        value=value,
        step=THRESHOLD_STEP,
        key=key,
        persist_state=PERSIST,
        on_change=snap,
        args=(key,),
        help=help_text,
    )


def show_evaluation_choice(names: Sequence[str], key: str, label: str = "Evaluation") -> str:
    """Pick one saved evaluation (split or external set); defaults to ``test`` when there is one."""
    if st.session_state.get(key) not in names:
        st.session_state[key] = "test" if "test" in names else names[0]
    return st.selectbox(
        label,
        list(names),
        key=key,
        persist_state=PERSIST,
        help="Saved evaluations found in the evaluation folder.",
    )


def show_threshold(key: str, default: float = DEFAULT_THRESHOLD) -> float:
    """Decision threshold on the tumour probability, 0..1 in steps of 0.01."""
    value = float(kept(key, default, lambda v: isinstance(v, int | float) and 0.0 <= v <= 1.0))
    return float(
        _probability_slider(
            "Decision threshold on P(tumour)",
            key,
            value,
            "A scan is called 'tumour' when its tumour probability is at least this. "
            "Lower it to miss fewer "
            "tumours (higher sensitivity) at the cost of more false alarms (lower specificity).",
        )
    )


PROBABILITY_KEY = "settings.calibrated"  # the one raw/calibrated choice, drawn in the sidebar


def show_probability_choice(default: bool, available: bool, note: str) -> bool:
    """The sidebar's raw-or-calibrated switch that every page and the report follow.

    Args:
        default: the starting choice (calibrated only where it lowers the test ECE).
        available: whether a calibration was saved for this model; off and disabled when not.
        note: what calibration does on the test split, shown as the help text (and a warning when it hurts).
    """
    _init(PROBABILITY_KEY, default and available)
    if not available:
        st.session_state[PROBABILITY_KEY] = False
    return bool(
        st.sidebar.toggle(
            "Calibrated probabilities",
            key=PROBABILITY_KEY,
            persist_state=PERSIST,
            disabled=not available,
            help="Temperature scaling fitted on the validation split (so validation numbers are optimistic); "
            "it changes confidence, not the ranking. " + note,
        )
    )


def use_calibrated(available: bool = True) -> bool:
    """The sidebar's choice (see :func:`show_probability_choice`), False where ``available`` is False."""
    return bool(st.session_state.get(PROBABILITY_KEY, False)) and available


def probability_kind(calibrated: bool) -> str:
    """The label every page prints beside a probability."""
    return "calibrated" if calibrated else "raw (uncalibrated)"


def show_confidence_band(key: str, default: tuple[float, float] = DEFAULT_BAND) -> tuple[float, float]:
    """Range of tumour probabilities counted as unsure (low confidence)."""
    value = tuple(kept(key, default, lambda v: isinstance(v, tuple | list) and len(v) == 2))
    low, high = _probability_slider(
        "Unsure when P(tumour) is between",
        key,
        value,
        "Cases whose tumour probability falls in this band are listed as low-confidence.",
    )
    return float(low), float(high)


def show_sanity_case(paths: Sequence[str], key: str = "quality.case") -> str:
    """One of the scans the sanity check ran on (data-root-relative path)."""
    if st.session_state.get(key) not in paths:
        st.session_state[key] = paths[0]
    return st.selectbox("Scan", list(paths), key=key, persist_state=PERSIST)


def show_compare_methods(labels: dict[str, str], key: str = "quality.methods") -> list[str]:
    """Methods (registry keys) whose randomised-model maps to compute; the first one by default."""
    if key not in st.session_state or not set(st.session_state[key]) <= set(labels):
        st.session_state[key] = list(labels)[:1]
    return st.multiselect(
        "Methods",
        list(labels),
        format_func=labels.__getitem__,
        key=key,
        persist_state=PERSIST,
        help="Each method is run once on the randomised copy of the model (slow ones take "
        "tens of seconds on a CPU).",
    )


def show_figure(fig: Figure, width: int | Literal["stretch", "content"] = "stretch") -> None:
    """Render a matplotlib figure; under the shared lock because matplotlib rendering is not thread-safe.

    Args:
        fig: a figure built with the OO API (it is not cleared, so a cached figure can be shown again).
        width: pixels, or Streamlit's "stretch" (the container's width) / "content".
    """
    with LOCK:
        st.pyplot(fig, clear_figure=False, width=width)
