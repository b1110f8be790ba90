"""Error-audit sections: a gallery of cases with a heatmap over each thumbnail, the hand-over to Explain.

Each thumbnail reads the case from the configured data folder and draws the attention-rollout map of the
selected model on it (one forward pass per case, cached by scan hash like every map in the app). A button
under each thumbnail opens the case on the Explain page: it sets ``explain.case_path`` (the path relative to
the data root, as in ``{split}_predictions.csv``) and ``explain.split``, then switches page.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from dashboard import figures, resources
from dashboard.safe_text import plain
from model.case_files import CaseFileError, read_case
from model.loading import Classifier
from model.preprocess import crop_and_resize
from model.scan import ScanError

EXPLAIN_PAGE = "../pages/explain.py"
GALLERY_COLUMNS = 4
MAX_THUMBNAILS = 8  # per finding; the table and CSV list every case
THUMBNAIL_METHOD = "attention_rollout"  # fast and class-agnostic: one forward pass per case
THUMBNAIL_OPACITY = 0.45


def thumbnail(
    classifier: Classifier,
    data_dir: Path,
    case: str,
    target: int,
    method: str = THUMBNAIL_METHOD,
    title: str | None = None,
) -> Figure | str:
    """The case's scan with a map on the shared colour scale, or a sentence saying why it cannot be drawn.

    Args:
        classifier: the model whose map is drawn.
        data_dir: data root; ``case`` is relative to it.
        case: path as in the predictions file, e.g. ``yes/Y1.jpg``.
        target: class index to explain (attention rollout records it but does not depend on it).
        method: registry key of the explanation method (default: attention rollout).
        title: figure title (default: the case path).
    """
    try:
        data = read_case(data_dir, case)
    except CaseFileError as err:
        return plain(err)
    sha = hashlib.sha256(data).hexdigest()
    try:
        scan = resources.load_scan_cached(sha, data)
    except ScanError as err:
        return f"{plain(case)} cannot be read: {plain(err)}"
    record = resources.explain_cached(
        classifier.source, classifier.fingerprint, sha, data, method, target, ()
    )
    _, geometry = crop_and_resize(scan.image, classifier.preprocess)
    return figures.build_map_figure(scan.image, record, geometry, title or case, opacity=THUMBNAIL_OPACITY)


def open_in_explain(case: str, split: str) -> None:
    """Open ``case`` (data-root-relative path) of evaluation ``split`` on the Explain page."""
    st.session_state["explain.case_path"] = case
    st.session_state["explain.split"] = split
    st.switch_page(EXPLAIN_PAGE)


def _card(classifier: Classifier, data_dir: Path, row: dict, split: str, positive: str) -> None:
    target = classifier.labels.index(positive) if positive in classifier.labels else 0
    drawn = thumbnail(classifier, data_dir, row["case"], target)
    if isinstance(drawn, str):
        st.warning(drawn)
    else:
        with resources.LOCK:
            st.pyplot(drawn)
    p = row[f"P({positive})"]
    st.caption(f"true: {row['true label']} · predicted: {row['predicted']} · P({positive}) = {p:.2f}")
    if st.button("Open in Explain", key=f"error_audit.open.{row['case']}", icon=":material/open_in_new:"):
        open_in_explain(row["case"], split)


def render_gallery(
    cases: pd.DataFrame, finding: str, classifier: Classifier, data_dir: Path, split: str, positive: str
) -> None:
    """Thumbnails (scan + rollout overlay) of up to :data:`MAX_THUMBNAILS` cases with this finding.

    Args:
        cases: :func:`dashboard.tables.audit_cases` output (most confident errors first).
        finding: one of :data:`dashboard.tables.AUDIT_KINDS`.
        classifier: the selected model (draws the maps).
        data_dir: the data root the case paths are relative to.
        split: the evaluation the cases come from (handed to Explain).
        positive: the positive class (its probability is the ``P(<positive>)`` column).
    """
    chosen = cases[cases["finding"] == finding].head(MAX_THUMBNAILS).to_dict("records")
    if not chosen:
        st.caption(f"No {finding} at this threshold and band.")
        return
    columns = st.columns(GALLERY_COLUMNS)
    with st.spinner(f"Drawing {len(chosen)} maps…"):
        for i, row in enumerate(chosen):
            with columns[i % GALLERY_COLUMNS]:
                _card(classifier, data_dir, row, split, positive)
    total = int((cases["finding"] == finding).sum())
    if total > len(chosen):
        st.caption(f"Showing the {len(chosen)} most confident of {total}; the table below lists them all.")
