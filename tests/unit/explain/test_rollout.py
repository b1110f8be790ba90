from __future__ import annotations

import numpy as np
import pytest
import torch

from model.explain import gradient_rollout as grad_rollout
from model.explain import rollout
from model.loading import build_classifier
from tests.conftest import TINY_VIT
from tests.unit.explain_toys import key_patch_index, one_torch_thread, toy_batch, toy_vit

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

# Rollout is computed in float64; the loop reference below too, so only rounding differences remain.
REFERENCE_TOL = 1e-10
# The hand-built toy ViT leaves ~1e-8 of the CLS token's gradient-weighted attention to patches other than
# the key patch (see tests/unit/explain_toys.py), so its share is 1 - 1e-8; 0.999 is far from any rounding.
KEY_SHARE_MIN = 0.999


def _random_attentions(layers=3, heads=2, tokens=17, seed=0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn((1, heads, tokens, tokens), generator=g).mul(3).softmax(-1) for _ in range(layers)
    )


def _slow_rollout(attentions, head_fusion, discard_ratio):
    """Plain-Python reference: fuse, discard per row, 0.5(A+I), renormalise, multiply."""
    joint = None
    for layer in attentions:
        a = layer[0].double().tolist()  # heads x T x T
        t = len(a[0])
        fuse = {"mean": lambda v: sum(v) / len(v), "max": max, "min": min}[head_fusion]
        fused = [[fuse([a[h][i][j] for h in range(len(a))]) for j in range(t)] for i in range(t)]
        k = int(discard_ratio * (t - 2))
        for i in range(t):
            candidates = sorted((fused[i][j], j) for j in range(t) if j not in (0, i))
            for _, j in candidates[:k]:
                fused[i][j] = 0.0
        step = [[0.5 * (fused[i][j] + (1.0 if i == j else 0.0)) for j in range(t)] for i in range(t)]
        step = [[v / sum(row) for v in row] for row in step]
        if joint is None:
            joint = step
        else:
            joint = [[sum(step[i][m] * joint[m][j] for m in range(t)) for j in range(t)] for i in range(t)]
    return np.array(joint)


def test_identity_attention_rolls_out_to_identity():
    eye = torch.eye(17).expand(1, 2, 17, 17)
    for matrix in rollout.rollout_matrices([eye, eye, eye]):
        torch.testing.assert_close(matrix, torch.eye(17, dtype=torch.float64))
    np.testing.assert_array_equal(rollout.attention_rollout([eye]), np.zeros((4, 4)))


@pytest.mark.parametrize("head_fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.5, 0.9])
def test_every_rollout_step_is_row_stochastic(head_fusion, discard_ratio):
    for layer in _random_attentions(seed=1):
        fused = rollout.fuse_heads(layer[0].double(), head_fusion)
        step = rollout.rollout_step(rollout.discard_lowest(fused, discard_ratio))
        assert (step >= 0).all()
        torch.testing.assert_close(step.sum(-1), torch.ones(17, dtype=torch.float64))
    for joint in rollout.rollout_matrices(_random_attentions(seed=2), head_fusion, discard_ratio):
        torch.testing.assert_close(joint.sum(-1), torch.ones(17, dtype=torch.float64))


@pytest.mark.parametrize("head_fusion,discard_ratio", [("mean", 0.0), ("max", 0.9), ("min", 0.5)])
def test_matches_slow_loop_reference(head_fusion, discard_ratio):
    att = _random_attentions(seed=3)
    expected = _slow_rollout(att, head_fusion, discard_ratio)
    got = rollout.rollout_matrices(att, head_fusion, discard_ratio)[-1].numpy()
    np.testing.assert_allclose(got, expected, atol=REFERENCE_TOL)
    grid = rollout.attention_rollout(att, (4, 4), head_fusion, discard_ratio)
    np.testing.assert_allclose(grid, expected[0, 1:].reshape(4, 4), atol=REFERENCE_TOL)


def test_discard_never_drops_cls_or_self_links():
    fused = torch.full((17, 17), 1e-3, dtype=torch.float64)  # CLS column and diagonal are the weakest
    out = rollout.discard_lowest(fused, 0.9)
    assert (out[:, 0] > 0).all() and (out.diagonal() > 0).all()
    assert int((out[5] == 0).sum()) == int(0.9 * 15)
    assert (fused == 1e-3).all()  # input not mutated


def test_inputs_are_not_mutated_and_per_layer_maps_build_up():
    att = _random_attentions(layers=2, seed=4)
    before = [a.clone() for a in att]
    layers = rollout.rollout_layers(att, (4, 4), "max", 0.5)
    assert len(layers) == 2
    np.testing.assert_allclose(layers[-1], rollout.attention_rollout(att, (4, 4), "max", 0.5))
    heads = rollout.cls_attention(att)
    assert heads.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(heads[1, 0], att[1][0, 0, 0, 1:].reshape(4, 4).numpy(), rtol=1e-6)
    for a, b in zip(att, before, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("image_size,patch_size", [(32, 8), (24, 4)])
def test_grid_shape_is_image_over_patch(image_size, patch_size):
    torch.manual_seed(0)
    cfg = {**TINY_VIT, "image_size": image_size, "patch_size": patch_size}
    model = build_classifier("tiny", **cfg)
    x = torch.randn(1, 3, image_size, image_size)
    x_before = x.clone()
    for module in (rollout, grad_rollout):
        h = module.explain(model, x, 1)
        assert h.values.shape == (image_size // patch_size,) * 2
        assert h.grid == "patch" and h.input_size == (image_size, image_size)
        assert h.values.sum() == pytest.approx(1.0, abs=1e-5)
    assert torch.equal(x, x_before)


def test_gradient_rollout_single_layer_hand_computed():
    g = torch.Generator().manual_seed(5)
    attn = torch.rand((1, 2, 5, 5), generator=g).softmax(-1)
    grad = torch.randn((1, 2, 5, 5), generator=g)
    expected = (grad[0] * attn[0]).clamp(min=0).mean(0)[0, 1:].double().numpy()  # R = I + Abar, CLS row
    got = grad_rollout.gradient_rollout([attn], [grad], (2, 2))
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-6)
    zero = grad_rollout.gradient_rollout([attn], [torch.zeros_like(grad)], (2, 2))
    np.testing.assert_array_equal(zero, np.zeros((2, 2)))  # no gradient -> identity -> no relevance


def test_gradient_rollout_is_class_specific_and_rollout_is_not(tiny_classifier):
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    m = tiny_classifier.model
    assert not np.allclose(grad_rollout.explain(m, x, 0).values, grad_rollout.explain(m, x, 1).values)
    np.testing.assert_array_equal(rollout.explain(m, x, 0).values, rollout.explain(m, x, 1).values)


def test_gradient_rollout_works_inside_inference_mode(tiny_classifier):
    x = torch.randn(1, 3, 32, 32)
    plain = grad_rollout.explain(tiny_classifier.model, x, 1)
    with torch.inference_mode():
        inside = grad_rollout.explain(tiny_classifier.model, x, 1)
    np.testing.assert_array_equal(plain.values, inside.values)


def test_gradient_rollout_lights_the_patch_the_toy_model_reads():
    model = toy_vit()
    x, y = toy_batch(16, seed=99)
    for i in map(int, np.flatnonzero(y.numpy() == 1)):  # 8 tumour-class toys
        tumour = grad_rollout.explain(model, x[i : i + 1], 1).values.ravel()
        assert tumour[key_patch_index()] >= KEY_SHARE_MIN
        # Class-specific: the key patch is evidence FOR "tumor", so "why no tumour" gives it nothing.
        no_tumour = grad_rollout.explain(model, x[i : i + 1], 0).values.ravel()
        assert no_tumour[key_patch_index()] <= 1 - KEY_SHARE_MIN
