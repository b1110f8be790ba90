from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from captum.attr import Saliency

from model.explain import gradcam, gradient_shap, integrated_gradients, occlusion, smoothgrad
from model.explain.baselines import make_baseline
from tests.unit.explain_toys import key_patch_index, one_torch_thread, toy_batch, toy_vit

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

# IG on the hand-built toy ViT in float64 refined to a 1e-6 delta target: its logit is a smooth function of
# the key patch's brightness along the path, so the target is met; 1e-4 leaves a wide margin for platform
# differences while still catching a wrong path or a missing (x - baseline) factor.
IG_COMPLETENESS_RTOL = 1e-4
# The hand-built toy ViT's logit depends on the key patch alone (other patches reach it through ~1e-9 of the
# attention), so a faithful map puts a share of 1 - 1e-8 there; 0.999 is far from any rounding effect.
KEY_SHARE_MIN = 0.999
# Linear models make every gradient method exact up to float32 rounding of sums over 3x32x32 terms.
LINEAR_RTOL = 1e-4


class LinearPixels(torch.nn.Module):
    """logits = sum(w_c * x): every attribution method has a closed form on it."""

    def __init__(self, seed: int = 0, size: int = 32, patch: int = 8):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.Parameter(torch.randn((2, 3, size, size), generator=g))
        self.config = SimpleNamespace(num_labels=2, patch_size=patch)

    def forward(self, pixel_values):
        return SimpleNamespace(logits=torch.einsum("bchw,kchw->bk", pixel_values, self.weight))


def _scan(seed: int = 0) -> torch.Tensor:
    return torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(seed))


def test_integrated_gradients_is_exact_on_a_linear_model():
    model, x = LinearPixels(), _scan()
    h = integrated_gradients.explain(model, x, 1, n_steps=4, sign="absolute")
    expected = (model.weight[1] * (x[0] - make_baseline(x, "min", 8)[0])).sum(0).detach().numpy()
    assert h.grid == "input" and h.values.shape == (32, 32)
    np.testing.assert_allclose(
        h.values, np.abs(expected) / np.abs(expected).sum(), rtol=LINEAR_RTOL, atol=1e-9
    )
    assert h.raw_stats["raw_sum"] == pytest.approx(expected.sum(), rel=LINEAR_RTOL)


def test_integrated_gradients_completeness_in_float64():
    model = copy.deepcopy(toy_vit()).double()
    x, _ = toy_batch(2, seed=5)
    h = integrated_gradients.explain(
        model, x[1:2], 1, n_steps=64, max_steps=1024, delta_target=1e-6, internal_batch_size=64
    )
    change = h.extras["logit"] - h.extras["baseline_logit"]
    assert abs(change) > 1.0  # the toy model's decision really changes along the path
    assert abs(h.extras["convergence_delta"]) < IG_COMPLETENESS_RTOL * abs(change)
    assert h.raw_stats["raw_sum"] == pytest.approx(change, rel=IG_COMPLETENESS_RTOL)


def test_gradient_shap_with_one_baseline_and_no_noise_equals_ig_on_a_linear_model():
    model, x = LinearPixels(seed=1), _scan(1)
    shap = gradient_shap.explain(model, x, 0, baselines="min", stdev=0.0, n_samples=3, sign="absolute")
    ig = integrated_gradients.explain(model, x, 0, sign="absolute")
    np.testing.assert_allclose(shap.values, ig.values, rtol=LINEAR_RTOL, atol=1e-9)
    assert shap.extras["expected_delta"] == pytest.approx(0.0, abs=1e-3)


def test_smoothgrad_is_gradient_magnitude_and_plain_saliency_without_noise(tiny_classifier):
    model, x = LinearPixels(seed=2), _scan(2)
    h = smoothgrad.explain(model, x, 1, n_samples=4)
    expected = model.weight[1].abs().sum(0).detach().numpy()
    np.testing.assert_allclose(h.values, expected / expected.sum(), rtol=LINEAR_RTOL)
    vit = tiny_classifier.model
    plain = smoothgrad.explain(vit, x, 1, n_samples=1, noise_level=0.0)
    ref = Saliency(lambda t: vit(pixel_values=t).logits).attribute(x.clone().requires_grad_(), target=1)
    ref = ref[0].sum(0).detach().numpy()
    np.testing.assert_allclose(plain.values, ref / ref.sum(), rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("module", [gradient_shap, smoothgrad])
def test_stochastic_methods_are_seeded_and_leave_the_global_rng_alone(module, tiny_classifier):
    x = _scan(3)
    state = torch.random.get_rng_state()
    a = module.explain(tiny_classifier.model, x, 1, seed=4)
    b = module.explain(tiny_classifier.model, x, 1, seed=4)
    c = module.explain(tiny_classifier.model, x, 1, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)


def test_occlusion_patch_windows_give_the_hand_computed_drop_per_patch():
    model, x = LinearPixels(seed=3), _scan(4)
    h = occlusion.explain(model, x, 0, stride=8)
    contrib = (model.weight[0] * (x[0] - make_baseline(x, "min", 8)[0])).detach()  # (3, 32, 32)
    drop = contrib.sum(0).reshape(4, 8, 4, 8).sum((1, 3)).double().numpy()  # logit drop per patch
    assert h.grid == "patch" and h.params["window"] == 8 and h.params["stride"] == 8
    expected = np.clip(drop, 0, None) / np.clip(drop, 0, None).sum()
    np.testing.assert_allclose(h.values, expected, rtol=LINEAR_RTOL, atol=1e-7)
    assert h.raw_stats["raw_sum"] == pytest.approx(drop.sum(), rel=LINEAR_RTOL)


def test_occlusion_with_overlapping_windows_is_on_the_input_grid(tiny_classifier):
    h = occlusion.explain(tiny_classifier.model, _scan(5), 1, window=8, stride=4)
    assert h.grid == "input" and h.values.shape == (32, 32)


# Occlusion with patch-aligned windows (its default): half-patch windows also hide parts of the key patch's
# neighbours, and give them part of the drop (see the next test).
@pytest.mark.parametrize(("module", "params"), [(occlusion, {"stride": 8}), (integrated_gradients, {})])
def test_methods_light_the_patch_the_toy_model_reads(module, params):
    model = toy_vit()
    x, y = toy_batch(16, seed=99)
    for i in map(int, np.flatnonzero(y.numpy() == 1)):  # 8 tumour-class toys
        tumour = module.explain(model, x[i : i + 1], 1, **params).on_patch_grid(8).ravel()
        assert tumour[key_patch_index()] >= KEY_SHARE_MIN
        # Class-specific: the bright key patch is evidence AGAINST "no tumor", so that map gives it nothing.
        no_tumour = module.explain(model, x[i : i + 1], 0, **params).on_patch_grid(8).ravel()
        assert no_tumour[key_patch_index()] <= 1 - KEY_SHARE_MIN


def test_sliding_occlusion_puts_the_most_on_the_key_patch_and_nothing_beyond_half_a_patch():
    model = toy_vit()
    x, y = toy_batch(16, seed=99)
    r, c = (8 * k for k in divmod(key_patch_index(), 4))
    for i in map(int, np.flatnonzero(y.numpy() == 1)):
        h = occlusion.explain(model, x[i : i + 1], 1, stride=4)  # 8 px windows at a 4 px stride
        assert int(np.argmax(h.on_patch_grid(8))) == key_patch_index()
        assert h.values[max(0, r - 4) : r + 12, max(0, c - 4) : c + 12].sum() >= KEY_SHARE_MIN


def test_gradcam_rerun_of_last_block_matches_model_and_hooked_gradient(tiny_classifier):
    model, x = tiny_classifier.model, _scan(6)
    acts, grads, logits = gradcam.token_gradients(model, x, 1)
    captured = {}
    handle = model.vit.layers[-1].layernorm_before.register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("out", out)
    )
    try:  # reference: the textbook hooked Grad-CAM gradient, on this test's own model only
        with torch.enable_grad():
            out = model(pixel_values=x.clone().requires_grad_())
            (ref_grad,) = torch.autograd.grad(out.logits[0, 1], captured["out"])
    finally:
        handle.remove()
    torch.testing.assert_close(acts, captured["out"].detach())
    torch.testing.assert_close(grads, ref_grad)
    torch.testing.assert_close(logits, out.logits.detach())
    assert grads[0, 1:].abs().sum() > 0  # patch tokens do get gradient at the last block's input
    h = gradcam.explain(model, x, 1)
    assert h.grid == "patch" and h.values.shape == (4, 4)
