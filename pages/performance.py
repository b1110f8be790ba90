"""Performance: saved metrics per split with intervals, and how they move with the decision threshold."""

from __future__ import annotations

import streamlit as st

from dashboard import figures_eval, resources, settings, tables, widgets_eval
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

st.subheader("Metrics per split")
st.dataframe(tables.split_metrics_frame(evaluations, calibrated))
st.caption(
    "Point estimate at the saved threshold, with a 95% percentile-bootstrap interval that resamples "
    "duplicate groups (near-identical scans count once). The calibration temperature is fitted on the "
    "validation split, so calibrated validation numbers are optimistic. Small splits give wide intervals: "
    "read them, not the point estimates alone."
)

st.subheader("Decision threshold")
name = widgets_eval.show_evaluation_choice(list(by_name), key="performance.split", label="Split")
ev = by_name[name]
st.caption(tables.describe(ev))
use_calibrated = calibrated and tables.has_calibration(ev)
st.markdown(tables.plain_readings(ev, use_calibrated))
threshold = widgets_eval.show_threshold("performance.threshold", default=tables.saved_threshold(ev))
result = resources.metrics_at_threshold(eval_dir, ev, threshold, use_calibrated)

matrix_col, table_col = st.columns([3, 2], gap="medium")
with matrix_col:
    widgets_eval.show_figure(
        figures_eval.build_confusion_figure(
            tables.confusion_counts(result), ev.labels, title=f"{name} split, threshold {threshold:.2f}"
        )
    )
    with st.expander("Counts as a table (rows = true label, columns = predicted label)"):
        st.table(tables.confusion_table(result, ev.labels))
with table_col:
    st.table(tables.threshold_metrics_frame(result))

roc, pr = resources.curves(eval_dir, ev, use_calibrated)
roc_kw, pr_kw = tables.curve_kwargs(result, roc, pr, tables.positive_label(ev))
roc_col, pr_col = st.columns(2)
with roc_col:
    widgets_eval.show_figure(figures_eval.build_roc_figure(**roc_kw))
with pr_col:
    widgets_eval.show_figure(figures_eval.build_pr_figure(**pr_kw))

st.subheader("Calibration")
curves, ece = tables.reliability_curves(ev)
figure_col, text_col = st.columns(2, gap="large")
with figure_col:
    widgets_eval.show_figure(figures_eval.build_reliability_figure(curves, ece, title=f"Reliability, {name}"))
text_col.markdown(
    "Does a predicted tumour probability of 0.8 come true 8 times in 10? Each dot is a bin of scans with "
    "similar predicted probability; a calibrated model lies on the diagonal. The bars show how many scans "
    "each bin holds: bins with few scans are noisy. *Calibrated* divides the logits by a temperature fitted "
    "on the validation split; it changes how sure the model sounds, not which scans it ranks higher. ECE is "
    "the expected calibration error of the top-label confidence (lower is better)."
)
