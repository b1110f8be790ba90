"""model.explain.single: picklable map records, faithfulness of a map on its scan, per-layer attention."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from model.data.synthetic import phantom_image
from model.explain.heatmap import Heatmap
from model.explain.single import explain_image, layer_maps, score_faithfulness
from model.inference import first_look, predict

# The same forward pass run twice is bitwise-equal on CPU up to float32 noise.
MAP_TOL = 1e-6
# Heatmap shares sum to 1 within float32 accumulation (model.explain.heatmap.SUM_TOLERANCE).
SUM_TOL = 1e-3


@pytest.fixture
def scan():
    return phantom_image(11, (96, 112), tumour=True)


def test_explain_image_maps_pickle_whole(tiny_classifier, scan):
    heat = explain_image(tiny_classifier, scan, "gradcam", 1)
    again = pickle.loads(pickle.dumps(heat))
    assert isinstance(again, Heatmap) and again.method == "gradcam" and again.target == 1
    np.testing.assert_array_equal(again.values, heat.values)
    assert not again.values.flags.writeable
    assert dict(again.raw_stats) == dict(heat.raw_stats) and set(heat.raw_stats) >= {"raw_sum", "raw_max"}
    assert dict(again.params) == dict(heat.params)
    np.testing.assert_array_equal(again.extras["signed"], heat.extras["signed"])
    assert again.is_empty or again.values.sum() == pytest.approx(1.0, abs=SUM_TOL)
    assert not tiny_classifier.model.training
    assert all(p.grad is None for p in tiny_classifier.model.parameters())


def test_faithfulness_tracks_the_explained_class(tiny_classifier, scan):
    record = explain_image(tiny_classifier, scan, "attention_rollout", 0)
    curves = score_faithfulness(tiny_classifier, scan, record)
    assert curves.target == 0
    assert 0.0 <= curves.deletion_auc <= 1.0 and 0.0 <= curves.insertion_auc <= 1.0
    p, _ = predict(tiny_classifier, scan, tta=False)
    assert curves.deletion[0] == pytest.approx(float(p.probs_raw[0]), abs=1e-5)


def test_layer_maps_end_with_the_full_rollout(tiny_classifier, scan):
    maps = layer_maps(tiny_classifier, scan)
    layers = tiny_classifier.model.config.num_hidden_layers
    heads = tiny_classifier.model.config.num_attention_heads
    assert maps.heads.shape == (layers, heads, *tiny_classifier.patch_grid)
    assert maps.rollout.shape == (layers, *tiny_classifier.patch_grid)
    look = first_look(tiny_classifier, scan)
    shares = maps.rollout[-1] / maps.rollout[-1].sum()
    np.testing.assert_allclose(shares, look.rollout.values, atol=MAP_TOL)
    assert (maps.heads >= 0).all() and (maps.heads.sum(axis=(2, 3)) <= 1 + 1e-6).all()
