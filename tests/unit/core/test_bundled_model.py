"""The embedded default model: the shape the brief asks for, fp16 on disk and fp32 in memory."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from model.loading import load_classifier

BUNDLED = Path(__file__).resolve().parents[3] / "artifacts" / "model"
MAX_WEIGHT_BYTES = 50 * 1024 * 1024  # what git may hold for the default model


def test_bundled_model_is_a_224_px_vit_with_a_fine_patch_grid():
    clf = load_classifier(BUNDLED)
    assert clf.preprocess.image_size == 224
    rows, cols = clf.patch_grid
    assert rows >= 14 and cols >= 14
    assert clf.labels == ("no tumor", "tumor")
    assert all(p.dtype == torch.float32 for p in clf.model.parameters())


def test_bundled_weights_are_fp16_on_disk_and_under_the_size_limit():
    path = BUNDLED / "model.safetensors"
    assert path.stat().st_size <= MAX_WEIGHT_BYTES
    stored = load_file(path)
    assert {t.dtype for t in stored.values()} == {torch.float16}


def test_bundled_model_records_how_it_was_made():
    record = json.loads((BUNDLED / "training_config.json").read_text())
    assert record["schema_version"] == 1 and record["recipe"] == "model.train.finetune"
    assert 1 <= record["outcome"]["best_epoch"] <= record["config"]["epochs"]
    assert record["outcome"]["n_train"] == sum(record["outcome"]["n_train_by_source_label"].values())
