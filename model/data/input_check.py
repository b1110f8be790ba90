"""Input-quality check: does an uploaded scan look like the scans the model was trained on?

A few cheap image statistics (shape, size, black border, colour, brightness, contrast, intensity histogram)
are compared with ranges measured on the training split, saved beside the model as ``input_reference.json``.
A statistic outside its range gives a plain-words warning. Passing the check does not make a prediction
right; failing it means the model was never shown anything like this image. Without the reference file
the check is disabled and says so.

CLI (writes the reference into the model folder)::

    python -m model.data.input_check --data DIR --manifest artifacts/split_manifest.csv --model
    artifacts/model
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from tqdm import tqdm

from model.cli import ConfigCli, raise_as, run_cli
from model.errors import MriExplainError
from model.io import write_json

REFERENCE_FILE = "input_reference.json"
SCHEMA_VERSION = 1
HIST_BINS = 32
# Ranges are the 1st..99th percentiles of the training images, widened by this share of their width on each
# side: ~200 training scans give noisy extreme percentiles, and a warning on a normal scan costs trust.
RANGE_QUANTILES = (0.01, 0.99)
RANGE_MARGIN = 0.15
# Smallest widening per feature, in its own units, for features the training set happens to hold constant:
# e.g. all-grey training scans would otherwise flag the invisible chroma noise of a re-saved colour JPEG.
MIN_PAD: dict[str, float] = {
    "aspect_ratio": 0.05,
    "colour_saturation": 0.02,
    "dark_fraction": 0.05,
    "head_brightness": 0.05,
    "head_contrast": 0.03,
    "histogram_distance": 0.05,
}
# Larger scans are only downsampled, so size is checked from below only.
LOWER_BOUND_ONLY = frozenset({"short_side_px"})
# A pixel is "dark border" below this share of the 99th percentile (as model.preprocess.CROP_THRESHOLD).
DARK_LEVEL = 0.12
FEATURES: dict[str, str] = {
    "aspect_ratio": "shape (width / height)",
    "short_side_px": "size (shorter side in pixels)",
    "dark_fraction": "share of black background",
    "colour_saturation": "colour (MRIs are greyscale)",
    "head_brightness": "brightness inside the head",
    "head_contrast": "contrast inside the head",
    "histogram_distance": "intensity histogram",
}


class InputReferenceError(MriExplainError, ValueError):
    """The reference file is unreadable or of another schema; the message names the command to rebuild it."""


@dataclass(frozen=True)
class InputReference:
    """Reference ranges measured on training images.

    Attributes:
        ranges: feature name -> (low, high) accepted range (already widened by :data:`RANGE_MARGIN`).
        histogram: (HIST_BINS,) mean normalised grey histogram of the training images.
        n_images: how many images the ranges come from.
        source: a description of those images (e.g. the manifest and split).
    """

    ranges: dict[str, tuple[float, float]]
    histogram: tuple[float, ...]
    n_images: int
    source: str


@dataclass(frozen=True)
class QualityReport:
    """The outcome of :func:`check_input_quality`.

    Attributes:
        checked: False when no reference was available (the check is disabled; see ``note``).
        flags: one plain-words warning per statistic out of range (empty = looks like the training data).
        features: the measured statistics.
        note: what was compared with what.
    """

    checked: bool
    flags: tuple[str, ...] = ()
    features: dict[str, float] = field(default_factory=dict)
    note: str = ""


def grey_histogram(grey: NDArray[np.uint8]) -> NDArray[np.float64]:
    """(HIST_BINS,) histogram of an (H, W) uint8 image, summing to 1."""
    hist = np.bincount((grey.ravel() // (256 // HIST_BINS)).astype(np.int64), minlength=HIST_BINS)
    return hist / max(1, hist.sum())


def image_features(image: Image.Image, histogram: NDArray[np.floating] | None = None) -> dict[str, float]:
    """Measure the statistics in :data:`FEATURES` on a decoded RGB scan.

    Args:
        image: PIL image (converted to RGB).
        histogram: (HIST_BINS,) reference histogram; without it ``histogram_distance`` is 0.

    Returns:
        feature name -> value; fractions and distances in [0, 1]; brightness/contrast on the [0, 1] scale.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)  # (H, W, 3)
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    h, w = grey.shape
    dark = grey <= DARK_LEVEL * max(1.0, float(np.percentile(grey, 99)))
    head = grey[~dark].astype(np.float32) / 255.0 if (~dark).any() else np.zeros(1, np.float32)
    distance = 0.0 if histogram is None else 0.5 * float(np.abs(grey_histogram(grey) - histogram).sum())
    return {
        "aspect_ratio": w / h,
        "short_side_px": float(min(h, w)),
        "dark_fraction": float(dark.mean()),
        "colour_saturation": float((rgb.max(axis=2) - rgb.min(axis=2)).mean() / 255.0),
        "head_brightness": float(head.mean()),
        "head_contrast": float(head.std()),
        "histogram_distance": distance,
    }


def build_input_reference(images: Iterable[Image.Image], source: str) -> InputReference:
    """Measure reference ranges on training images.

    Args:
        images: the training split's decoded scans (at least 2).
        source: description stored with the ranges.

    Returns:
        The reference ranges.

    Raises:
        InputReferenceError: fewer than 2 images (also a ``ValueError``).
    """
    images = list(images)
    if len(images) < 2:
        raise InputReferenceError(f"need at least 2 training images to build a reference, got {len(images)}.")
    mean_hist = np.mean([grey_histogram(np.asarray(im.convert("L"))) for im in images], axis=0)
    rows = [image_features(im, mean_hist) for im in images]
    ranges = {}
    for name in FEATURES:
        values = np.array([r[name] for r in rows])
        low, high = np.quantile(values, RANGE_QUANTILES)
        pad = max(RANGE_MARGIN * (high - low), MIN_PAD.get(name, 0.0))
        ranges[name] = (float(low - pad), float(high + pad))
    ranges["histogram_distance"] = (0.0, ranges["histogram_distance"][1])
    return InputReference(ranges, tuple(float(x) for x in mean_hist), len(images), source)


def save_input_reference(reference: InputReference, model_dir: str | Path) -> Path:
    """Write ``input_reference.json`` into a model folder and return its path.

    Args:
        reference: the ranges and mean histogram from :func:`build_input_reference`.
        model_dir: the model folder (created if missing).

    Returns:
        Path of the written ``input_reference.json`` (written atomically by :func:`model.io.write_json`).
    """
    path = Path(model_dir) / REFERENCE_FILE
    payload = {
        "schema_version": SCHEMA_VERSION,
        "n_images": reference.n_images,
        "source": reference.source,
        "ranges": {k: list(v) for k, v in reference.ranges.items()},
        "histogram": list(reference.histogram),
    }
    return write_json(path, payload)


def load_input_reference(model_dir: str | Path) -> InputReference | None:
    """Read ``input_reference.json`` from a model folder; None when the folder or file is absent (hub ids).

    Raises:
        InputReferenceError: the file exists but is malformed or has another schema version.
    """
    path = Path(model_dir) / REFERENCE_FILE
    if not path.is_file():
        return None
    fix = (
        f"Rebuild it with `python -m model.data.input_check --model {model_dir} --data DIR --manifest FILE`."
    )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputReferenceError(f"{path} is not valid JSON ({err}). {fix}") from err
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise InputReferenceError(f"{path} has schema_version {version}, expected {SCHEMA_VERSION}. {fix}")
    try:
        ranges = {k: (float(raw["ranges"][k][0]), float(raw["ranges"][k][1])) for k in FEATURES}
        hist = tuple(float(x) for x in raw["histogram"])
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise InputReferenceError(f"{path} is malformed (missing or bad {err}). {fix}") from err
    if len(hist) != HIST_BINS:
        raise InputReferenceError(f"{path} has a {len(hist)}-bin histogram, expected {HIST_BINS}. {fix}")
    return InputReference(ranges, hist, int(raw.get("n_images", 0)), str(raw.get("source", "")))


def check_input_quality(image: Image.Image, reference: InputReference | None) -> QualityReport:
    """Compare a scan's statistics with the training reference.

    Args:
        image: decoded scan.
        reference: from :func:`load_input_reference`; None disables the check.

    Returns:
        A :class:`QualityReport`; ``flags`` lists each statistic outside its training range.
    """
    if reference is None:
        return QualityReport(
            False,
            note="Input-quality check disabled: the model folder has no "
            f"{REFERENCE_FILE} (build it with `python -m model.data.input_check`).",
        )
    feats = image_features(image, np.asarray(reference.histogram))
    flags = []
    for name, what in FEATURES.items():
        low, high = reference.ranges[name]
        if name in LOWER_BOUND_ONLY:
            high = float("inf")
        if not low <= feats[name] <= high:
            accepted = f"at least {low:.3g}" if high == float("inf") else f"{max(low, 0.0):.3g}–{high:.3g}"
            flags.append(f"{what} is {feats[name]:.3g}, outside the training scans' range ({accepted})")
    note = f"Compared with {reference.n_images} training scans ({reference.source})."
    return QualityReport(True, tuple(flags), feats, note)


def _train_images(data: Path, manifest: Path, split: str) -> Iterable[Image.Image]:
    from model.data.scan import load_scan
    from model.data.split import read_manifest

    rows = read_manifest(manifest)
    for rel in tqdm(list(rows.loc[rows["split"] == split, "path"]), desc=f"measuring {split} scans"):
        yield load_scan(data / rel).image


@dataclass(frozen=True, kw_only=True)
class InputCheckConfig:
    """``python -m model.data.input_check``: the split to measure and where to save it."""

    data: Path = field(metadata={"help": "data root (holds yes/ and no/)"})
    manifest: Path = field(metadata={"help": "split manifest CSV (model.data split)"})
    model: Path = field(metadata={"help": "model folder to write input_reference.json to"})
    split: str = field(default="train", metadata={"help": "split to measure (default: train)"})


def main(argv: list[str] | None = None) -> int:
    """CLI entry: build the reference from a manifest's training split and save it in the model folder."""
    args = parse_args(argv)
    if not args.model.is_dir() or not args.data.is_dir():
        raise InputReferenceError(f"--model {args.model} and --data {args.data} must be existing folders.")
    with raise_as(InputReferenceError, FileNotFoundError):
        ref = build_input_reference(
            _train_images(args.data, args.manifest, args.split), f"{args.split} split of {args.manifest.name}"
        )
    print(f"wrote {save_input_reference(ref, args.model)} from {ref.n_images} scans")
    return 0


CLI = ConfigCli(InputCheckConfig, "python -m model.data.input_check", main.__doc__)
cli_parser, parse_args = CLI.parser, CLI.parse

if __name__ == "__main__":
    run_cli(main)
