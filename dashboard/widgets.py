"""Widgets: each ``show_*`` draws one control, owns (initialises) its session-state key, returns a value.

Keys used by the Explain and Learn pages:

- ``explain.source``: "upload" | "case" | "phantom"; ``explain.upload``: the file uploader;
  ``explain.case_path``: data-root-relative path of a case (also set by the Error-audit page);
  ``explain.split``: evaluation whose cases are listed; ``explain.phantom``: demo phantom choice.
- ``explain.target``: class index to explain; ``explain.target_for``: sha256 of the scan that default is for.
- ``explain.methods``, ``explain.opacity``, ``explain.cmap``, ``explain.score``.
- ``learn.layer``, ``learn.method``.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.figures import COLOUR_MAPS
from model.explain.registry import EXPLAINERS

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


def snap(key: str) -> None:
    """``on_change`` of a float slider: round its value (or range) to the step, so it survives a restore."""
    value = st.session_state[key]
    if isinstance(value, tuple | list):
        st.session_state[key] = tuple(round(float(v), SNAP_DECIMALS) for v in value)
    else:
        st.session_state[key] = round(float(value), SNAP_DECIMALS)


def show_source(key: str = "explain.source") -> str:
    """Where the scan comes from: a key of :data:`SOURCES`."""
    st.session_state.setdefault(key, "upload")
    return st.radio(
        "Scan",
        list(SOURCES),
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
    st.session_state.setdefault(key, options[0])
    return st.selectbox(
        "Case", options, key=key, persist_state=PERSIST, format_func=lambda p: captions.get(p, p)
    )


def show_split(names: Sequence[str], key: str = "explain.split") -> str | None:
    """Which saved evaluation's cases to list (None when there are none)."""
    if not names:
        return None
    if st.session_state.get(key) not in names:
        st.session_state[key] = "test" if "test" in names else names[0]
    return st.selectbox("Evaluation", list(names), key=key, persist_state=PERSIST)


def show_phantom(key: str = "explain.phantom") -> bool:
    """Whether the demo phantom has a (generated, bright) "tumour"."""
    st.session_state.setdefault(key, True)
    return st.toggle("Phantom with a bright blob", key=key, persist_state=PERSIST)


def show_target(labels: Sequence[str], predicted: int, scan_id: str, key: str = "explain.target") -> int:
    """Class to explain ("why <label>"); resets to the predicted class whenever the scan changes."""
    if st.session_state.get(f"{key}_for") != scan_id or st.session_state.get(key) not in range(len(labels)):
        st.session_state[key] = predicted
        st.session_state[f"{key}_for"] = scan_id
    return st.selectbox(
        "Explain",
        list(range(len(labels))),
        key=key,
        persist_state=PERSIST,
        format_func=lambda i: f"why {labels[i]}",
        help=f"Which class the maps explain. Starts at the predicted class ({labels[predicted]}); "
        "attention rollout is the same for every class.",
    )


def show_methods(key: str = "explain.methods") -> list[str]:
    """Registered methods to show, in registry order."""
    st.session_state.setdefault(key, [m for m in DEFAULT_METHODS if m in EXPLAINERS])
    labels = {name: f"{e.label} ({e.speed})" for name, e in EXPLAINERS.items()}
    chosen = st.multiselect(
        "Methods", list(EXPLAINERS), key=key, persist_state=PERSIST, format_func=labels.__getitem__
    )
    return [m for m in EXPLAINERS if m in chosen]


def show_opacity(key: str = "explain.opacity") -> float:
    """Heatmap opacity in [0, 1]."""
    st.session_state.setdefault(key, 0.5)
    return float(
        st.slider("Opacity", 0.0, 1.0, step=0.05, key=key, persist_state=PERSIST, on_change=snap, args=(key,))
    )


def show_cmap(key: str = "explain.cmap") -> str:
    """Colour-map name from :data:`dashboard.figures.COLOUR_MAPS`."""
    if st.session_state.get(key) not in COLOUR_MAPS:  # also a kept value no longer offered (e.g. jet)
        st.session_state[key] = COLOUR_MAPS[0]
    return st.selectbox(
        "Colour map",
        list(COLOUR_MAPS),
        key=key,
        persist_state=PERSIST,
        help="Perceptually uniform maps only (equal steps look equal). The signed view uses a diverging map.",
    )


def show_score_toggle(key: str = "explain.score") -> bool:
    """Whether to compute deletion/insertion faithfulness scores (slow for slow methods; cached)."""
    st.session_state.setdefault(key, False)
    return st.toggle(
        "Score faithfulness (deletion / insertion)",
        key=key,
        persist_state=PERSIST,
        help="Deletion: how fast the class probability falls when the most relevant patches are "
        "removed first (lower is better). Insertion: how fast it rises when they are added to a "
        "blurred scan first (higher is better).",
    )


def show_layer(n_layers: int, key: str = "learn.layer") -> int:
    """1-based layer number for the Learn page's slider."""
    if st.session_state.get(key) not in range(1, n_layers + 1):
        st.session_state[key] = n_layers
    return int(st.slider("Layer", 1, n_layers, key=key, persist_state=PERSIST)) if n_layers > 1 else 1


def show_slow_methods(key: str = "learn.slow") -> bool:
    """Whether the Learn page also draws the slow methods (tens of seconds each on CPU, then cached)."""
    st.session_state.setdefault(key, False)
    return st.toggle(
        "Draw the slow methods too (about a minute on CPU the first time, then cached)",
        key=key,
        persist_state=PERSIST,
    )
