"""Error audit: the wrong and the unsure cases of a split, with their maps and a way into Explain."""

from __future__ import annotations

import streamlit as st

from dashboard import audit_view, layout, resources, settings, tables, widgets_eval
from dashboard.safe_text import csv_text, plain

layout.page_header(
    "Error audit",
    "Which scans does the model get wrong or is unsure about, and what did it "
    "look at there? Open any case on the Explain page for every method.",
)
eval_dir = settings.eval_dir()
evaluations, problems = resources.load_evaluations(eval_dir)
for name, fix in problems.items():
    st.warning(f"Evaluation {plain(name)} could not be read. {plain(fix)}")
if not evaluations:
    layout.stop_with(tables.missing_evaluations_help(eval_dir))

by_name = {ev.name: ev for ev in evaluations}
split_col, cal_col = st.columns([2, 1], vertical_alignment="bottom")
with split_col:
    name = widgets_eval.show_evaluation_choice(list(by_name), key="error_audit.split", label="Split")
ev = by_name[name]
with cal_col:
    calibrated = widgets_eval.use_calibrated(tables.has_calibration(ev))
    st.caption(f"Probabilities: {widgets_eval.probability_kind(calibrated)} (switch in the sidebar).")
threshold_col, band_col = st.columns(2, gap="large")
with threshold_col:
    threshold = widgets_eval.show_threshold("error_audit.threshold", default=tables.saved_threshold(ev))
with band_col:
    band = widgets_eval.show_confidence_band("error_audit.band")

cases = tables.audit_cases(ev, threshold, band, calibrated)
positive = tables.positive_label(ev)
st.markdown(tables.audit_summary(cases, ev, threshold))
st.download_button(
    "Download the list (CSV)",
    csv_text(cases),  # cells starting with = + - @ are neutralised for spreadsheets
    file_name=f"{name}_error_audit.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)

data_dir = settings.data_dir()
with st.expander(f"All {len(cases)} listed cases as a table", expanded=data_dir is None):
    st.dataframe(
        cases,
        hide_index=True,
        column_config={
            f"P({positive})": st.column_config.NumberColumn(format="%.3f"),
            "sha256": st.column_config.TextColumn(width="small"),
        },
    )
if data_dir is None:
    layout.stop_with(settings.data_help())

classifier = layout.require_classifier()
if classifier.fingerprint != ev.checkpoint:
    st.warning(
        f"The maps come from the selected model {plain(classifier.fingerprint)}, but this evaluation was "
        f"made with {plain(ev.checkpoint)}: the two may disagree."
    )
st.caption(
    "Overlays: attention rollout of the selected model (where the class token gathers information, "
    "not proof of a lesion), on the colour scale shared by every page."
)
counts = tables.audit_counts(cases)
tabs = st.tabs([f"{tables.AUDIT_TITLES[kind]} ({counts[kind]})" for kind in tables.AUDIT_KINDS])
for tab, kind in zip(tabs, tables.AUDIT_KINDS, strict=True):
    with tab:
        audit_view.render_gallery(cases, kind, classifier, data_dir, name, positive)
