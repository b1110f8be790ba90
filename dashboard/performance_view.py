"""The Performance page's sections: threshold-free metrics, the threshold with its score distribution,
every split at that threshold, the chosen split's curves, and calibration.

Pages call these in order; each draws its own headers and captions. Metrics come from the saved evaluations
or from ``compute_metrics`` through :mod:`dashboard.resources`; tables and figures only arrange them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from dashboard import resources, tables, tables_threshold, widgets_eval
from model.evaluate.artifacts import Evaluation, confusion_frame
from model.figures import evaluation
from model.figures import threshold as figures_threshold

FREE_CAPTION = (
    "These do not move with the decision threshold: ROC-AUC and PR-AUC say how well the scores rank tumour "
    "above no tumour; Brier and ECE say how close the probabilities are to what happens. 95% percentile-"
    "bootstrap intervals resample duplicate groups (near-identical scans count once). The calibration "
    "temperature is fitted on the validation split, so calibrated validation numbers are optimistic."
)
DEPENDENT_CAPTION = (
    "These move with the slider: every scan is called tumour or not at the threshold, then counted. "
    "Small splits give wide intervals: read them, not the point estimates alone. "
)


def show_threshold_free(evaluations: Sequence[Evaluation], calibrated: bool) -> None:
    """Table of the threshold-free metrics of every split."""
    st.subheader("Threshold-free metrics per split")
    st.dataframe(tables_threshold.threshold_free_frame(evaluations, calibrated))
    st.caption(FREE_CAPTION + " " + tables.DEGENERATE_NOTE)


def show_score_distribution(ev: Evaluation, threshold: float, calibrated: bool) -> None:
    """The chosen split's scores per true class under the slider, and what the slider's position means."""
    scores = tables_threshold.scores_by_class(ev, calibrated)
    positive = tables.positive_label(ev)
    title = f"Scores of the {ev.name} scans by true class"
    widgets_eval.show_figure(
        figures_threshold.build_score_distribution_figure(scores, threshold, positive, title)
    )
    st.caption(tables_threshold.threshold_caption(ev, threshold, calibrated))


def show_all_splits_at(
    eval_dir: Path, evaluations: Sequence[Evaluation], threshold: float, calibrated: bool
) -> None:
    """Threshold-dependent metrics and confusion matrices of every split at ``threshold``, side by side."""
    st.subheader(f"Every split at threshold {threshold:.2f}")
    usable = [ev for ev in evaluations if not calibrated or tables.has_calibration(ev)]
    results = {
        f"{ev.name} (n={ev.results['n']})": resources.metrics_at_threshold(
            eval_dir, ev, threshold, calibrated
        )
        for ev in usable
    }
    st.dataframe(tables_threshold.threshold_dependent_frame(results, threshold))
    st.caption(DEPENDENT_CAPTION + tables.DEGENERATE_NOTE)
    counts = tables_threshold.confusions_at(usable, threshold, calibrated)
    labels = usable[0].labels if usable else []
    widgets_eval.show_figure(figures_threshold.build_split_confusions_figure(counts, labels, threshold))


def show_chosen_split(eval_dir: Path, ev: Evaluation, threshold: float, calibrated: bool) -> None:
    """The chosen split's counts as a table and its ROC and PR curves with the operating point."""
    result = resources.metrics_at_threshold(eval_dir, ev, threshold, calibrated)
    with st.expander(f"{ev.name}: counts as a table (rows = true label, columns = predicted label)"):
        st.table(confusion_frame(ev, counts=result["confusion"]))
    roc, pr = resources.curves(eval_dir, ev, calibrated)
    roc_kw, pr_kw = tables.curve_kwargs(result, roc, pr, tables.positive_label(ev))
    roc_col, pr_col = st.columns(2)
    with roc_col:
        widgets_eval.show_figure(evaluation.build_roc_figure(**roc_kw))
    with pr_col:
        widgets_eval.show_figure(evaluation.build_pr_figure(**pr_kw))
    st.caption(
        f"Curves of {ev.name}: each point is one threshold; the marked point is the slider's "
        f"({threshold:.2f}). The area under each curve does not depend on the threshold."
    )


CALIBRATION_TEXT = (
    "Does a predicted tumour probability of 0.8 come true 8 times in 10? Each dot is a bin of scans with "
    "similar predicted probability; a calibrated model lies on the diagonal. The bars show how many scans "
    "each bin holds: bins with few scans are noisy. *Calibrated* divides the logits by a temperature fitted "
    "on the validation split; it changes how sure the model sounds, not which scans it ranks higher. ECE is "
    "the expected calibration error of the top-label confidence (lower is better)."
)


def show_calibration(ev: Evaluation) -> None:
    """Reliability diagram raw vs calibrated, with how to read it."""
    st.subheader("Calibration")
    curves, ece = tables.reliability_curves(ev)
    figure_col, text_col = st.columns(2, gap="large")
    with figure_col:
        widgets_eval.show_figure(
            evaluation.build_reliability_figure(curves, ece, title=f"Reliability, {ev.name}")
        )
    text_col.markdown(CALIBRATION_TEXT)
