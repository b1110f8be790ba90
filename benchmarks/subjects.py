"""What is measured: the models (ViT-Base-sized, bundled, tiny) and the scans fed to them.

Models are always written with :func:`model.loading.save_classifier` and read back with
:func:`model.loading.load_classifier`, so the benchmark measures the project's own loading path. Scans are
real files from the data folder when it exists (never copied anywhere), else generated phantoms.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from model.data.synthetic import phantom_image
from model.loading import Classifier, build_classifier, load_classifier, save_classifier
from model.preprocess import PreprocessConfig
from tests.tiny_vit import TINY_VIT  # the tiny test ViT: 32 px, 8 px patches (4x4 grid), 2 layers, 2 heads

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = REPO_ROOT / "artifacts" / "model"
ENV_DATA = "MRI_EXPLAIN_DATA"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "brain_tumor_dataset"
# Phantom scans are written at a typical size of the real data set (most scans are 200-600 px a side).
PHANTOM_SIDE = 256
SEED = 0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Subject:
    """One model under test.

    Attributes:
        name: table heading, e.g. ``"ViT-Base-sized (random init)"``.
        model_dir: its ``save_pretrained`` folder (what the dashboard and the pipeline load).
        classifier: the same folder loaded through :func:`model.loading.load_classifier`.
        origin: where the model comes from, for the table.
    """

    name: str
    model_dir: Path
    classifier: Classifier
    origin: str


def make_random_subject(work_dir: Path, tiny: bool) -> Subject:
    """Build, save and reload a randomly initialised ViT-Base (or the tiny test ViT when ``tiny``)."""
    torch.manual_seed(SEED)
    if tiny:
        model = build_classifier("tiny", **TINY_VIT)
        name, size, call = "tiny test ViT (random init)", TINY_VIT["image_size"], "tiny test overrides"
    else:
        model = build_classifier("base")
        name, size, call = "ViT-Base-sized (random init)", 224, "build_classifier('base')"
    out = save_classifier(model, PreprocessConfig(image_size=size), work_dir / "model", {"arch": name})
    origin = (
        f"{call}, seed {SEED}, {size} px; written with save_classifier to a temporary folder and read "
        "back with load_classifier"
    )
    return Subject(name, out, load_classifier(out), origin)


def bundled_subject(model_dir: Path = BUNDLED_MODEL) -> Subject | None:
    """The bundled trained model, or None when ``artifacts/model`` has not been produced yet."""
    if not (model_dir / "config.json").exists():
        return None
    shown = model_dir.relative_to(REPO_ROOT) if model_dir.is_relative_to(REPO_ROOT) else model_dir
    return Subject("bundled model (artifacts/model)", model_dir, load_classifier(model_dir), f"`{shown}`")


def data_root() -> Path | None:
    """The real data folder (``$MRI_EXPLAIN_DATA`` or ../shared/data/...), or None when absent."""
    root = Path(os.environ.get(ENV_DATA, "").strip() or DEFAULT_DATA)
    return root if (root / "yes").is_dir() and (root / "no").is_dir() else None


def real_scan_paths(root: Path, n: int) -> list[Path]:
    """``n`` real scans, alternating yes/no in sorted order (deterministic)."""
    per_class = [
        sorted(p for p in (root / c).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) for c in ("yes", "no")
    ]
    mixed = [p for pair in zip(*per_class, strict=False) for p in pair]
    return mixed[:n]


def phantom_scan_paths(work_dir: Path, n: int) -> list[Path]:
    """Write ``n`` phantom PNGs (half with a "tumour") to ``work_dir/scans`` and return their paths."""
    out = work_dir / "scans"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = out / f"phantom_{i:03d}.png"
        phantom_image(SEED + i, (PHANTOM_SIDE, PHANTOM_SIDE), tumour=i % 2 == 0).save(path)
        paths.append(path)
    return paths


def scan_paths(work_dir: Path, n: int, use_real: bool) -> tuple[list[Path], str]:
    """``n`` scan files and a description of where they come from (real data when asked and present)."""
    root = data_root() if use_real else None
    if root is not None:
        paths = real_scan_paths(root, n)
        if len(paths) == n:
            return paths, f"{n} real scans from {root.name}/ (first files of yes/ and no/, alternating)"
    return phantom_scan_paths(work_dir, n), f"{n} phantom scans (model.data.synthetic, {PHANTOM_SIDE} px)"
