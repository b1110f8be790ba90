from __future__ import annotations

from importlib import import_module

import numpy as np
import pytest

from model.explain.batch import SEEDED
from model.explain.explainer import Explainer, at_least_one, method_heatmap
from model.explain.registry import EXPLAINERS, METHOD_MODULES

# The page selectbox shows these labels in this order; a reorder is a visible change.
SELECTBOX_LABELS = [
    "Attention rollout",
    "Gradient-weighted rollout",
    "Grad-CAM (last block)",
    "Integrated Gradients",
    "GradientSHAP",
    "Saliency (SmoothGrad)",
    "Occlusion",
]


def test_registry_collects_each_modules_own_entry_in_selectbox_order():
    assert [e.label for e in EXPLAINERS.values()] == SELECTBOX_LABELS
    for module_name, entry in zip(METHOD_MODULES, EXPLAINERS.values(), strict=True):
        module = import_module(f"model.explain.{module_name}")
        assert entry is module.EXPLAINER and entry.explain is module.explain
        assert entry.name == module.NAME and dict(entry.defaults) == module.DEFAULTS


def test_entry_defaults_are_a_read_only_copy():
    defaults = {"n_samples": 2}
    entry = Explainer("toy", "Toy", lambda *a, **k: None, defaults, {"n_samples": "draws"}, "toy", "fast")
    defaults["n_samples"] = 3
    assert entry.defaults["n_samples"] == 2
    with pytest.raises(TypeError):
        entry.defaults["n_samples"] = 4
    with pytest.raises(ValueError, match="speed"):
        Explainer("toy", "Toy", lambda *a, **k: None, {}, {}, "toy", "instant")


def test_at_least_one_names_the_parameter():
    assert at_least_one({"n_samples": 3.0}, "n_samples") == 3
    with pytest.raises(ValueError, match="n_samples must be >= 1, got 0"):
        at_least_one({"n_samples": 0}, "n_samples")


def test_method_heatmap_applies_a_sign_parameter_and_records_the_input_size():
    raw = np.array([[3.0, -1.0], [0.0, -2.0]])
    positive = method_heatmap(raw, "toy", 1, {}, (8, 8), grid="patch", extras={"k": 1})
    absolute = method_heatmap(raw, "toy", 1, {"sign": "absolute"}, (8, 8), grid="patch")
    np.testing.assert_allclose(positive.values, [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(absolute.values, np.abs(raw) / 6.0, rtol=1e-6)
    assert positive.input_size == (8, 8) and positive.extras["k"] == 1
    assert positive.raw_stats["raw_min"] == -2.0


def test_the_batch_job_seeds_every_method_with_a_seed_parameter():
    assert SEEDED == ("gradient_shap", "smoothgrad")
