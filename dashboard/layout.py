"""Shared page furniture: the sidebar (model / evaluation / data folders), page headers, guidance, the footer.

Every page ends with the footer's "research and teaching tool — not for diagnosis" notice:
``dashboard/app.py`` draws it after the page returns, and a page that stops early must call
:func:`stop_with` (message + footer + ``st.stop()``) instead of a bare ``st.stop()``.
"""

from __future__ import annotations

from typing import NoReturn

import pandas as pd
import streamlit as st

from dashboard import resources, settings, widgets_eval
from dashboard.safe_text import plain
from model.data import provenance
from model.errors import MriExplainError
from model.evaluate import readings
from model.evaluate.artifacts import CALIBRATION_FILE, ArtifactError
from model.loading import Classifier
from model.notice import DISCLAIMER

FOOTER_NOTE = (
    "mri-explain explains a ViT classifier trained on a small public data set. "
    "Its maps show what the model used, not where disease is."
)
MODEL_FIX = (
    "Fix: type a `save_pretrained` folder (e.g. `artifacts/model`) or a Hugging Face hub id that is in "
    "the local cache into the sidebar's *Model* field, or set `MRI_EXPLAIN_MODEL`."
)


def training_manifest() -> pd.DataFrame | None:
    """The split manifest of the selected model (cached; None when it is unknown or changed)."""
    path = settings.manifest_file(settings.model_source())
    return resources.manifest_cached(str(path), resources.file_mtime(path)) if path else None


def footer() -> None:
    """The notice every page repeats at its end, with the training-set size read from the manifest."""
    st.divider()
    size = provenance.training_size_text(training_manifest())
    st.caption(f"**{DISCLAIMER}** {FOOTER_NOTE}" + (f" Trained on {size}." if size else ""))


def _probability_choice() -> None:
    """The one raw/calibrated switch: calibrated by default only where it lowers the test ECE."""
    eval_dir = settings.eval_dir()
    try:
        helps, note = readings.calibration_effect(resources.load_evaluation(eval_dir, "test").results)
    except ArtifactError:
        helps, note = None, "No test evaluation says whether calibration helps."
    available = helps is not None or (eval_dir / CALIBRATION_FILE).is_file()
    widgets_eval.show_probability_choice(bool(helps), available, note)
    if helps is False:
        st.sidebar.warning(note, icon=":material/warning:")


def stop_with(message: str, kind: str = "info") -> NoReturn:
    """Show guidance (``info``, ``warning`` or ``error``), the footer, then stop the page run.

    Args:
        message: markdown shown to the user (escape quoted names with ``plain`` first).
        kind: the ``st`` call that shows it: "info", "warning" or "error".
    """
    getattr(st, kind)(message)
    footer()
    st.stop()


def page_header(title: str, intro: str) -> None:
    """Title plus one sentence saying what the page is for."""
    st.title(title)
    st.caption(intro)


def _field(label: str, key: str, default: str, help_text: str) -> None:
    st.session_state.setdefault(key, default)
    st.sidebar.text_input(label, key=key, help=help_text)


def _classifier_or_error(source: str) -> Classifier | str:
    try:
        return resources.load_classifier_cached(source)
    except MriExplainError as err:  # ModelLoadError, LabelMismatchError: the sentence names the fix
        return f"{plain(err)}\n\n{MODEL_FIX}"


def render_sidebar() -> None:
    """Model source, evaluation folder and data folder fields, then what model is loaded (or why not)."""
    st.sidebar.markdown("**Settings**")
    _field(
        "Model",
        settings.KEY_MODEL,
        settings.default_model_source(),
        "A save_pretrained folder or a Hugging Face hub id (offline: only models already in the cache).",
    )
    _field(
        "Evaluation folder",
        settings.KEY_EVAL,
        str(settings.default_eval_dir()),
        "Folder with {split}_results.json / {split}_predictions.csv written by python -m model.evaluate.",
    )
    _field(
        "Data folder",
        settings.KEY_DATA,
        settings.default_data_dir(),
        "Folder holding yes/ and no/ (paths in the evaluations are relative to it). Optional: without it, "
        "case images are not shown, and you can still upload scans.",
    )
    for problem in settings.field_problems().values():  # our own sentences: they never quote the field
        st.sidebar.error(problem, icon=":material/error:")
    _probability_choice()
    loaded = _classifier_or_error(settings.model_source())
    if isinstance(loaded, str):
        st.sidebar.error(loaded, icon=":material/error:")
    else:
        labels = ", ".join(loaded.labels)  # plain names: model.loading refuses any others
        st.sidebar.caption(f"Fingerprint `{loaded.fingerprint}` · labels: {labels}")
    st.sidebar.caption(DISCLAIMER)


def preload_classifier() -> str:
    """Load the selected model into the shared cache (the cold start's slow part); returns a status line.

    A model that cannot be loaded is not an error here: the sidebar and the pages say why and name the fix.
    """
    source = settings.model_source()
    loaded = _classifier_or_error(source)
    if isinstance(loaded, str):
        return f"The model {plain(source)} could not be loaded: the sidebar says why."
    return f"Model {plain(source)} loaded (fingerprint `{loaded.fingerprint}`)."


def require_classifier() -> Classifier:
    """The selected model, or an error with the fix followed by the footer and a stop."""
    loaded = _classifier_or_error(settings.model_source())
    if isinstance(loaded, str):
        stop_with(loaded, "error")
    return loaded
