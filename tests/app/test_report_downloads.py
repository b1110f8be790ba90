"""AppTest of the Explain page's report downloads: a paper choice, and a printable, path-free PDF."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from dashboard import report_view
from model.report.pdf import PAPERS, render_report_pdf

PAGE = "../pages/explain.py"
POINTS_PER_INCH = 72
SIZE_TOLERANCE_IN = 0.02  # PDF boxes are in points


def test_the_pdf_prints_on_the_chosen_paper_with_the_file_name_and_no_local_path(
    app_env, app_test, phantom_png, monkeypatch
):
    made = []
    real = report_view.print_options
    monkeypatch.setattr(report_view, "print_options", lambda *a: made.append((a[0], real(*a))) or made[-1][1])
    at = app_test(PAGE)
    at.file_uploader(key="explain.upload").set_value(("my scan.png", phantom_png(), "image/png")).run()
    assert not at.exception and at.radio(key=report_view.PAPER_KEY).value == "A4"
    at.radio(key=report_view.PAPER_KEY).set_value("Letter").run()
    assert not at.exception
    assert "Download report (PDF, Letter)" in [b.proto.label for b in at.get("download_button")]
    report, options = made[-1]
    assert options.paper == "Letter" and options.file_name == "my scan.png"
    reader = PdfReader(io.BytesIO(render_report_pdf(report, options)))
    for page in reader.pages:
        size = (float(page.mediabox.width) / POINTS_PER_INCH, float(page.mediabox.height) / POINTS_PER_INCH)
        assert size == pytest.approx(PAPERS["Letter"], abs=SIZE_TOLERANCE_IN)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "my scan.png" in text and "UTC" in text and "Meaning:" in text and "Trust on this model" in text
    assert str(app_env.model_dir) not in text and str(app_env.eval_dir) not in text  # tmp absolute paths
    assert str(app_env.model_dir).startswith("/")
