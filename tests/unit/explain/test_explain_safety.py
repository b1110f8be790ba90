from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from transformers.models.vit import modeling_vit

from model.explain.registry import EXPLAINERS, Explainer, get_explainer, safe_explain
from model.explain.state import ModelStateError, foreign_hooks, snapshot
from tests.unit.explain_toys import one_torch_thread, toy_batch

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

# Cheap settings so every method runs in well under a second on the tiny ViT.
FAST_PARAMS = {
    "integrated_gradients": {"n_steps": 4},
    "gradient_shap": {"n_samples": 4},
    "smoothgrad": {"n_samples": 3},
}


def _assert_clean(model, config_before: str) -> None:
    assert foreign_hooks(model) == []
    assert not any(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert model.config.to_json_string(use_diff=False) == config_before


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
def test_no_hooks_grads_train_mode_or_config_change_left_behind(name, tiny_classifier):
    model = tiny_classifier.model
    config = model.config.to_json_string(use_diff=False)
    x = torch.randn(1, 3, 32, 32)
    x_before = x.clone()
    h = safe_explain(name, model, x, 1, **FAST_PARAMS.get(name, {}))
    assert h.method == name and h.target == 1 and h.values.sum() == pytest.approx(1.0, abs=1e-4)
    assert set(h.params) == set(EXPLAINERS[name].defaults)
    assert torch.equal(x, x_before)
    _assert_clean(model, config)


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
def test_state_is_clean_after_a_forced_failure_mid_explanation(name, tiny_classifier, monkeypatch):
    model = tiny_classifier.model
    config = model.config.to_json_string(use_diff=False)
    original = modeling_vit.ViTMLP.forward
    calls = {"n": 0}

    def failing_forward(self, hidden_states):
        calls["n"] += 1
        if calls["n"] > 1:  # let the first block run, then fail inside the network
            raise RuntimeError("forced failure")
        return original(self, hidden_states)

    monkeypatch.setattr(modeling_vit.ViTMLP, "forward", failing_forward)
    with pytest.raises(RuntimeError, match="forced failure"):
        safe_explain(name, model, torch.randn(1, 3, 32, 32), 0, **FAST_PARAMS.get(name, {}))
    _assert_clean(model, config)


def _leaky(kind: str) -> Explainer:
    def explain(model, pixel_values, target, **params):
        if kind == "hook":
            model.vit.layers[0].register_forward_hook(lambda *a: None)
        elif kind == "grad":
            model.classifier.weight.grad = torch.zeros_like(model.classifier.weight)
        elif kind == "train":
            model.train()
        elif kind == "config":
            model.config.output_attentions = True
        return get_explainer("attention_rollout").explain(model, pixel_values, target)

    return Explainer(f"leaky_{kind}", "Leaky", explain, {}, {}, "test double", "fast")


@pytest.mark.parametrize("kind", ["hook", "grad", "train", "config"])
def test_safe_explain_catches_a_method_that_leaks_state(kind, monkeypatch):
    from tests.conftest import make_tiny_vit

    model = make_tiny_vit(seed=2)  # a private model: this test damages it on purpose
    leaky = _leaky(kind)
    monkeypatch.setitem(EXPLAINERS, leaky.name, leaky)
    with pytest.raises(ModelStateError, match="changed the shared model"):
        safe_explain(leaky.name, model, torch.randn(1, 3, 32, 32), 1)


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
def test_methods_work_inside_the_callers_inference_mode(name, tiny_classifier):
    x = torch.randn(1, 3, 32, 32)
    plain = safe_explain(name, tiny_classifier.model, x, 1, **FAST_PARAMS.get(name, {}))
    with torch.inference_mode():
        frozen = x.clone()  # an inference tensor, as a caller's preprocessing would make it
        inside = safe_explain(name, tiny_classifier.model, frozen, 1, **FAST_PARAMS.get(name, {}))
    np.testing.assert_allclose(inside.values, plain.values, rtol=1e-5, atol=1e-8)


def test_transformers_capture_hooks_are_not_counted_as_leaks(tiny_classifier):
    model = tiny_classifier.model
    model(pixel_values=torch.randn(1, 3, 32, 32), output_attentions=True)  # installs transformers' own hooks
    assert any(m._forward_hooks for m in model.modules())
    assert foreign_hooks(model) == []


def test_concurrent_explanations_equal_serial_ones(tiny_classifier):
    model = tiny_classifier.model
    x, _ = toy_batch(4, seed=11)
    jobs = [(name, i) for name in sorted(EXPLAINERS) for i in range(4)]

    def run(job):
        name, i = job
        return safe_explain(name, model, x[i : i + 1], i % 2, **FAST_PARAMS.get(name, {})).values

    serial = [run(job) for job in jobs]
    before = snapshot(model)
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(run, reversed(jobs)))[::-1]
    assert snapshot(model) == before
    for job, a, b in zip(jobs, serial, concurrent, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8, err_msg=str(job))


def test_bad_inputs_raise_errors_that_name_the_fix(tiny_classifier):
    model = tiny_classifier.model
    with pytest.raises(ValueError, match="0..1"):
        safe_explain("gradcam", model, torch.randn(1, 3, 32, 32), 2)
    with pytest.raises(ValueError, match=r"pixel_values\[None\]"):
        safe_explain("gradcam", model, torch.randn(3, 32, 32), 0)
    with pytest.raises(ValueError, match="valid"):
        safe_explain("integrated_gradients", model, torch.randn(1, 3, 32, 32), 0, steps=4)
    with pytest.raises(KeyError, match="choose one of"):
        get_explainer("lime")


def test_registry_entries_describe_themselves():
    for name, e in EXPLAINERS.items():
        assert e.name == name and e.label and e.description and e.reference
        assert e.speed in ("fast", "slow")
        assert set(e.param_help) == set(e.defaults)
    assert [n for n, e in EXPLAINERS.items() if not e.class_specific] == ["attention_rollout"]
