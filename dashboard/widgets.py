"""Widgets: each ``show_*`` draws one control, owns (initialises) its session-state key, returns a value.

Keys used by the Explain and Learn pages:

- ``explain.source``: "upload" | "case" | "phantom"; ``explain.upload``: the file uploader;
  ``explain.case_path``: data-root-relative path of a case (also set by the Error-audit page);
  ``explain.split``: evaluation whose cases are listed; ``explain.phantom``: demo phantom choice.
- ``explain.target``: class index to explain; ``explain.target_for``: sha256 of the scan that default is for.
- ``explain.methods``, ``explain.opacity``, ``explain.cmap``, ``explain.score``.
- ``learn.phantom``, ``learn.layer``, ``learn.target`` (+ ``learn.target_for``), ``learn.slow``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from model.explain.registry import EXPLAINERS
from model.figures.maps import COLOUR_MAPS

SOURCES = {
    "upload": "Upload a scan",
    "case": "A case from a saved evaluation",
    "phantom": "A generated phantom (demo)",
}
UPLOAD_TYPES = ("png", "jpg", "jpeg", "dcm", "dicom", "tif", "tiff")
DEFAULT_METHODS = ("attention_rollout", "gradient_rollout")
# Settings keep their value for the whole session, also through runs that stop before drawing them (no scan
# yet, a refused upload) and through page changes; without it Streamlit drops the state of an undrawn widget
# and the front end shows empty widgets next to the old maps.
PERSIST = "session"
SNAP_DECIMALS = 2  # float sliders step by 0.05 or 0.01: a kept 0.5499999 would come back drawn as 0.54


def kept(key: str, fallback: Any, valid: Callable[[Any], bool] | None = None) -> Any:
    """The session's kept value of a widget key: ``fallback`` when there is none or it is no longer valid.

    Every ``show_*`` creates its widget *with* this value (``default=`` / ``value=`` / ``index=``), not only
    bound to the key. After runs that stopped before drawing a widget (no scan yet, a refused upload) the
    front end has forgotten it, and Streamlit does not always send the kept value along: a widget created
    with its own default then shows that default (an empty Methods box, opacity 0) while the page uses the
    kept value, and the next touch sends the shown, empty values back (issue 13).
    """
    value = st.session_state.get(key, fallback)
    if valid is not None and not valid(value):
        value = fallback
    if key in st.session_state and st.session_state[key] != value:  # only an invalid kept value is replaced
        st.session_state[key] = value
    return value


def snap(key: str) -> None:
    """``on_change`` of a float slider: round its value (or range) to the step, so it survives a restore."""
    value = st.session_state[key]
    if isinstance(value, tuple | list):
        st.session_state[key] = tuple(round(float(v), SNAP_DECIMALS) for v in value)
    else:
        st.session_state[key] = round(float(value), SNAP_DECIMALS)


def show_source(key: str = "explain.source") -> str:
    """Where the scan comes from: a key of :data:`SOURCES`."""
    value = kept(key, "upload", SOURCES.__contains__)
    return st.radio(
        "Scan",
        list(SOURCES),
        index=list(SOURCES).index(value),
        format_func=SOURCES.__getitem__,
        key=key,
        persist_state=PERSIST,
        horizontal=True,
    )


def show_upload(key: str = "explain.upload") -> tuple[str, bytes] | None:
    """(file name, bytes) of an uploaded scan, kept in memory only; None before an upload."""
    up = st.file_uploader(
        "PNG, JPEG, TIFF or DICOM (one slice; a series uses its middle frame)",
        type=list(UPLOAD_TYPES),
        key=key,
    )
    return (up.name, up.getvalue()) if up is not None else None


def show_case(paths: Sequence[str], captions: dict[str, str], key: str = "explain.case_path") -> str | None:
    """A data-root-relative case path from ``paths`` (a handed-over path is kept even if not listed)."""
    options = list(paths)
    current = st.session_state.get(key)
    if current and current not in options:
        options.insert(0, current)
    if not options:
        return None
    value = kept(key, options[0], options.__contains__)
    return st.selectbox(
        "Case",
        options,
        index=options.index(value),
        key=key,
        persist_state=PERSIST,
        format_func=lambda p: captions.get(p, p),
    )


def show_split(names: Sequence[str], key: str = "explain.split") -> str | None:
    """Which saved evaluation's cases to list (None when there are none)."""
    if not names:
        return None
    value = kept(key, "test" if "test" in names else names[0], list(names).__contains__)
    return st.selectbox(
        "Evaluation", list(names), index=list(names).index(value), key=key, persist_state=PERSIST
    )


def show_phantom(key: str = "explain.phantom") -> bool:
    """Whether the demo phantom has a (generated, bright) "tumour"."""
    value = bool(kept(key, True, lambda v: isinstance(v, bool)))
    return st.toggle("Phantom with a bright blob", value=value, key=key, persist_state=PERSIST)


def show_target(labels: Sequence[str], predicted: int, scan_id: str, key: str = "explain.target") -> int:
    """Class to explain ("why <label>"); resets to the predicted class whenever the scan changes."""
    if st.session_state.get(f"{key}_for") != scan_id or st.session_state.get(key) not in range(len(labels)):
        st.session_state[key] = predicted
        st.session_state[f"{key}_for"] = scan_id
    return st.selectbox(
        "Explain",
        list(range(len(labels))),
        index=int(st.session_state[key]),
        key=key,
        persist_state=PERSIST,
        format_func=lambda i: f"why {labels[i]}",
        help=f"Which class the maps explain. Starts at the predicted class ({labels[predicted]}); "
        "attention rollout is the same for every class.",
    )


def show_methods(key: str = "explain.methods") -> list[str]:
    """Registered methods to show, in registry order."""
    fallback = [m for m in DEFAULT_METHODS if m in EXPLAINERS]
    value = kept(key, fallback, lambda v: isinstance(v, list | tuple) and set(v) <= set(EXPLAINERS))
    labels = {name: f"{e.label} ({e.speed})" for name, e in EXPLAINERS.items()}
    chosen = st.multiselect(
        "Methods",
        list(EXPLAINERS),
        default=list(value),
        key=key,
        persist_state=PERSIST,
        format_func=labels.__getitem__,
    )
    return [m for m in EXPLAINERS if m in chosen]


def show_opacity(key: str = "explain.opacity") -> float:
    """Heatmap opacity in [0, 1]."""
    value = float(kept(key, 0.5, lambda v: isinstance(v, int | float) and 0.0 <= v <= 1.0))
    return float(
        st.slider(
            "Opacity",
            0.0,
            1.0,
            value=value,
            step=0.05,
            key=key,
            persist_state=PERSIST,
            on_change=snap,
            args=(key,),
        )
    )


def show_cmap(key: str = "explain.cmap") -> str:
    """Colour-map name from :data:`model.figures.maps.COLOUR_MAPS`."""
    value = kept(key, COLOUR_MAPS[0], COLOUR_MAPS.__contains__)  # a kept map no longer offered (jet) resets
    return st.selectbox(
        "Colour map",
        list(COLOUR_MAPS),
        index=COLOUR_MAPS.index(value),
        key=key,
        persist_state=PERSIST,
        help="Perceptually uniform maps only (equal steps look equal). The signed view uses a diverging map.",
    )


def show_score_toggle(key: str = "explain.score") -> bool:
    """Whether to compute deletion/insertion faithfulness scores (slow for slow methods; cached)."""
    value = bool(kept(key, False, lambda v: isinstance(v, bool)))
    return st.toggle(
        "Score faithfulness (deletion / insertion)",
        value=value,
        key=key,
        persist_state=PERSIST,
        help="Deletion: how fast the class probability falls when the most relevant patches are "
        "removed first (lower is better). Insertion: how fast it rises when they are added to a "
        "blurred scan first (higher is better).",
    )


def show_layer(n_layers: int, key: str = "learn.layer") -> int:
    """1-based layer number for the Learn page's slider."""
    value = int(kept(key, n_layers, lambda v: v in range(1, n_layers + 1)))
    if n_layers == 1:
        return 1
    return int(st.slider("Layer", 1, n_layers, value=value, key=key, persist_state=PERSIST))


def show_slow_methods(key: str = "learn.slow") -> bool:
    """Whether the Learn page also draws the slow methods (tens of seconds each on CPU, then cached)."""
    value = bool(kept(key, False, lambda v: isinstance(v, bool)))
    return st.toggle(
        "Draw the slow methods too (about a minute on CPU the first time, then cached)",
        value=value,
        key=key,
        persist_state=PERSIST,
    )
