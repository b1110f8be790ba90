from __future__ import annotations

import numpy as np
import pytest
import torch

from model.explain import gradient_rollout, quality, sanity
from model.explain.baselines import make_baseline
from model.explain.heatmap import Heatmap, heatmap_from_raw
from model.loading import weights_fingerprint
from model.preprocess import Geometry
from tests.conftest import make_tiny_vit
from tests.unit.explain_toys import key_patch_index, one_torch_thread, toy_batch, toy_vit

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

# The curves batch many images per forward pass, the reference below runs one: different kernel paths give
# float32 logits (of size ~5 on the toy) that differ by ~1e-6, i.e. probabilities by ~1e-6 relative; 1e-4
# leaves room for any CPU while a wrong baseline or order changes them by far more than 1 %.
BATCHED_PROB_RTOL = 1e-4


def _one_hot(index: int) -> np.ndarray:
    grid = np.zeros(16)
    grid[index] = 1.0
    return grid.reshape(4, 4)


def _random_map_not_topped_by_the_key(rng: np.random.Generator) -> np.ndarray:
    """A random patch-grid map whose top patch is not the key (a map topped by it matches the perfect one)."""
    grid = rng.random(16)
    while grid.argmax() == key_patch_index():
        grid = rng.random(16)
    return grid.reshape(4, 4)


def _model_without_default_weights():
    """The tiny ViT with every parameter moved off its initial value (seeded), so no re-init can match it."""
    model = make_tiny_vit(seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=g))
    return model


def _as_heatmap(raw: np.ndarray) -> Heatmap:
    return heatmap_from_raw(raw, grid="patch", method="test", target=1, input_size=(32, 32), params={})


def test_step_masks_take_patches_in_ranking_order():
    order = np.array([3, 0, 2, 1])
    masks = quality.step_masks(order, 2)
    np.testing.assert_array_equal(masks, [[0, 0, 0, 0], [1, 0, 0, 1], [1, 1, 1, 1]])
    ranking = quality.patch_ranking(np.array([[0.1, 0.5], [0.5, 0.0]]), 8)
    assert sorted(ranking) == [0, 1, 2, 3] and ranking[-1] == 3 and set(ranking[:2]) == {1, 2}


def test_curve_endpoints_are_the_scan_and_the_baselines():
    model = toy_vit()
    x, _ = toy_batch(2, seed=3)
    scan = x[1:2]
    curves = quality.deletion_insertion(model, scan, _one_hot(0), 1, n_steps=4)
    with torch.no_grad():
        probs = lambda t: model(pixel_values=t).logits.softmax(-1)[0, 1].item()  # noqa: E731
        p_scan = probs(scan)
        p_mean = probs(make_baseline(scan, quality.DELETION_BASELINE, 8))
        p_blur = probs(make_baseline(scan, quality.INSERTION_BASELINE, 8))
    np.testing.assert_allclose(curves.fractions, [0, 0.25, 0.5, 0.75, 1.0])
    assert curves.deletion[0] == pytest.approx(p_scan, rel=BATCHED_PROB_RTOL)
    assert curves.deletion[-1] == pytest.approx(p_mean, rel=BATCHED_PROB_RTOL)
    assert curves.insertion[0] == pytest.approx(p_blur, rel=BATCHED_PROB_RTOL)
    assert curves.insertion[-1] == pytest.approx(p_scan, rel=BATCHED_PROB_RTOL)
    assert 0 <= curves.deletion_auc <= 1 and 0 <= curves.insertion_auc <= 1


def test_perfect_map_deletes_faster_and_inserts_faster_than_random_maps():
    model = toy_vit()  # its decision rests on the key patch alone
    x, y = toy_batch(8, seed=21)
    rng = np.random.default_rng(0)
    for i in np.flatnonzero(y.numpy() == 1):
        scan = x[i : i + 1]
        perfect = quality.deletion_insertion(model, scan, _one_hot(key_patch_index()), 1, n_steps=16)
        randoms = [
            quality.deletion_insertion(model, scan, _random_map_not_topped_by_the_key(rng), 1, n_steps=16)
            for _ in range(4)
        ]
        assert perfect.deletion_auc < min(r.deletion_auc for r in randoms)
        assert perfect.insertion_auc > np.mean([r.insertion_auc for r in randoms])
        assert perfect.deletion[1] < 0.5  # removing the key patch alone flips the toy's decision


def test_randomised_copy_leaves_the_original_and_lower_blocks_alone():
    model = _model_without_default_weights()
    before = weights_fingerprint(model)
    top = sanity.randomised_copy(model, 1, seed=0)
    assert weights_fingerprint(model) == before
    assert not torch.equal(top.classifier.weight, model.classifier.weight)
    assert torch.equal(top.vit.layers[-1].mlp.fc1.weight, model.vit.layers[-1].mlp.fc1.weight)
    full = sanity.randomised_copy(model, len(sanity.cascade_blocks(model)), seed=0)
    changed = [not torch.equal(a, b) for a, b in zip(full.parameters(), model.parameters(), strict=True)]
    assert all(changed)  # LayerNorms reset to 1/0 and biases to 0 differ from the perturbed ones too
    again = sanity.randomised_copy(model, 2, seed=0)
    assert torch.equal(again.classifier.weight, top.classifier.weight)  # seeded


def test_rank_correlation_edge_cases():
    a = np.arange(16.0)
    assert sanity.rank_correlation(a, a**3) == pytest.approx(1.0)
    assert sanity.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert sanity.rank_correlation(np.zeros(16), np.zeros(16)) == 1.0
    assert sanity.rank_correlation(np.zeros(16), a) == 0.0


def test_sanity_check_fails_a_model_independent_map_and_passes_a_model_dependent_one():
    model = toy_vit()
    x, _ = toy_batch(2, seed=9)
    scan = x[1:2]
    fixed = np.random.default_rng(1).random((4, 4))

    def input_only(m, pixel_values, target, **params):  # depends on the scan, not on the weights
        return _as_heatmap(fixed + pixel_values[0].abs().mean(0).reshape(4, 8, 4, 8).mean((1, 3)).numpy())

    copies = sanity.randomised_models(model, seed=0)
    assert [label for label, _ in copies] == ["up to classifier", "up to layer 1", "up to embeddings"]
    failing = sanity.parameter_randomisation(input_only, model, scan, 1, copies=copies)
    assert failing.correlations == pytest.approx((1.0, 1.0, 1.0)) and not failing.passed
    passing = sanity.parameter_randomisation(gradient_rollout.explain, model, scan, 1, copies=copies)
    assert passing.passed and passing.final < sanity.SANITY_MAX_SPEARMAN

    calls = iter(range(100))

    def noise(m, pixel_values, target, **params):  # pure noise passes: the check is necessary, not sufficient
        return _as_heatmap(np.random.default_rng(next(calls)).random((4, 4)))

    assert sanity.parameter_randomisation(noise, model, scan, 1, copies=copies).passed


def test_pointing_game_and_mask_share_on_synthetic_masks():
    geom = Geometry(original_size=(50, 80), crop_box=(5, 10, 45, 70), input_size=(32, 32))
    heat = _as_heatmap(_one_hot(1 * 4 + 2))  # patch (1, 2) -> scan rows 15..24, cols 40..54
    mask = np.zeros((50, 80), bool)
    mask[16:24, 42:53] = True
    inside = quality.localisation(heat, geom, mask)
    assert inside.hit and inside.mask_share > 0.5
    assert inside.area_share == pytest.approx(mask.sum() / (40 * 60))
    assert inside.concentration > 10
    dilated_area = (8 + 2 * 3) * (11 + 2 * 3)  # the 8x11 mask grown by ~3.35 px (corners rounded off)
    assert 0.8 * dilated_area / 2400 < inside.chance < dilated_area / 2400
    tol = quality.pointing_tolerance_px(geom)
    assert tol == pytest.approx(15 / 224 * 50)
    far = np.zeros((50, 80), bool)
    far[35:45, 12:20] = True
    missed = quality.localisation(heat, geom, far)
    assert not missed.hit and missed.mask_share < 0.01
    r, c = inside.peak  # a small mask 3 px right of the peak is within the 3.3 px tolerance, 4 px is not
    near, beyond = np.zeros((50, 80), bool), np.zeros((50, 80), bool)
    near[r, c + 3 : c + 6] = True
    beyond[r, c + 4 : c + 7] = True
    assert quality.localisation(heat, geom, near).hit
    assert not quality.localisation(heat, geom, beyond).hit
    uniform = _as_heatmap(np.ones((4, 4)))
    assert quality.localisation(uniform, geom, mask).mask_share == pytest.approx(inside.area_share, rel=0.05)
    empty = _as_heatmap(np.zeros((4, 4)))
    assert not quality.localisation(empty, geom, mask).hit
    with pytest.raises(ValueError, match="wrong mask"):
        quality.localisation(heat, geom, mask[:40])
