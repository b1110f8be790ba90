"""Compare models: two checkpoints on the same scans, with paired statistics and paired explanations."""

from __future__ import annotations

import streamlit as st

from dashboard import compare_view, layout, settings, widgets_eval
from model.evaluate.artifacts import ArtifactError

layout.page_header(
    "Compare models",
    "Did the new checkpoint get better, where, and does it look at the right place? Two models on the "
    "same scans, compared case by case (A is the reference, B the candidate).",
)
a, b = compare_view.show_sides()
names = compare_view.shared_names(a, b)
if not names:
    layout.stop_with(compare_view.no_shared_help(a, b))
name = widgets_eval.show_evaluation_choice(names, key="compare.split", label="Split")
try:
    evs, result = compare_view.load(a, b, name)
except ArtifactError as err:
    layout.stop_with(str(err))
st.caption(compare_view.describe(evs, result, name))

st.subheader("Paired metrics")
st.dataframe(compare_view.paired_frame(result))
table_col, text_col = st.columns([3, 2], gap="large")
with table_col:
    widgets_eval.show_figure(compare_view.difference_figure(result))
text_col.markdown(compare_view.mcnemar_text(result, name))
text_col.caption(
    "Intervals: 95% percentile bootstrap that resamples duplicate groups, the same resamples for both "
    "models, so the interval of B − A reflects the pairing. An interval that contains 0 means these scans "
    "cannot tell the two apart on that metric."
)

st.subheader("ROC curves and calibration")
roc_col, rel_a, rel_b = st.columns(3)
with roc_col:
    widgets_eval.show_figure(compare_view.roc_figure((a, b), evs, name))
for column, side in ((rel_a, a), (rel_b, b)):
    with column:
        widgets_eval.show_figure(compare_view.reliability_figure(side, evs[side.name]))

st.subheader("Explanation quality side by side")
compare_view.render_explanations(a, b, names)

cases = compare_view.disagreement_frame(result, evs)
st.subheader(f"Where they disagree ({len(cases)} scans)")
with st.expander("All disagreements as a table", expanded=cases.empty):
    st.dataframe(cases, hide_index=True)
if cases.empty:
    layout.stop_with("The two models predict the same label on every scan of this split.")
data_dir = settings.data_dir()
if data_dir is None:
    layout.stop_with(settings.data_help())
method = compare_view.show_method()
compare_view.render_gallery(result, (a, b), evs, name, method, data_dir)
