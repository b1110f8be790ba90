"""The Explain page's answer section: input check first, then the answer read as clear, borderline or
unreliable, its stability in plain words, and whether the model has seen this scan (split manifest).

The probability shown is the sidebar's one raw/calibrated choice (:mod:`dashboard.widgets_eval`), labelled;
the reading itself is :func:`model.certainty.read_answer`, which the Error audit's band and the PDF report
share.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import layout, resources, settings, widgets_eval
from dashboard.safe_text import plain
from model.certainty import BORDERLINE, CLEAR, AnswerReading, read_answer
from model.data.provenance import SplitMatch, find_in_manifest
from model.evaluate.artifacts import CALIBRATION_FILE
from model.inference import TTA_VIEWS, FirstLook, Prediction
from model.loading import Classifier


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


def _temperature(classifier: Classifier) -> tuple[float, str]:
    folder = settings.eval_dir()
    return resources.temperature_cached(
        str(folder), classifier.fingerprint, resources.file_mtime(folder / CALIBRATION_FILE)
    )


@dataclass
class Answer:
    """The answer on screen: drawn at once from the quick look; :meth:`finish` adds the TTA stability.

    Attributes:
        look: the quick look until :meth:`finish`, then the complete one (every TTA view).
        reading: the plain reading of ``look``.
    """

    classifier: Classifier
    sha: str
    data: bytes
    flags: tuple[str, ...]
    calibrated: bool
    look: FirstLook
    reading: AnswerReading
    metric_slot: DeltaGenerator
    caption_slot: DeltaGenerator

    @property
    def complete(self) -> bool:
        """Whether the TTA views have run."""
        return len(self.look.prediction.tta_positive) == len(TTA_VIEWS)

    def finish(self) -> None:
        """Run the TTA views (cached; at most once) and show the stability they measure."""
        if self.complete:
            return
        source, fingerprint = self.classifier.source, self.classifier.fingerprint
        temperature = self.look.prediction.temperature
        self.look = resources.first_look_cached(source, fingerprint, self.sha, self.data, temperature)
        self.reading = reading_for(self.look.prediction, self.calibrated, self.flags)
        _show_stability(self)


def _show_stability(answer: Answer) -> None:
    p = answer.look.prediction
    if not answer.complete:
        answer.metric_slot.metric("Stability (TTA)", "…", "checking", delta_color="off", delta_arrow="off")
        answer.caption_slot.caption(
            "Checking stability under small changes of the image (after the first maps)…"
        )
        return
    answer.metric_slot.metric(
        "Stability (TTA)",
        f"± {p.tta_std:.1%}",
        f"over {len(p.tta_positive)} views",
        delta_color="off",
        delta_arrow="off",
        help=answer.reading.stability,
    )
    answer.caption_slot.caption(answer.reading.stability)


def show_answer(classifier: Classifier, sha: str, data: bytes, flags: tuple[str, ...]) -> Answer:
    """Headline (borderline / unreliable said in the headline itself), probability; stability follows.

    One eager forward pass gives the answer and the attention rollout; the TTA views run when the page calls
    :meth:`Answer.finish` (after the fast maps), so the first answer never waits for them.
    """
    temperature, note = _temperature(classifier)
    with st.spinner("Running the model…"):
        look = resources.quick_look_cached(classifier.source, classifier.fingerprint, sha, data, temperature)
    p = look.prediction
    calibrated = widgets_eval.use_calibrated(p.temperature != 1.0)
    reading = reading_for(p, calibrated, flags)
    pos = p.labels[p.positive_index]
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
        widgets_eval.probability_kind(calibrated),
        delta_color="off",
        delta_arrow="off",
        help="Switch raw / calibrated in the sidebar; every page uses the same choice.",
    )
    say = {CLEAR: st.caption, BORDERLINE: st.warning}.get(reading.level, st.error)
    say(reading.sentence)
    answer = Answer(classifier, sha, data, flags, calibrated, look, reading, c.empty(), st.empty())
    _show_stability(answer)
    raw_note = "Probabilities are raw (uncalibrated), as chosen in the sidebar: the softmax of the logits."
    st.caption(plain(note) if calibrated or p.temperature == 1.0 else raw_note)
    return answer


def show_provenance(sha: str) -> SplitMatch | None:
    """Say when the scan is in the training manifest (by sha256), with its split and true label."""
    match = find_in_manifest(layout.training_manifest(), sha)
    if match is not None:
        (st.info if match.split == "test" else st.warning)(plain(match.sentence()), icon=":material/dataset:")
    return match
