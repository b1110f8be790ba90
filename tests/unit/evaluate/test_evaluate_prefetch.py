"""predict_paths decodes the next batch in a thread: a serial loop's probabilities, errors and bounds kept."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data.scan import ScanError, load_scan
from model.evaluate import run as evaluate
from model.evaluate.run import predict_paths, quantize_int8
from model.loading import with_sdpa_attention
from model.preprocess import preprocess_batch
from tests.phantoms import write_phantom_dataset

# SDPA and eager attention sum the same products in another order: ~1e-7 on the tiny ViT's probabilities;
# a wrong image order, crop or normalisation moves them by ~1e-2.
SDPA_ATOL = 1e-5
THREAD_PREFIX = "predict-paths-decode"


@pytest.fixture(scope="module")
def scan_files(tmp_path_factory) -> list[Path]:
    data = write_phantom_dataset(tmp_path_factory.mktemp("prefetch"), n_per_class=5, duplicates=0)
    return sorted(p for p in data.rglob("*") if p.is_file())


def serial_probabilities(classifier, paths: list[Path], batch_size: int) -> np.ndarray:
    """The reference: decode, preprocess and run each batch in turn with the eager model, no thread."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            images = [load_scan(p).image for p in paths[start : start + batch_size]]
            batch, _ = preprocess_batch(images, classifier.preprocess)
            out.append(classifier.model(pixel_values=batch).logits.softmax(-1).numpy())
    return np.concatenate(out)


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_probabilities_match_a_serial_loop(tiny_classifier, scan_files, batch_size):
    logits = predict_paths(tiny_classifier, scan_files, batch_size, progress=False)
    got = torch.from_numpy(logits).softmax(-1).numpy()
    want = serial_probabilities(tiny_classifier, scan_files, batch_size)
    assert got.shape == (len(scan_files), 2)
    np.testing.assert_allclose(got, want, atol=SDPA_ATOL, rtol=0)
    assert not decode_threads()


def test_a_corrupt_file_in_the_middle_is_named_and_stops_the_thread(tiny_classifier, scan_files, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    paths = [*scan_files[:5], bad, *scan_files[5:]]
    with pytest.raises(ScanError, match="broken.png"):
        predict_paths(tiny_classifier, paths, 2, progress=False)
    assert not decode_threads()


def test_decoding_runs_at_most_one_batch_ahead(tiny_classifier, scan_files, monkeypatch):
    reads, forwards, ahead = [], [], []
    real_read = evaluate._read_batch

    def counted_read(*args):
        reads.append(len(forwards))
        return real_read(*args)

    class CountedModel(torch.nn.Module):
        def forward(self, pixel_values):
            ahead.append(len(reads) - len(forwards))
            forwards.append(len(pixel_values))
            return tiny_classifier.model(pixel_values=pixel_values)

    monkeypatch.setattr(evaluate, "_read_batch", counted_read)
    monkeypatch.setattr(evaluate, "with_sdpa_attention", lambda m: CountedModel())
    predict_paths(tiny_classifier, scan_files, 3, progress=False)
    assert forwards == [3, 3, 3, 1] and max(ahead) <= 2  # the batch in hand and the next one, no more


def test_the_progress_bar_counts_every_image(tiny_classifier, scan_files, capsys):
    predict_paths(tiny_classifier, scan_files, 4, progress=True, desc="bar-check")
    err = capsys.readouterr().err
    assert "bar-check" in err and f"{len(scan_files)}/{len(scan_files)}" in err


def test_the_sdpa_copy_shares_the_weights_and_leaves_the_model_alone(tiny_classifier):
    model = tiny_classifier.model
    twin = with_sdpa_attention(model)
    assert twin is not model and twin.config._attn_implementation == "sdpa"
    assert model.config._attn_implementation == "eager" and not twin.training
    assert all(a is b for a, b in zip(model.parameters(), twin.parameters(), strict=True))
    int8 = quantize_int8(tiny_classifier).model  # dynamic int8 amplifies 1e-7 changes: kept on eager
    assert with_sdpa_attention(int8) is int8
