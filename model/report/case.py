"""One-case report: the scan, the model's answer, the explanation maps and the settings.

This module holds what a report shows (:class:`CaseReport`) and its plain-words lines; the one-image PNG
snapshot is drawn by :mod:`model.figures.case` and the printable PDF by :mod:`model.report.pdf`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image

from model.explain.heatmap import Heatmap
from model.inference import Prediction
from model.notice import DISCLAIMER  # noqa: F401  re-exported: model.report.case.DISCLAIMER stays importable
from model.preprocess import Geometry
from model.report.text import model_label, scrub_paths


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
    maps: Mapping[str, Heatmap]
    fingerprint: str
    model_source: str
    scan_sha256: str
    settings: Mapping[str, str] = field(default_factory=dict)
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    warnings: Sequence[str] = ()


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


def case_text(report: CaseReport) -> str:
    """The text block of the one-image report: the answer, input warnings, settings, model and scan hash.

    Args:
        report: the case report.

    Returns:
        Newline-separated lines with every local absolute path scrubbed (a report leaves the machine).
    """
    lines = prediction_lines(report.prediction)
    lines += [f"Input warning: {w}" for w in report.warnings]
    lines += [f"{k}: {v}" for k, v in report.settings.items()]
    lines += [
        f"Model: {model_label(report.model_source, report.fingerprint)}",
        f"Scan sha256: {report.scan_sha256[:16]}…",
    ]
    return "\n".join(scrub_paths(x) for x in lines)
