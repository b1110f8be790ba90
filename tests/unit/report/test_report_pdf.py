"""model.report.pdf / report_text / report_trust: a printable, path-free report (issue 13, Reports)."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from model.data.synthetic import phantom_image
from model.explain.registry import EXPLAINERS
from model.explain.single import explain_image
from model.inference import first_look
from model.report.case import DISCLAIMER, CaseReport
from model.report.pdf import (
    FIRST_PAGE_LINES,
    PAPERS,
    TEXT_PAGE_LINES,
    PrintOptions,
    detail_chunks,
    render_report_pdf,
)
from model.report.text import model_label, safe_file_name, scrub_paths
from model.report.trust import NO_SUMMARY, trust_line, trust_lines

REPO = Path(__file__).resolve().parents[3]
SUMMARY = REPO / "artifacts" / "eval" / "explanations" / "summary.json"
WHEN = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
POINTS_PER_INCH = 72
SIZE_TOLERANCE_IN = 0.02  # PDF boxes are whole points: 8.27 in is 595.44 pt, written as 595.44 or 595


def _absolute(*parts: str) -> str:
    """A POSIX absolute path made of ``parts`` (no machine's path is written out in the source)."""
    return "/".join(("", *parts))


@pytest.fixture
def report(tiny_classifier, tmp_path):
    img = phantom_image(2, (90, 120), tumour=True)
    look = first_look(tiny_classifier, img, temperature=1.4)
    methods = ("gradcam", "gradient_rollout", "occlusion", "smoothgrad")
    maps = {"Attention rollout": look.rollout}
    maps |= {EXPLAINERS[m].label: explain_image(tiny_classifier, img, m, 1) for m in methods}
    return CaseReport(
        img,
        look.prediction,
        look.geometry,
        maps,
        "fa11ba5e0123",
        str(tmp_path / "secret-user" / "model"),  # an absolute local model folder
        "ab" * 32,
        {"Class explained": "tumor", "Note": f"Evaluation folder: {tmp_path}/artifacts/eval"},
        {EXPLAINERS["gradcam"].label: {"deletion": 0.25, "insertion": 0.75}},
    )


def _pdf(report: CaseReport, paper: str) -> PdfReader:
    name = _absolute("home", "alice", "scans", "Y1.jpg")
    options = PrintOptions(name, paper, {"gradcam": "TRUSTLINE"}, WHEN)
    return PdfReader(io.BytesIO(render_report_pdf(report, options)))


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_pages_are_a4_or_letter_and_the_maps_spill_onto_more_pages(report, paper):
    reader = _pdf(report, paper)
    assert len(reader.pages) >= 3  # scan page + 5 maps at 4 a page
    for page in reader.pages:
        width, height = (float(v) / POINTS_PER_INCH for v in (page.mediabox.width, page.mediabox.height))
        assert (width, height) == pytest.approx(PAPERS[paper], abs=SIZE_TOLERANCE_IN)


def test_report_carries_time_file_model_meaning_trust_and_disclaimer(report):
    reader = _pdf(report, "A4")
    pages = [p.extract_text() for p in reader.pages]
    text = "\n".join(pages)
    assert "2026-12-02 14:05 UTC" in text and "Y1.jpg" in text
    assert "model (weights fa11ba5e0123)" in text
    assert "Meaning:" in text and "Grad-CAM" in text and "TRUSTLINE" in text
    assert "deletion 0.25" in text
    assert all("not for diagnosis" in p for p in pages)  # on every page
    assert reader.metadata["/Subject"] == DISCLAIMER


def test_report_prints_no_local_absolute_path(report, tmp_path):
    text = "\n".join(p.extract_text() for p in _pdf(report, "Letter").pages)
    assert str(tmp_path) not in text and _absolute("home", "alice") not in text and "secret-user" not in text
    assert "Evaluation folder: …/eval" in text


def test_an_unknown_paper_is_refused():
    with pytest.raises(ValueError, match="paper"):
        PrintOptions(paper="A0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Evaluation folder: " + _absolute("srv", "x", "artifacts", "eval"), "Evaluation folder: …/eval"),
        ("model C:\\Users\\bob\\m (T=1)", "model …/m (T=1)"),
        ("see ~/data/scan.png.", "see …/scan.png."),
        ("yes/Y1.jpg from google/vit-base-patch16-224", "yes/Y1.jpg from google/vit-base-patch16-224"),
        ("P(tumor) = 50/50", "P(tumor) = 50/50"),
    ],
)
def test_scrub_paths(text, expected):
    assert scrub_paths(text) == expected


def test_safe_file_name_and_model_label():
    uploaded = _absolute("srv", "up", "\u202eevil\x00.png")  # a path as a browser might send it
    assert safe_file_name(uploaded) == "evil.png"
    assert safe_file_name("") == "unnamed scan" and len(safe_file_name("a" * 500)) <= 80
    assert model_label(_absolute("srv", "a", "artifacts", "model", ""), "abc") == "model (weights abc)"
    assert model_label("google/vit-base-patch16-224", "abc") == "google/vit-base-patch16-224 (weights abc)"


def test_trust_line_reads_the_saved_summary_against_the_random_reference():
    summary = json.loads(SUMMARY.read_text())
    lines = trust_lines(summary, ["gradcam", "attention_rollout"])
    assert "random" in lines["gradcam"] and "chance" in lines["gradcam"]
    assert "not above chance" in lines["gradcam"]  # 1% inside the masks: the Y1 finding
    assert trust_line(None, "gradcam") == NO_SUMMARY
    assert "not measured" in trust_line(summary, "no_such_method")


def test_long_text_spills_onto_continuation_pages_instead_of_off_the_page(report):
    long = dataclasses.replace(report, settings={f"Note {i}": "word " * 40 for i in range(30)}, maps={})
    reader = PdfReader(io.BytesIO(render_report_pdf(long, PrintOptions(created=WHEN))))
    chunks = detail_chunks(long)
    assert len(chunks) > 1 and len(chunks[0]) <= FIRST_PAGE_LINES
    assert all(len(c) <= TEXT_PAGE_LINES for c in chunks[1:])
    assert len(reader.pages) == len(chunks)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Note 29:" in text and f"page {len(chunks)} of {len(chunks)}" in text
