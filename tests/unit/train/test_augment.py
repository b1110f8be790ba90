from __future__ import annotations

import dataclasses

import pytest
import torch

from model.train.augment import (
    apply_affine,
    augment_batch,
    gaussian_blur,
    mixup,
    photometric,
    random_affine,
    random_erase,
)
from model.train.config import AugmentConfig

# grid_sample at exact pixel centres still mixes in ~1e-6 of neighbours through float rounding of the grid.
RESAMPLE_TOL = 1e-4
# Every magnitude off: the starting point for configs that switch on one augmentation at a time.
NOTHING = AugmentConfig(
    min_crop_scale=1.0,
    max_aspect=1.0,
    max_rotation_deg=0.0,
    max_shift=0.0,
    hflip_p=0.0,
    vflip_p=0.0,
    brightness=0.0,
    contrast=0.0,
    gamma=0.0,
    blur_p=0.0,
    sharpen_p=0.0,
    noise_std=0.0,
    erase_p=0.0,
)


def _batch(seed: int = 0, b: int = 4, size: int = 24) -> torch.Tensor:
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shape_dtype_range_are_preserved_and_input_untouched():
    x = _batch(b=5, size=32)
    before = x.clone()
    y = augment_batch(x, AugmentConfig(strength=1.5, erase_p=0.5), _gen(1))
    assert y.shape == x.shape and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.equal(x, before)


def test_same_seed_same_output_other_seed_other_output():
    x = _batch()
    cfg = AugmentConfig(erase_p=0.5)
    a, b, c = (augment_batch(x, cfg, _gen(s)) for s in (7, 7, 8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_zero_strength_is_identity():
    x = _batch(size=28)
    y = augment_batch(x, AugmentConfig(strength=0.0, erase_p=1.0, blur_p=1.0, sharpen_p=1.0), _gen(3))
    assert torch.allclose(y, x, atol=RESAMPLE_TOL)


def test_certain_horizontal_flip_mirrors_columns():
    x = _batch()
    y = augment_batch(x, dataclasses.replace(NOTHING, hflip_p=1.0), _gen(0))
    assert torch.allclose(y, x.flip(-1), atol=RESAMPLE_TOL)


def test_crop_scale_bounds_the_sampled_area():
    cfg = dataclasses.replace(NOTHING, min_crop_scale=0.5, max_aspect=1.3, hflip_p=0.5)
    theta = random_affine(500, cfg, _gen(0))  # (n, 2, 3)
    area = torch.linalg.det(theta[:, :, :2]).abs()  # share of the image area that is sampled
    assert float(area.min()) >= 0.5 - 1e-5 and float(area.max()) <= 1.0 + 1e-5
    assert float(area.max() - area.min()) > 0.3  # the range is actually used


def test_rotation_preserves_the_sampled_area_and_changes_the_image():
    cfg = dataclasses.replace(NOTHING, max_rotation_deg=30.0)
    theta = random_affine(50, cfg, _gen(0))
    assert torch.allclose(torch.linalg.det(theta[:, :, :2]), torch.ones(50), atol=1e-5)
    x = _batch(b=50)
    assert not torch.allclose(apply_affine(x, theta), x, atol=0.05)


def test_blur_with_zero_sigma_is_identity_and_keeps_constant_images():
    x = _batch()
    assert torch.allclose(gaussian_blur(x, torch.zeros(4)), x, atol=1e-6)
    flat = torch.full((2, 3, 10, 10), 0.3)
    assert torch.allclose(gaussian_blur(flat, torch.tensor([0.5, 1.0])), flat, atol=1e-6)
    blurred = gaussian_blur(x, torch.ones(4))
    assert float(blurred.var()) < float(x.var())  # a low-pass filter removes variance


def test_brightness_alone_shifts_each_image_uniformly():
    x = 0.4 + 0.2 * _batch()  # in [0.4, 0.6]: a shift of at most 0.1 never clips
    y = photometric(x, dataclasses.replace(NOTHING, brightness=0.1), _gen(5))
    shift = (y - x).flatten(1)  # (B, pixels)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)
    assert float(shift.abs().max()) <= 0.1 + 1e-6


def test_random_erase_fills_one_bounded_rectangle_with_the_mean():
    x = _batch(b=6, size=20)
    cfg = dataclasses.replace(NOTHING, erase_p=1.0, max_erase_area=0.25)
    y = random_erase(x, cfg, _gen(2))
    for i in range(6):
        changed = (y[i] != x[i]).any(dim=0)  # (H, W)
        assert int(changed.sum()) <= 0.25 * 20 * 20 + 2 * 20  # rounding of each side adds at most a line
        if changed.any():
            rows, cols = changed.nonzero(as_tuple=True)
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert int(changed.sum()) <= int(box)
            assert torch.allclose(y[i][:, changed], x[i].mean().expand(3, int(changed.sum())))


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="batch"):
        augment_batch(torch.rand(3, 8, 8), AugmentConfig(), _gen(0))
    with pytest.raises(ValueError, match="strength"):
        AugmentConfig(strength=-1.0)
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(hflip_p=1.5)


def test_mixup_blends_images_and_targets_with_the_same_weight():
    x, labels = _batch(b=6), torch.tensor([0, 1, 0, 1, 1, 0])
    mixed, targets = mixup(x, labels, 1.0, 2, _gen(4))
    assert mixed.shape == x.shape and targets.shape == (6, 2)
    assert torch.allclose(targets.sum(dim=1), torch.ones(6))
    g = _gen(4)  # replay the draws: partner order, then the per-image weights
    partner = torch.randperm(6, generator=g)
    torch.rand(6, generator=g)  # the "is this image mixed" draw
    lam = torch.rand(6, generator=g)
    w = lam.view(6, 1, 1, 1)
    assert torch.allclose(mixed, w * x + (1 - w) * x[partner], atol=1e-6)
    expected = lam * (labels == 1) + (1 - lam) * (labels[partner] == 1)
    assert torch.allclose(targets[:, 1], expected.float(), atol=1e-6)


def test_mixup_with_zero_share_changes_nothing():
    x, labels = _batch(), torch.tensor([1, 0, 1, 1])
    mixed, targets = mixup(x, labels, 0.0, 2, _gen(0))
    assert torch.equal(mixed, x)
    assert torch.equal(targets, torch.nn.functional.one_hot(labels, 2).float())
