"""Explanation quality: per-method faithfulness, sanity check and localisation from the saved batch job."""

from __future__ import annotations

import streamlit as st

from dashboard import layout, quality_view, resources, settings, trust_view, widgets_eval
from dashboard.safe_text import plain
from model.explain.summary import ExplanationArtifactError
from model.figures import evaluation

layout.page_header(
    "Explanation quality",
    "Which explanation methods can be trusted on this model: do their "
    "maps name what the model needs, depend on what it learned, and fall on the tumour?",
)
folder = settings.eval_dir() / quality_view.EXPLANATIONS_SUBDIR
try:
    summary = resources.load_explanation_summary(folder)
except ExplanationArtifactError as err:
    layout.stop_with(f"No explanation-quality summary to show yet. {plain(err)}")
st.caption(quality_view.describe(summary))

trust_view.show_verdicts(folder)

st.subheader("Summary per method")
st.dataframe(quality_view.summary_frame(summary))
st.caption(
    "↓ lower is better, ↑ higher is better. *Random* ranks patches at random: a method should beat "
    "it. The pointing game and relevance-in-mask use rough student-drawn tumour masks; compare them "
    "with chance (the mask's share of the scan), not with 1."
)

st.subheader("Faithfulness: deletion and insertion")
widgets_eval.show_figure(evaluation.build_deletion_insertion_figure(quality_view.curve_inputs(summary)))
st.caption(
    "Patches are removed (deletion) or restored into a blurred scan (insertion) in the order the map "
    "ranks them, while the probability of the explained class is tracked (Petsiuk et al., 2018)."
)

sanity_col, pointing_col = st.columns(2, gap="large")
with sanity_col:
    st.subheader("Sanity check: randomised model")
    names, rho, passed, threshold = quality_view.sanity_inputs(summary)
    if names:
        widgets_eval.show_figure(evaluation.build_sanity_figure(names, rho, passed, threshold))
    st.caption(
        "Median rank correlation between the trained and the fully randomised model's maps. A method "
        "whose map barely changes shows the image, not the model (Adebayo et al., 2018)."
    )
with pointing_col:
    st.subheader("Localisation: pointing game")
    labels, hits, lows, highs = quality_view.pointing_inputs(summary)
    if labels:
        widgets_eval.show_figure(
            evaluation.build_interval_figure(
                labels, hits, lows, highs, xlabel="share of tumour scans whose map peak hits the mask"
            )
        )
    else:
        st.caption("No tumour masks were available to the batch job.")

st.subheader("Trained vs randomised model, one scan")
cases = quality_view.sanity_cases(summary)
data_dir = settings.data_dir()
if cases.empty:
    layout.stop_with("The batch job ran no sanity check (re-run it with --sanity-cases 6).")
if data_dir is None:
    layout.stop_with(settings.data_help())
classifier = layout.require_classifier()
if classifier.fingerprint != summary.checkpoint:
    st.warning(
        f"The saved maps belong to model {plain(summary.checkpoint)}, the selected model is "
        f"`{classifier.fingerprint}`: re-run the batch job for this model to compare like with like."
    )
case_path = widgets_eval.show_sanity_case(list(cases["path"]))
methods = widgets_eval.show_compare_methods(quality_view.compare_labels(summary, cases))
case = quality_view.sanity_case(cases, case_path)
for method in methods:
    quality_view.render_pair(summary, classifier, data_dir, case, method)
