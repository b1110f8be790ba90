"""Performance: threshold-free metrics per split, and what moves with the decision threshold."""

from __future__ import annotations

import streamlit as st

from dashboard import performance_view, resources, settings, tables, widgets_eval
from dashboard.layout import page_header, stop_with
from dashboard.safe_text import plain

page_header(
    "Performance",
    "How well the model separates tumour from no tumour on each split, with 95% "
    "intervals, and how its errors trade off as the decision threshold moves.",
)
eval_dir = settings.eval_dir()
evaluations, problems = resources.load_evaluations(eval_dir)
for name, fix in problems.items():
    st.warning(f"Evaluation {plain(name)} could not be read. {plain(fix)}")
if not evaluations:
    stop_with(tables.missing_evaluations_help(eval_dir))

by_name = {ev.name: ev for ev in evaluations}
calibrated = widgets_eval.use_calibrated(any(tables.has_calibration(ev) for ev in evaluations))
st.caption(f"Probabilities: {widgets_eval.probability_kind(calibrated)} (switch in the sidebar).")
performance_view.show_threshold_free(evaluations, calibrated)

st.subheader("Decision threshold")
name = widgets_eval.show_evaluation_choice(list(by_name), key="performance.split", label="Split")
ev = by_name[name]
st.caption(tables.describe(ev))
use_calibrated = calibrated and tables.has_calibration(ev)
st.markdown(tables.plain_readings(ev, use_calibrated))
threshold = widgets_eval.show_threshold("performance.threshold", default=tables.saved_threshold(ev))
performance_view.show_score_distribution(ev, threshold, use_calibrated)
performance_view.show_all_splits_at(eval_dir, evaluations, threshold, calibrated)
performance_view.show_chosen_split(eval_dir, ev, threshold, use_calibrated)
performance_view.show_calibration(ev)
