"""One-case report: the scan, the model's answer, the explanation maps and the settings.

Everything is drawn with matplotlib's object-oriented API (no pyplot state). This module draws the one-image
PNG snapshot and the pieces that the printable PDF (:mod:`model.report.pdf`, A4 or Letter pages) reuses. No
local absolute path is drawn (:func:`model.report.text.scrub_paths`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray
from PIL import Image

from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM
from model.explain.single import MapRecord
from model.inference import Prediction
from model.notice import DISCLAIMER  # re-exported: model.report.case.DISCLAIMER stays importable
from model.preprocess import Geometry
from model.report.text import model_label, scrub_paths

COLOURBAR_LABEL = "relevance (× uniform: 1 = an average patch)"
PNG_DPI = 110
OUTLINE_COLOUR = "#00e5ff"  # cyan: visible on every offered colour map and on grey scans


@dataclass(frozen=True)
class CaseReport:
    """Everything a case report shows.

    Attributes:
        image: the decoded scan (RGB).
        prediction: the model's answer (calibrated probabilities, TTA spread).
        geometry: how the model input maps onto ``image``.
        maps: method title -> map record, in display order.
        scores: method title -> {"deletion": area, "insertion": area} where computed.
        settings: shown verbatim (class explained, colour map, opacity, ...).
        fingerprint: model weights fingerprint.
        model_source: folder or hub id of the model.
        scan_sha256: sha256 of the scan file's bytes.
        warnings: input-quality warnings, one line each.
    """

    image: Image.Image
    prediction: Prediction
    geometry: Geometry
    maps: Mapping[str, MapRecord]
    fingerprint: str
    model_source: str
    scan_sha256: str
    settings: Mapping[str, str] = field(default_factory=dict)
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    warnings: Sequence[str] = ()


def draw_overlay(
    ax: Axes,
    image: Image.Image,
    heat: NDArray[np.floating] | np.ma.MaskedArray | None,
    cmap: str = "inferno",
    opacity: float = 0.5,
    vmax: float = DISPLAY_MAX_X_UNIFORM,
    outline: NDArray[np.bool_] | None = None,
) -> None:
    """Draw a scan with an optional heatmap on it, on the shared colour scale.

    Args:
        ax: target axes.
        image: scan (any PIL mode; drawn as RGB).
        heat: (H, W) map in "× uniform" units on the scan's pixels (``Heatmap.on_original``), or None.
        cmap: matplotlib colour-map name.
        opacity: heatmap opacity in [0, 1].
        vmax: colour-bar top; the same for every method (see ``model.explain.heatmap``).
        outline: (H, W) bool tumour mask on the scan's pixels; its edge is drawn as a dashed line.
    """
    ax.imshow(np.asarray(image.convert("RGB")))
    if heat is not None:
        ax.imshow(heat, cmap=cmap, alpha=float(opacity), vmin=0.0, vmax=vmax, interpolation="bilinear")
    if outline is not None and outline.shape == (image.height, image.width) and outline.any():
        ax.contour(
            outline.astype(np.float32),
            levels=[0.5],
            colors=OUTLINE_COLOUR,
            linewidths=1.0,
            linestyles="dashed",
        )
    ax.set_axis_off()


def overlay_map(record: MapRecord, geometry: Geometry) -> np.ma.MaskedArray:
    """A map in "× uniform" units on the scan's pixels, masked (transparent) outside the region the model saw.

    Returns:
        (H, W) float32 masked array.
    """
    heat = record.heatmap().on_original(geometry)
    top, left, bottom, right = geometry.crop_box
    outside = np.ones(heat.shape, dtype=bool)
    outside[top:bottom, left:right] = False
    return np.ma.masked_array(heat, mask=outside)


def prediction_lines(prediction: Prediction) -> list[str]:
    """Plain-words lines describing a prediction (used by the report and the app)."""
    pos = prediction.labels[prediction.positive_index]
    lines = [
        f"Predicted: {prediction.predicted_label}",
        f"P({pos}) = {prediction.p_positive:.1%} (calibrated, T = {prediction.temperature:.2f}); "
        f"raw {float(prediction.probs_raw[prediction.positive_index]):.1%}",
    ]
    if len(prediction.tta_positive) > 1:
        lines.append(
            f"Test-time augmentation: P({pos}) = {prediction.tta_mean:.1%} ± {prediction.tta_std:.1%} "
            f"over {len(prediction.tta_positive)} views"
        )
    return lines


def faithfulness_text(score: Mapping[str, float]) -> str:
    """ "deletion 0.12 ↓ · insertion 0.56 ↑": areas under the curves; arrows point to the better direction."""
    return f"deletion {score['deletion']:.2f} ↓ · insertion {score['insertion']:.2f} ↑"


def _text_block(report: CaseReport) -> str:
    lines = prediction_lines(report.prediction)
    lines += [f"Input warning: {w}" for w in report.warnings]
    lines += [f"{k}: {v}" for k, v in report.settings.items()]
    lines += [
        f"Model: {model_label(report.model_source, report.fingerprint)}",
        f"Scan sha256: {report.scan_sha256[:16]}…",
    ]
    return "\n".join(scrub_paths(x) for x in lines)  # a report leaves the machine: no local paths


def build_case_figure(report: CaseReport, cmap: str = "inferno", opacity: float = 0.5) -> Figure:
    """Lay out a case report on one page: scan + text on top, maps side by side with one colour bar below.

    Returns:
        A matplotlib Figure (not attached to pyplot).
    """
    n = max(1, len(report.maps))
    fig = Figure(figsize=(max(8.0, 2.6 * n + 1.0), 7.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.1))
    ax_scan, ax_text = top.subplots(1, 2, width_ratios=(1.0, 1.6))
    draw_overlay(ax_scan, report.image, None)
    ax_scan.set_title("Scan")
    ax_text.set_axis_off()
    text = _text_block(report)  # quotes the model source: "$" there is text, not mathtext
    ax_text.text(0.0, 1.0, text, va="top", ha="left", fontsize=8.5, wrap=True, parse_math=False)
    axes = np.atleast_1d(bottom.subplots(1, n))
    mappable = None
    for ax, (title, record) in zip(axes, report.maps.items(), strict=False):
        draw_overlay(ax, report.image, overlay_map(record, report.geometry), cmap, opacity)
        mappable = ax.images[-1]
        score = report.scores.get(title)
        extra = f"\n{faithfulness_text(score)}" if score else ""
        ax.set_title(f"{title}{extra}", fontsize=9)
    if mappable is not None:
        bottom.colorbar(mappable, ax=list(axes), shrink=0.8, label=COLOURBAR_LABEL)
    fig.suptitle(DISCLAIMER, fontsize=10, color="#9a1b1b")
    return fig


def render_png(report: CaseReport, cmap: str = "inferno", opacity: float = 0.5) -> bytes:
    """The case report as PNG bytes."""
    fig = build_case_figure(report, cmap, opacity)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI)
    return buf.getvalue()
