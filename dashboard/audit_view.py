"""Error-audit sections: cohort filters, a gallery of cases with each one's class-specific map, the hand-over.

Each thumbnail reads the case from the configured data folder and draws the **gradient-weighted rollout for
the class the model predicted** ("why tumour" on a false positive, "why no tumour" on a false negative), on
the colour scale shared by every page, with its colour bar and a ring on the map's peak; the caption says
whether the peak lies inside the head, on its edge (skull, rim) or in the background, and the gallery counts
them, so a shortcut (errors that peak off the brain) can be seen. A button under each thumbnail opens the
case on the Explain page: it sets ``explain.case_path`` (the path relative to the data root, as in
``{split}_predictions.csv``) and ``explain.split``, then switches page.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from dashboard import resources, tables, tables_audit, widgets_audit, widgets_eval
from dashboard.safe_text import plain
from model.data.case_files import CaseFileError, read_case
from model.data.scan import Scan, ScanError
from model.evaluate.cohorts import filter_cases, map_peak, peak_region
from model.explain.heatmap import Heatmap
from model.explain.registry import EXPLAINERS
from model.figures import audit as figures_audit
from model.figures import maps as figures
from model.figures.maps import overlay_map
from model.labels import LabelMismatchError, class_index
from model.loading import Classifier
from model.preprocess import Geometry, crop_and_resize

EXPLAIN_PAGE = "../pages/explain.py"
GALLERY_COLUMNS = 4
MAX_THUMBNAILS = 8  # per finding; the table and CSV list every case
AUDIT_METHOD = "gradient_rollout"  # class-specific and fast (one forward and backward pass per case)
THUMBNAIL_METHOD = "attention_rollout"  # default of :func:`thumbnail` (the Compare page's gallery)
THUMBNAIL_OPACITY = 0.45


def class_thumbnail(
    classifier: Classifier, data_dir: Path, case: str, target: int, method: str = AUDIT_METHOD
) -> tuple[Figure, str] | str:
    """(figure, peak region) of a case with ``method``'s map for class ``target``, or why it cannot be drawn.

    Args:
        classifier: the model whose map is drawn.
        data_dir: data root; ``case`` is relative to it.
        case: path as in the predictions file, e.g. ``yes/Y1.jpg``.
        target: class index explained (the predicted class: "why tumour" for a false positive).
        method: registry key of the explanation method (default: gradient-weighted rollout).
    """
    found = _case_map(classifier, data_dir, case, target, method)
    if isinstance(found, str):
        return found
    scan, record, geometry = found
    heat = overlay_map(record, geometry)
    peak = map_peak(heat)
    region = peak_region(np.asarray(scan.image.convert("L"), dtype=np.float32), peak)
    title = f"{case} · why {classifier.labels[target]}"
    return figures_audit.build_thumbnail_figure(
        scan.image, heat, title, opacity=THUMBNAIL_OPACITY, peak=peak
    ), region


def case_scan(data_dir: Path, case: str) -> tuple[str, bytes, Scan] | str:
    """(sha256, bytes, decoded scan) of a case in the data folder, or the sentence saying why not.

    The one way a view reads a saved case: confined to the data folder (:func:`read_case`) and decoded once
    for all sessions (``resources.load_scan_cached``).

    Args:
        data_dir: data root. case: path relative to it, as in ``{split}_predictions.csv``.

    Returns:
        The case, or a markdown-safe sentence (not in the data folder, or not a usable scan).
    """
    try:
        data = read_case(data_dir, case)
    except CaseFileError as err:
        return plain(err)
    sha = hashlib.sha256(data).hexdigest()
    try:
        return sha, data, resources.load_scan_cached(sha, data)
    except ScanError as err:
        return f"{plain(case)} cannot be read: {plain(err)}"


def class_target(classifier: Classifier, label: str) -> int | str:
    """The index of class ``label`` in the model, or the sentence saying it has no such class (no map).

    Args:
        classifier: the model whose map would be drawn.
        label: a class name read from a predictions file (the predicted or the positive label).

    Returns:
        The class index, or why no map of that class can be drawn (never another class instead).
    """
    try:
        return class_index(classifier.labels, label)
    except LabelMismatchError as err:
        return f"No map: {plain(err)}"


def _case_map(
    classifier: Classifier, data_dir: Path, case: str, target: int, method: str
) -> tuple[Scan, Heatmap, Geometry] | str:
    """A saved case's scan, its cached map and geometry, or the sentence saying why it cannot be read."""
    loaded = case_scan(data_dir, case)
    if isinstance(loaded, str):
        return loaded
    sha, data, scan = loaded
    source, fingerprint = classifier.source, classifier.fingerprint
    record = resources.explain_cached(source, fingerprint, sha, data, method, target, ())
    return scan, record, crop_and_resize(scan.image, classifier.preprocess)[1]


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
    found = _case_map(classifier, data_dir, case, target, method)
    if isinstance(found, str):
        return found
    scan, record, geometry = found
    return figures.build_map_figure(scan.image, record, geometry, title or case, opacity=THUMBNAIL_OPACITY)


def open_in_explain(case: str, split: str) -> None:
    """Open ``case`` (data-root-relative path) of evaluation ``split`` on the Explain page."""
    st.session_state["explain.case_path"] = case
    st.session_state["explain.split"] = split
    st.switch_page(EXPLAIN_PAGE)


def _card(classifier: Classifier, data_dir: Path, row: dict, positive: str) -> str | None:
    predicted = row["predicted"]
    target = class_target(classifier, predicted)
    drawn = target if isinstance(target, str) else class_thumbnail(classifier, data_dir, row["case"], target)
    region = None
    if isinstance(drawn, str):
        st.warning(drawn)
    else:
        fig, region = drawn
        widgets_eval.show_figure(fig)
    p = row[tables.probability_column(positive)]
    peak = f" · map peak: {region}" if region else ""
    st.caption(
        f"{plain(row['split'])} · true: {row['true label']} · predicted: {predicted} · "
        f"P({positive}) = {p:.2f}{peak}"
    )
    key = f"error_audit.open.{row['split']}.{row['case']}"
    if st.button("Open in Explain", key=key, icon=":material/open_in_new:"):
        open_in_explain(row["case"], row["split"])
    return region


def render_gallery(
    cases: pd.DataFrame, finding: str, classifier: Classifier, data_dir: Path, positive: str
) -> None:
    """Thumbnails (scan + class-specific map) of up to :data:`MAX_THUMBNAILS` cases with this finding.

    Args:
        cases: :func:`dashboard.tables_audit.cases_with_cohorts` output, filtered (most confident first).
        finding: one of :data:`dashboard.tables.AUDIT_KINDS`.
        classifier: the selected model (draws the maps).
        data_dir: the data root the case paths are relative to.
        positive: the positive class (its probability is the ``P(<positive>)`` column).
    """
    chosen = cases[cases["finding"] == finding].head(MAX_THUMBNAILS).to_dict("records")
    if not chosen:
        st.caption(f"No {finding} at this threshold, band and cohort.")
        return
    st.caption(f"Maps: {EXPLAINERS[AUDIT_METHOD].label} for the predicted class; ring: the map's peak.")
    columns = st.columns(GALLERY_COLUMNS)
    peaks: Counter[str] = Counter()
    with st.spinner(f"Drawing {len(chosen)} maps…"):
        for i, row in enumerate(chosen):
            with columns[i % GALLERY_COLUMNS]:
                if region := _card(classifier, data_dir, row, positive):
                    peaks[region] += 1
    if peaks:
        st.markdown(
            f"**Map peaks of these {sum(peaks.values())} {finding} cases:** "
            + ", ".join(f"{n} {region}" for region, n in peaks.most_common())
            + ". Peaks on the head edge or in the background suggest the model uses something other than "
            "the brain."
        )
    total = int((cases["finding"] == finding).sum())
    if total > len(chosen):
        st.caption(f"Showing the {len(chosen)} most confident of {total}; the table lists them all.")


def case_table_config(positive: str) -> dict[str, object]:
    """Streamlit ``column_config`` of the listed-cases table: probabilities to 3 places, a narrow sha256.

    Args:
        positive: the positive class label (names the probability column).

    Returns:
        Column name of :func:`dashboard.tables.audit_cases` -> column configuration.
    """
    return {
        tables.probability_column(positive): st.column_config.NumberColumn(format="%.3f"),
        "sha256": st.column_config.TextColumn(width="small"),
    }


def show_case_table(cases: pd.DataFrame, positive: str, expanded: bool) -> None:
    """Every listed case as a table in an expander (open when no data folder allows the gallery)."""
    with st.expander(f"All {len(cases)} listed cases as a table", expanded=expanded):
        st.dataframe(cases, hide_index=True, column_config=case_table_config(positive))


def show_cohort_filters(cases: pd.DataFrame) -> pd.DataFrame:
    """Cohort multiselects (source, file format, image size) and the findings counted per cohort.

    Returns:
        The cases in the chosen cohorts.
    """
    columns = st.columns(len(tables_audit.FILTER_COLUMNS))
    chosen = {}
    for col, name in zip(columns, tables_audit.FILTER_COLUMNS, strict=True):
        with col:
            chosen[name] = widgets_audit.show_cohort_filter(name, sorted(cases[name].dropna().unique()))
    kept = filter_cases(cases, chosen)
    with st.expander("Findings per cohort (a pile-up in one value hints at a shortcut)"):
        st.dataframe(tables_audit.findings_by_cohort(kept))
    return kept
