"""Widgets of the Explain page's trust controls; each ``show_*`` owns (initialises) its session-state key.

Keys: ``explain.trust_order`` ("chosen" | "trust"), ``explain.hide_failing`` (bool), ``explain.signed``
(bool), ``explain.ig_max_steps`` (most Integrated-Gradients path points, raised by the "More steps" button).
"""

from __future__ import annotations

import streamlit as st

from dashboard.widgets import PERSIST
from model.explain import integrated_gradients

ORDERS = {"chosen": "as chosen (fast ones first)", "trust": "most trusted on this model first"}
IG_STEPS_KEY = "explain.ig_max_steps"
DEFAULT_IG_STEPS = int(integrated_gradients.DEFAULTS["max_steps"])
# Each click doubles the most path points IG may use to meet its delta target; 128 points take about 4x the
# default cap's time, the most worth waiting for on CPU.
MAX_IG_STEPS = 128


def show_trust_order(key: str = "explain.trust_order") -> str:
    """How to order the maps: a key of :data:`ORDERS`."""
    if st.session_state.get(key) not in ORDERS:
        st.session_state[key] = "chosen"
    return st.radio(
        "Order maps",
        list(ORDERS),
        format_func=ORDERS.__getitem__,
        key=key,
        persist_state=PERSIST,
        horizontal=True,
    )


def show_hide_failing(key: str = "explain.hide_failing") -> bool:
    """Whether to hide the methods whose saved verdict is "fails" (worse than a random ranking or chance)."""
    st.session_state.setdefault(key, False)
    return st.toggle(
        "Hide methods that fail on this model",
        key=key,
        persist_state=PERSIST,
        help="Hidden: worse than a random patch ranking on deletion or insertion, or its peak / relevance "
        "falls on the tumour less often than chance, in the saved explanation-quality summary.",
    )


def show_signed(key: str = "explain.signed") -> bool:
    """Whether to draw the signed view (evidence for and against the class) instead of the positive one."""
    st.session_state.setdefault(key, False)
    return st.toggle(
        "Signed view: evidence for (red) and against (blue)",
        key=key,
        persist_state=PERSIST,
        help="Methods with signed attributions (Integrated Gradients, GradientSHAP, Occlusion, Grad-CAM) "
        "also show where the scan speaks against the class. Rollouts and SmoothGrad have no sign.",
    )


def ig_steps() -> int:
    """The most Integrated-Gradients path points allowed (the default until "More steps" is pressed)."""
    return int(st.session_state.setdefault(IG_STEPS_KEY, DEFAULT_IG_STEPS))


def _double_steps() -> None:
    st.session_state[IG_STEPS_KEY] = min(MAX_IG_STEPS, 2 * ig_steps())


def show_more_steps(key: str = "explain.more_steps") -> bool:
    """A "More steps" button doubling the Integrated-Gradients step cap; False when already at the maximum."""
    steps = ig_steps()
    if steps >= MAX_IG_STEPS:
        return False
    return st.button(
        f"More steps ({steps} → {min(MAX_IG_STEPS, 2 * steps)})",
        key=key,
        on_click=_double_steps,
        help="Recompute Integrated Gradients allowing twice as many path points (up to twice as slow).",
    )
