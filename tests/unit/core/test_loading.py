from __future__ import annotations

import json

import pytest
import torch

from model.labels import LabelMismatchError
from model.loading import ModelLoadError, build_classifier, flat_run_record, load_classifier, save_classifier
from model.preprocess import PreprocessConfig
from tests.conftest import make_tiny_vit


def test_round_trip_gives_identical_logits(tmp_path):
    model = make_tiny_vit(seed=3)
    save_classifier(model, PreprocessConfig(image_size=32), tmp_path, {"lr": 3e-4})
    loaded = load_classifier(tmp_path)
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(pixel_values=x).logits, loaded.model(pixel_values=x).logits)
    assert loaded.labels == ("no tumor", "tumor")
    assert loaded.model.config._attn_implementation == "eager"
    assert not loaded.model.training
    assert json.loads((tmp_path / "training_config.json").read_text()) == {"lr": 3e-4}


def test_run_records_read_flat_in_both_shapes():
    versioned = {"schema_version": 1, "config": {"arch": "tiny"}, "outcome": {"best_epoch": 3}}
    assert flat_run_record(versioned) == {"arch": "tiny", "best_epoch": 3}
    flat = {"arch": "tiny", "best_epoch": 3}
    assert flat_run_record(flat) is flat
    finetune = {**versioned, "recipe": "model.train.finetune"}
    assert flat_run_record(finetune) is finetune


def test_eager_attention_is_returned(tiny_classifier):
    out = tiny_classifier.model(pixel_values=torch.randn(1, 3, 32, 32), output_attentions=True)
    assert len(out.attentions) == 2
    assert out.attentions[0].shape == (1, 2, 17, 17)  # (B, heads, 1 + 4x4 patches, same)


def test_half_precision_save_is_smaller_and_close(tmp_path):
    model = make_tiny_vit(seed=1)
    save_classifier(model, PreprocessConfig(image_size=32), tmp_path / "full")
    save_classifier(model, PreprocessConfig(image_size=32), tmp_path / "half", half=True)
    full = (tmp_path / "full" / "model.safetensors").stat().st_size
    half = (tmp_path / "half" / "model.safetensors").stat().st_size
    assert half < 0.6 * full
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        a = load_classifier(tmp_path / "full").model(pixel_values=x).logits
        b = load_classifier(tmp_path / "half").model(pixel_values=x).logits
    assert torch.allclose(a, b, atol=1e-2)  # fp16 weights: ~3 significant digits


def test_fingerprint_tracks_weights(tmp_path):
    save_classifier(make_tiny_vit(seed=1), PreprocessConfig(image_size=32), tmp_path / "a")
    save_classifier(make_tiny_vit(seed=2), PreprocessConfig(image_size=32), tmp_path / "b")
    fa, fb = load_classifier(tmp_path / "a").fingerprint, load_classifier(tmp_path / "b").fingerprint
    assert fa != fb and len(fa) == 12
    assert load_classifier(tmp_path / "a").fingerprint == fa


def test_offline_hub_id_fails_with_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("model.loading._hub_reachable", lambda: False)
    with pytest.raises(ModelLoadError, match="local save_pretrained folder"):
        load_classifier("AMfeta99/vit-base-oxford-brain-tumor")


@pytest.mark.parametrize("source", ["runs/vit.v2", "EleutherAI/gpt-neo-1.3B"])
def test_an_owner_slash_name_that_is_no_folder_says_both_readings_failed(source, monkeypatch):
    """A mistyped local path reads as a hub id too; offline, the one sentence rules out both."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("model.loading._hub_reachable", lambda: False)
    with pytest.raises(ModelLoadError) as err:
        load_classifier(source)
    message = str(err.value)
    assert "no folder of that name exists" in message and "Hugging Face Hub" in message
    assert f"'{source}'" in message and "\n" not in message


def test_missing_folder_and_non_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_classifier(tmp_path / "nothing-here")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_classifier(tmp_path)


def test_label_mismatch_is_refused(tiny_model_dir):
    with pytest.raises(LabelMismatchError, match="expected"):
        load_classifier(tiny_model_dir, expected_labels=("glioma", "meningioma"))


def test_build_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Unknown architecture"):
        build_classifier("huge")
    with pytest.raises(ValueError, match="multiple"):
        build_classifier("tiny", image_size=30, patch_size=8)


def test_preprocessor_config_is_read_by_transformers(tmp_path):
    from transformers import AutoImageProcessor

    PreprocessConfig(image_size=48, crop_brain=True).save(tmp_path)
    proc = AutoImageProcessor.from_pretrained(tmp_path, backend="pil")
    assert proc.size["height"] == 48
    assert PreprocessConfig.load(tmp_path) == PreprocessConfig(image_size=48, crop_brain=True)
