"""The embedded default model: the shape the brief asks for, a small fp16 delta in git, fp32 in memory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from model.bundle import RECIPE_FILE, TOP_FILE, WEIGHTS_FILE, assemble_weights, tensor_digest
from model.loading import load_classifier

BUNDLED = Path(__file__).resolve().parents[3] / "artifacts" / "model"
MAX_WEIGHT_BYTES = 5 * 1024 * 1024  # what git may hold of the default model's weights


def test_bundled_model_is_a_224_px_vit_with_a_fine_patch_grid():
    clf = load_classifier(BUNDLED)
    assert clf.preprocess.image_size == 224
    rows, cols = clf.patch_grid
    assert rows >= 14 and cols >= 14
    assert clf.labels == ("no tumor", "tumor")
    assert all(p.dtype == torch.float32 for p in clf.model.parameters())


def test_git_holds_only_the_fine_tuned_tensors_in_fp16_under_the_size_limit():
    path = BUNDLED / TOP_FILE
    assert path.stat().st_size <= MAX_WEIGHT_BYTES
    stored = load_file(path)
    assert {t.dtype for t in stored.values()} == {torch.float16}
    recipe = json.loads((BUNDLED / RECIPE_FILE).read_text())
    assert sorted(stored) == recipe["top_tensors"] and len(stored) < recipe["n_tensors"]


def test_the_weights_in_use_are_the_recorded_ones():
    load_classifier(BUNDLED)  # rebuilds them on a fresh checkout
    recipe = json.loads((BUNDLED / RECIPE_FILE).read_text())
    assert tensor_digest(load_file(BUNDLED / WEIGHTS_FILE)) == recipe["sha256"]  # no stale delta in git


def test_a_fresh_checkout_rebuilds_exactly_the_recorded_weights_from_the_wheel(tmp_path):
    fresh = tmp_path / "model"
    shutil.copytree(BUNDLED, fresh, ignore=shutil.ignore_patterns(WEIGHTS_FILE))
    recipe = json.loads((fresh / RECIPE_FILE).read_text())
    rebuilt = load_file(assemble_weights(fresh))
    assert tensor_digest(rebuilt) == recipe["sha256"]
    assert load_classifier(fresh).fingerprint == load_classifier(BUNDLED).fingerprint


def test_bundled_model_records_how_it_was_made():
    record = json.loads((BUNDLED / "training_config.json").read_text())
    assert record["schema_version"] == 1 and record["recipe"] == "model.train.finetune"
    assert 1 <= record["outcome"]["best_epoch"] <= record["config"]["epochs"]
    assert record["outcome"]["n_train"] == sum(record["outcome"]["n_train_by_source_label"].values())
