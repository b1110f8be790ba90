"""Shared fixtures: a tiny ViT saved to a temp folder, phantom images, and the real data location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.labels import LABELS
from model.loading import build_classifier, load_classifier, save_classifier
from model.preprocess import PreprocessConfig
from tests.tiny_vit import TINY_VIT  # the STYLE.md test model; tests import it from here too

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(
    os.environ.get("MRI_EXPLAIN_DATA", REPO_ROOT.parent / "shared" / "data" / "brain_tumor_dataset")
)
REAL_MASKS = REAL_DATA.parent / "brain_tumor_dataset_masks"


def make_tiny_vit(seed: int = 0, labels: tuple[str, ...] = LABELS):
    import torch

    torch.manual_seed(seed)
    return build_classifier("tiny", labels=labels, **TINY_VIT)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised ViT written with save_pretrained (as the real loader expects)."""
    out = tmp_path_factory.mktemp("tiny_vit")
    save_classifier(make_tiny_vit(), PreprocessConfig(image_size=32), out, {"arch": "tiny-test"})
    return out


@pytest.fixture
def tiny_classifier(tiny_model_dir):
    """The tiny ViT, loaded through model.loading.load_classifier."""
    return load_classifier(tiny_model_dir)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared 253-scan data set; tests using it skip cleanly where it is absent."""
    if not (REAL_DATA / "yes").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA} (set MRI_EXPLAIN_DATA)")
    return REAL_DATA


@pytest.fixture(scope="session")
def real_masks() -> Path:
    if not (REAL_MASKS / "masks.csv").exists():
        pytest.skip(f"tumour masks not found at {REAL_MASKS}")
    return REAL_MASKS
