"""model.report.case: the case figure, PNG and PDF (disclaimer and fingerprint travel with the file)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from model.data.synthetic import phantom_image
from model.explain.single import explain_image
from model.figures.case import build_case_figure, render_png
from model.figures.maps import overlay_map
from model.inference import first_look
from model.report.case import DISCLAIMER, CaseReport
from model.report.pdf import render_report_pdf

FINGERPRINT = "fa11ba5e0123"


@pytest.fixture
def report(tiny_classifier):
    img = phantom_image(2, (90, 120), tumour=True)
    look = first_look(tiny_classifier, img, temperature=1.4)
    maps = {"Attention rollout": look.rollout, "Grad-CAM": explain_image(tiny_classifier, img, "gradcam", 1)}
    return CaseReport(
        img,
        look.prediction,
        look.geometry,
        maps,
        FINGERPRINT,
        "tiny/model",
        "ab" * 32,
        {"Class explained": "tumor"},
        {"Grad-CAM": {"deletion": 0.25, "insertion": 0.75}},
        ("colour looks odd",),
    )


def _pdf_string(pdf: bytes, key: str) -> str:
    """Decode a PDF Info string: literal ASCII, or UTF-16BE with a BOM as matplotlib writes non-ASCII text."""
    raw = re.search(rb"/" + key.encode() + rb" \((.*?)(?<!\\)\)\s*[/>]", pdf, re.S).group(1)
    raw = re.sub(rb"\\(.)", rb"\1", raw)
    return raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")


def test_pdf_has_header_disclaimer_and_fingerprint(report):
    pdf = render_report_pdf(report)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert _pdf_string(pdf, "Subject") == DISCLAIMER
    assert FINGERPRINT in _pdf_string(pdf, "Keywords")


def test_png_decodes(report):
    img = Image.open(io.BytesIO(render_png(report)))
    img.load()
    assert img.format == "PNG" and img.width > 600 and img.height > 400


def test_figure_shows_disclaimer_prediction_settings_and_scores(report):
    fig = build_case_figure(report)
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    joined = "\n".join(texts)
    assert DISCLAIMER in joined and FINGERPRINT in joined
    assert f"Predicted: {report.prediction.predicted_label}" in joined and "T = 1.40" in joined
    assert "Class explained: tumor" in joined and "Input warning: colour looks odd" in joined
    assert "deletion 0.25" in joined and "insertion 0.75" in joined
    assert sum(t.startswith("Attention rollout") for t in texts) == 1


def test_overlay_is_transparent_outside_the_region_the_model_saw(report):
    heat = overlay_map(report.maps["Grad-CAM"], report.geometry)
    top, left, bottom, right = report.geometry.crop_box
    assert heat.shape == report.geometry.original_size
    assert heat.mask[:top].all() and heat.mask[bottom:].all() and heat.mask[:, :left].all()
    assert not heat.mask[top:bottom, left:right].any()
    # "× uniform" units: the mean over the region the model saw is 1 for a non-empty map
    assert float(np.mean(heat[top:bottom, left:right])) == pytest.approx(1.0, rel=0.1)
