"""The case report as a printable PDF: A4 or Letter portrait pages, as many as the maps need.

Page 1 holds the header (date and time, file name, model, disclaimer), the scan and the answer with its
settings; the following pages hold the maps, :data:`MAPS_PER_PAGE` at a time on the shared colour scale,
each with what the method shows and how far it can be trusted on this model. Every page repeats the
disclaimer and the page number in its footer. All text goes through :func:`model.report.text.scrub_paths`,
so no local absolute path is printed. Drawn with matplotlib's object-oriented API and ``PdfPages``.

Example::

    from pathlib import Path

    from model.data.scan import load_scan
    from model.inference import predict
    from model.loading import load_classifier
    from model.report.case import CaseReport
    from model.report.pdf import PrintOptions, render_report_pdf

    classifier = load_classifier("artifacts/model")
    scan = load_scan("data/brain_tumor_dataset/yes/Y1.jpg")
    prediction, geometry = predict(classifier, scan.image)
    report = CaseReport(
        scan.image, prediction, geometry, {}, classifier.fingerprint, classifier.source, scan.sha256
    )
    Path("Y1_report.pdf").write_bytes(render_report_pdf(report, PrintOptions(file_name="Y1.jpg")))
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from model.explain.registry import EXPLAINERS
from model.figures.maps import COLOURBAR_LABEL, draw_overlay, overlay_map
from model.report.case import DISCLAIMER, CaseReport, faithfulness_text, prediction_lines
from model.report.text import model_label, safe_file_name, scrub_paths

PAPERS: dict[str, tuple[float, float]] = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0)}  # inches, portrait
MAPS_PER_PAGE = 4  # 2 x 2: each map about 3 in wide, readable on paper
WRAP_WIDE, WRAP_MAP = 100, 52  # characters per line at 8 pt across the page / under one map
FONT = 8
# Wrapped 8 pt lines that fit below the scan on page 1, and on a continuation page (0.133 in a line).
FIRST_PAGE_LINES, TEXT_PAGE_LINES = 32, 68
DISCLAIMER_RED = "#9a1b1b"


@dataclass(frozen=True)
class PrintOptions:
    """What the printed report adds to a :class:`~model.report.case.CaseReport`.

    Attributes:
        file_name: the scan's file name as the user gave it (reduced by ``safe_file_name``).
        paper: a key of :data:`PAPERS`.
        trust: registry key -> one line on how far the method can be trusted (``model.report.trust``).
        created: when the report was made (default: now, UTC).
        cmap: colour map of the overlays; opacity: their opacity in [0, 1].
    """

    file_name: str = ""
    paper: str = "A4"
    trust: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None
    cmap: str = "inferno"
    opacity: float = 0.5

    def __post_init__(self) -> None:
        if self.paper not in PAPERS:
            raise ValueError(f"paper must be one of {sorted(PAPERS)}, got {self.paper!r}.")


def _wrapped(lines: list[str], width: int) -> list[str]:
    return [part for x in lines for part in (textwrap.wrap(scrub_paths(x), width) or [" "])]


def _wrap(lines: list[str], width: int) -> str:
    return "\n".join(_wrapped(lines, width))


def detail_chunks(report: CaseReport) -> list[list[str]]:
    """The answer, warnings and settings as wrapped lines, cut into page-sized chunks.

    Returns:
        The first chunk fits below the scan (:data:`FIRST_PAGE_LINES`); any further chunk fills a
        continuation page (:data:`TEXT_PAGE_LINES`), so long text spills onto pages instead of off them.
    """
    lines = prediction_lines(report.prediction)
    lines += [f"Input warning: {w}" for w in report.warnings]
    lines += [f"{k}: {v}" for k, v in report.settings.items()]
    wrapped = _wrapped(lines, WRAP_WIDE)
    chunks = [wrapped[:FIRST_PAGE_LINES]]
    rest = wrapped[FIRST_PAGE_LINES:]
    chunks += [rest[i : i + TEXT_PAGE_LINES] for i in range(0, len(rest), TEXT_PAGE_LINES)]
    return chunks


def header_lines(report: CaseReport, options: PrintOptions) -> list[str]:
    """The header: date and time, file name, model; every line path-free.

    Args:
        report: the case shown (gives the model and the scan's hash).
        options: print settings (gives the file name and the creation time; now when it is None).

    Returns:
        Lines of plain text.
    """
    created = (options.created or datetime.now(UTC)).astimezone(UTC)
    return [
        f"Created: {created:%Y-%m-%d %H:%M} UTC",
        f"File: {safe_file_name(options.file_name)}",
        f"Model: {model_label(report.model_source, report.fingerprint)}",
        f"Scan sha256: {report.scan_sha256[:16]}…",
    ]


def _page(options: PrintOptions, number: int, total: int) -> Figure:
    fig = Figure(figsize=PAPERS[options.paper])
    fig.text(0.5, 0.975, "mri-explain case report", ha="center", va="top", fontsize=13, weight="bold")
    fig.text(0.5, 0.955, DISCLAIMER, ha="center", va="top", fontsize=9, color=DISCLAIMER_RED)
    footer = f"{DISCLAIMER}   ·   {safe_file_name(options.file_name)}   ·   page {number} of {total}"
    fig.text(0.5, 0.02, footer, ha="center", va="bottom", fontsize=6.5, color="#555555", parse_math=False)
    return fig


def _first_page(report: CaseReport, options: PrintOptions, details: list[str], total: int) -> Figure:
    fig = _page(options, 1, total)
    fig.text(
        0.08,
        0.93,
        _wrap(header_lines(report, options), WRAP_WIDE),
        va="top",
        fontsize=FONT + 1,
        parse_math=False,
    )
    ax = fig.add_axes((0.2, 0.5, 0.6, 0.33))
    draw_overlay(ax, report.image, None)
    ax.set_title("Scan", fontsize=FONT + 1)
    fig.text(0.08, 0.47, "\n".join(details), va="top", fontsize=FONT, parse_math=False)
    return fig


def _text_page(options: PrintOptions, lines: list[str], number: int, total: int) -> Figure:
    fig = _page(options, number, total)
    fig.text(0.08, 0.93, "(continued)\n" + "\n".join(lines), va="top", fontsize=FONT, parse_math=False)
    return fig


def method_text(report: CaseReport, title: str, options: PrintOptions) -> str:
    """What a map shows, how far it can be trusted and its faithfulness scores, wrapped for the page.

    Args:
        report: the case; ``report.maps[title]`` is the map described.
        title: the map's display title, a key of ``report.maps``.
        options: print settings; ``options.trust`` maps registry keys to trust lines.

    Returns:
        Newline-separated text wrapped at ``WRAP_MAP`` characters.

    Raises:
        KeyError: ``title`` is not a key of ``report.maps``.
    """
    record = report.maps[title]
    entry = EXPLAINERS.get(record.method)
    lines = [f"Meaning: {entry.description if entry else 'no description'}"]
    lines.append(f"Trust on this model: {options.trust.get(record.method, 'not measured')}")
    if score := report.scores.get(title):
        lines.append(f"This scan: {faithfulness_text(score)}")
    return _wrap(lines, WRAP_MAP)


def _map_page(
    report: CaseReport, titles: list[str], options: PrintOptions, number: int, total: int
) -> Figure:
    fig = _page(options, number, total)
    mappable = None
    for i, title in enumerate(titles):
        col, row = i % 2, i // 2
        left, bottom = 0.07 + 0.46 * col, 0.55 - 0.45 * row
        ax = fig.add_axes((left, bottom + 0.13, 0.4, 0.22))
        draw_overlay(
            ax, report.image, overlay_map(report.maps[title], report.geometry), options.cmap, options.opacity
        )
        mappable = ax.images[-1]
        ax.set_title(scrub_paths(title), fontsize=FONT + 1, parse_math=False)
        fig.text(
            left,
            bottom + 0.12,
            method_text(report, title, options),
            va="top",
            fontsize=FONT - 1,
            parse_math=False,
        )
    if mappable is not None:
        cax = fig.add_axes((0.25, 0.075, 0.5, 0.012))
        fig.colorbar(mappable, cax=cax, orientation="horizontal", label=COLOURBAR_LABEL)
    return fig


def build_pages(report: CaseReport, options: PrintOptions) -> list[Figure]:
    """Every page of the report, in order.

    Args:
        report: the case to print.
        options: paper, file name, trust lines, colour map and opacity.

    Returns:
        Figures of ``PAPERS[options.paper]`` size: the scan page, continuation pages for long text, then a
        page per :data:`MAPS_PER_PAGE` maps.
    """
    titles = list(report.maps)
    chunks = [titles[i : i + MAPS_PER_PAGE] for i in range(0, len(titles), MAPS_PER_PAGE)]
    first, *more = detail_chunks(report)
    total = 1 + len(more) + len(chunks)
    pages = [_first_page(report, options, first, total)]
    pages += [_text_page(options, lines, i + 2, total) for i, lines in enumerate(more)]
    start = 2 + len(more)
    pages += [_map_page(report, chunk, options, start + i, total) for i, chunk in enumerate(chunks)]
    return pages


def render_report_pdf(report: CaseReport, options: PrintOptions | None = None) -> bytes:
    """The case report as PDF bytes; the metadata repeats the disclaimer and the model fingerprint.

    Args:
        report: the case (scan, answer, maps, settings).
        options: file name, paper size, trust lines, time and colours (defaults: A4, now).

    Returns:
        A PDF of one or more pages of the chosen paper size.
    """
    options = options or PrintOptions()
    meta = {
        "Title": f"mri-explain case report ({report.prediction.predicted_label})",
        "Subject": DISCLAIMER,
        "Keywords": f"model fingerprint {report.fingerprint}; scan sha256 {report.scan_sha256}",
        "Creator": "mri-explain",
        "CreationDate": options.created or datetime.now(UTC),
    }
    buf = io.BytesIO()
    with PdfPages(buf, metadata=meta) as pdf:
        for fig in build_pages(report, options):
            pdf.savefig(fig)
    return buf.getvalue()
