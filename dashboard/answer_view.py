"""The Explain page's answer section: input check first, then the answer read as clear, borderline or
unreliable, its stability in plain words, and whether the model has seen this scan (split manifest).

The probability shown is the sidebar's one raw/calibrated choice (:mod:`dashboard.widgets_eval`), labelled;
the reading itself is :func:`model.certainty.read_answer`, which the Error audit's band and the PDF report
share.
"""

from __future__ import annotations

import streamlit as st

from dashboard import layout, resources, settings, widgets_eval
from dashboard.safe_text import plain
from model.artifacts import CALIBRATION_FILE
from model.certainty import BORDERLINE, CLEAR, AnswerReading, read_answer
from model.inference import FirstLook, Prediction
from model.loading import Classifier
from model.provenance import SplitMatch, find_in_manifest


def shown_probability(prediction: Prediction, calibrated: bool) -> float:
    """P(positive) as the sidebar's choice says: calibrated, or the raw softmax."""
    raw = float(prediction.probs_raw[prediction.positive_index])
    return prediction.p_positive if calibrated else raw


def reading_for(prediction: Prediction, calibrated: bool, flags: tuple[str, ...]) -> AnswerReading:
    """The plain-words reading of this answer (see :func:`model.certainty.read_answer`)."""
    return read_answer(
        shown_probability(prediction, calibrated),
        prediction.labels,
        prediction.positive_index,
        prediction.tta_std,
        len(prediction.tta_positive),
        flags,
    )


def _look(classifier: Classifier, sha: str, data: bytes) -> tuple[FirstLook, str]:
    folder = settings.eval_dir()
    temperature, note = resources.temperature_cached(
        str(folder), classifier.fingerprint, resources.file_mtime(folder / CALIBRATION_FILE)
    )
    with st.spinner("Running the model…"):
        look = resources.first_look_cached(classifier.source, classifier.fingerprint, sha, data, temperature)
    return look, note


def show_answer(
    classifier: Classifier, sha: str, data: bytes, flags: tuple[str, ...]
) -> tuple[FirstLook, AnswerReading]:
    """Headline (borderline / unreliable said in the headline itself), probability, stability, notes."""
    look, note = _look(classifier, sha, data)
    p = look.prediction
    calibrated = widgets_eval.use_calibrated(p.temperature != 1.0)
    reading = reading_for(p, calibrated, flags)
    pos = p.labels[p.positive_index]
    kind = widgets_eval.probability_kind(calibrated)
    a, b, c = st.columns(3)
    a.metric(
        "Prediction",
        reading.headline,
        help="The more probable class, unless the answer is borderline "
        "(inside the unsure band) or the input check failed.",
    )
    b.metric(
        f"P({pos})",
        f"{shown_probability(p, calibrated):.0%}",
        kind,
        delta_color="off",
        delta_arrow="off",
        help="Switch raw / calibrated in the sidebar; every page uses the same choice.",
    )
    c.metric(
        "Stability (TTA)",
        f"± {p.tta_std:.1%}",
        f"over {len(p.tta_positive)} views",
        delta_color="off",
        delta_arrow="off",
        help=reading.stability,
    )
    say = {CLEAR: st.caption, BORDERLINE: st.warning}.get(reading.level, st.error)
    say(reading.sentence)
    st.caption(reading.stability)
    raw_note = "Probabilities are raw (uncalibrated), as chosen in the sidebar: the softmax of the logits."
    st.caption(plain(note) if calibrated or p.temperature == 1.0 else raw_note)
    return look, reading


def show_provenance(sha: str) -> SplitMatch | None:
    """Say when the scan is in the training manifest (by sha256), with its split and true label."""
    match = find_in_manifest(layout.training_manifest(), sha)
    if match is not None:
        (st.info if match.split == "test" else st.warning)(plain(match.sentence()), icon=":material/dataset:")
    return match
