"""Overview: the model card in brief, headline test metrics with intervals, and what the tool is for."""

from __future__ import annotations

import streamlit as st

from dashboard import layout, model_card, resources, settings, tables
from dashboard.safe_text import plain
from model.errors import MriExplainError
from model.evaluate.artifacts import ArtifactError

layout.page_header("Overview", "What this model is, how it was trained and tested, and what it is (not) for.")
st.warning(
    "**Research and teaching tool — not for diagnosis.** The model was trained on public brain MRI "
    "images of mixed provenance and tested on a few dozen (see the model card below for the numbers). "
    "Never use its answers or maps for a clinical decision.",
    icon=":material/warning:",
)

source, eval_dir = settings.model_source(), settings.eval_dir()
try:
    classifier = resources.load_classifier_cached(source)
except MriExplainError as err:  # ModelLoadError, LabelMismatchError
    classifier = None
    st.error(f"{plain(err)}\n\n{layout.MODEL_FIX}")

st.subheader("Headline test metrics")
try:
    test = resources.load_evaluation(eval_dir, "test")
except ArtifactError as err:
    st.info(f"No usable test evaluation, so no headline metrics. {plain(err)}")
else:
    for column, (name, value, interval) in zip(st.columns(4), tables.headline(test), strict=True):
        column.metric(name, value, delta=interval, delta_color="off", delta_arrow="off", border=True)
    st.caption(
        f"{tables.describe(test)}. 95% intervals: bootstrap over duplicate groups. All splits, "
        "thresholds and calibration are on the *Performance* page."
    )
    if classifier is not None and test.checkpoint != classifier.fingerprint:
        st.warning(
            f"These metrics belong to model {plain(test.checkpoint)}, but the selected model is "
            f"`{classifier.fingerprint}`. Point the evaluation folder at this model's evaluations."
        )

card = model_card.read_card(source)
if not card:
    st.info(
        f"No model card (README.md) in {plain(source)}: showing the data set's generic notes. Write the card "
        f"with `{model_card.CARD_COMMAND}`."
    )
    card = model_card.generic_sections()

model_col, data_col = st.columns([2, 3], gap="large")
with model_col:
    st.subheader("The model")
    if classifier is not None:
        run = model_card.read_run_config(source)
        st.table(model_card.architecture_frame(classifier, run))
with data_col:
    st.subheader("Training data and its caveats")
    st.markdown(card.get(model_card.DATA_SECTION, "Not described in this card."))

st.subheader("How the data was split")
st.markdown(card.get(model_card.SPLIT_SECTION, model_card.generic_sections()[model_card.SPLIT_SECTION]))

use_col, limits_col = st.columns(2, gap="large")
with use_col:
    st.subheader("Intended use")
    st.markdown(card.get(model_card.USE_SECTION, model_card.generic_sections()[model_card.USE_SECTION]))
with limits_col:
    st.subheader("Limitations")
    st.markdown(card.get(model_card.LIMITS_SECTION, model_card.generic_sections()[model_card.LIMITS_SECTION]))
