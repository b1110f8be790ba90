"""Error audit: wrong and unsure cases by cohort, with class-specific maps and a way into Explain."""

from __future__ import annotations

import streamlit as st

from dashboard import (
    audit_view,
    layout,
    resources,
    settings,
    tables,
    tables_audit,
    widgets_audit,
    widgets_eval,
)
from dashboard.safe_text import csv_text, plain

layout.page_header(
    "Error audit",
    "Which scans does the model get wrong or is unsure about, and what did it "
    "look at there? Filter by cohort to test for shortcuts; open any case on the Explain page.",
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
    chosen = [by_name[n] for n in widgets_audit.show_splits(list(by_name))]
with cal_col:
    calibrated = widgets_eval.use_calibrated(all(tables.has_calibration(ev) for ev in chosen))
    st.caption(f"Probabilities: {widgets_eval.probability_kind(calibrated)} (switch in the sidebar).")
threshold_col, band_col = st.columns(2, gap="large")
with threshold_col:
    threshold = widgets_eval.show_threshold(
        "error_audit.threshold", default=tables.saved_threshold(chosen[0])
    )
with band_col:
    band = widgets_eval.show_confidence_band("error_audit.band")

data_dir = settings.data_dir()
cohorts = {ev.name: resources.case_cohorts(eval_dir, ev, data_dir) for ev in chosen}
cases = audit_view.show_cohort_filters(
    tables_audit.cases_with_cohorts(chosen, cohorts, threshold, band, calibrated)
)
positive = tables.positive_label(chosen[0])
st.markdown(tables_audit.audit_summary(cases, chosen, threshold))
st.download_button(
    "Download the list (CSV)",
    csv_text(cases),  # cells starting with = + - @ are neutralised for spreadsheets
    file_name="error_audit.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
audit_view.show_case_table(cases, positive, expanded=data_dir is None)
if data_dir is None:
    layout.stop_with(settings.data_help())

classifier = layout.require_classifier()
if others := sorted({ev.checkpoint for ev in chosen} - {classifier.fingerprint}):
    st.warning(
        f"The maps come from the selected model {plain(classifier.fingerprint)}, but the evaluation was "
        f"made with {plain(', '.join(others))}: the two may disagree."
    )
counts = tables.audit_counts(cases)
tabs = st.tabs([f"{tables.AUDIT_TITLES[kind]} ({counts[kind]})" for kind in tables.AUDIT_KINDS])
for tab, kind in zip(tabs, tables.AUDIT_KINDS, strict=True):
    with tab:
        audit_view.render_gallery(cases, kind, classifier, data_dir, positive)
