"""The Explain page's report downloads: the PNG snapshot and the printable PDF (A4 or Letter).

The files are rendered only when a button is clicked (deferred callables). The PDF's trust lines come from the
saved explanation-quality summary of the evaluation folder, when there is one for this model
(:mod:`model.report.trust`); the file name goes through :func:`model.report.text.safe_file_name` there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from dashboard import resources, settings, widgets_eval
from dashboard.answer_view import Answer
from dashboard.widgets import PERSIST
from model.data.provenance import SplitMatch
from model.data.scan import Scan
from model.evaluate.artifacts import ArtifactError
from model.explain.heatmap import Heatmap
from model.explain.summary import EVAL_SUBDIR
from model.figures.case import render_png
from model.report.case import CaseReport
from model.report.pdf import PAPERS, PrintOptions, render_report_pdf
from model.report.trust import trust_lines

# (class index explained, label -> map, label -> deletion/insertion scores, the page's view settings)
Shown = tuple[int, Mapping[str, Heatmap], Mapping[str, dict], Mapping]

PAPER_KEY = "explain.paper"


def saved_trust(fingerprint: str, methods: list[str]) -> dict[str, str]:
    """Registry key -> trust line from the evaluation folder's explanation summary (if it is this model's)."""
    try:
        saved = resources.load_explanation_summary(settings.eval_dir() / EVAL_SUBDIR)
    except (ArtifactError, OSError):
        return trust_lines(None, methods)
    if saved.checkpoint != fingerprint:
        return trust_lines(None, methods)
    return trust_lines(saved.summary, methods)


def show_paper() -> str:
    """Paper size of the PDF report (A4 or Letter); owns ``explain.paper``."""
    if st.session_state.get(PAPER_KEY) not in PAPERS:
        st.session_state[PAPER_KEY] = "A4"
    return st.radio("Paper", list(PAPERS), key=PAPER_KEY, horizontal=True, persist_state=PERSIST)


def print_options(report: CaseReport, view: Mapping, file_name: str, paper: str) -> PrintOptions:
    """What the PDF adds to the case: file name, paper, the shown methods' trust lines, the colours."""
    methods = [record.method for record in report.maps.values()]
    trust = saved_trust(report.fingerprint, methods)
    return PrintOptions(file_name, paper, trust, cmap=view["cmap"], opacity=view["opacity"])


def case_report(answer: Answer, scan: Scan, shown: Shown, match: SplitMatch | None) -> CaseReport:
    """The case as the Explain page shows it, with the settings the report prints.

    Args:
        answer: the page's answer (finished: its look carries the TTA spread).
        scan: the decoded scan.
        shown: (class index explained, method label -> map, method label -> faithfulness scores, view).
        match: where the scan sits in the split manifest, if it does.
    """
    target, maps, scores, view = shown
    classifier, look, reading = answer.classifier, answer.look, answer.reading
    settings_shown = {
        "Class explained": classifier.labels[target],
        "Colour map": view["cmap"],
        "Opacity": f"{view['opacity']:.2f}",
        "Probabilities": widgets_eval.probability_kind(answer.calibrated),
        "Answer": f"{reading.headline}. {reading.sentence}",
        "Stability": reading.stability,
    }
    if match is not None:
        settings_shown["Known scan"] = match.sentence()
    return CaseReport(
        scan.image,
        look.prediction,
        look.geometry,
        maps,
        classifier.fingerprint,
        classifier.source,
        answer.sha,
        settings_shown,
        scores,
        answer.flags,
    )


def _deferred(render: Callable[[], bytes]) -> Callable[[], bytes]:
    def build() -> bytes:
        with resources.LOCK:
            return render()

    return build


def downloads(report: CaseReport, view: Mapping, file_name: str = "") -> None:
    """PNG and PDF report buttons; the files are only rendered when clicked.

    Args:
        report: the case as shown.
        view: the page's view settings (``cmap``, ``opacity``).
        file_name: the scan's name as given (printed on the report, reduced to a safe base name).
    """
    paper_col, png_col, pdf_col = st.columns([1, 1, 1], vertical_alignment="bottom")
    with paper_col:
        paper = show_paper()
    options = print_options(report, view, file_name, paper)
    stem = f"mri-explain-case-{report.scan_sha256[:10]}"
    png_col.download_button(
        "Download case (PNG)",
        _deferred(lambda: render_png(report, view["cmap"], view["opacity"])),
        f"{stem}.png",
        "image/png",
        on_click="ignore",
        icon=":material/image:",
    )
    pdf_col.download_button(
        f"Download report (PDF, {paper})",
        _deferred(lambda: render_report_pdf(report, options)),
        f"{stem}.pdf",
        "application/pdf",
        on_click="ignore",
        icon=":material/picture_as_pdf:",
    )
