from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from model.data.synthetic import phantom, phantom_image
from model.preprocess import (
    PreprocessConfig,
    brain_crop_box,
    preprocess,
    preprocess_batch,
    to_original,
)


def test_crop_box_finds_the_head_inside_black_borders():
    img = np.zeros((100, 160), np.uint8)
    img[20:70, 40:120] = 120  # the "head"
    top, left, bottom, right = brain_crop_box(img)
    # margin is 4% of the box on each side
    assert (top, left, bottom, right) == (18, 37, 72, 123)


def test_crop_ignores_a_thin_text_line_and_blank_images():
    img = np.zeros((100, 100), np.uint8)
    img[30:80, 30:80] = 100
    img[95, 0:3] = 255  # a few bright pixels of "annotation" in a corner
    top, left, bottom, right = brain_crop_box(img)
    assert bottom < 95 and left > 0
    assert brain_crop_box(np.zeros((50, 60), np.uint8)) == (0, 0, 50, 60)


def test_preprocess_shape_range_and_geometry():
    cfg = PreprocessConfig(image_size=64, crop_brain=True)
    x, geom = preprocess(phantom_image(0, size=(90, 130)), cfg)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0  # mean=std=0.5 maps [0,1] to [-1,1]
    assert geom.original_size == (90, 130) and geom.input_size == (64, 64)
    top, left, bottom, right = geom.crop_box
    assert 0 <= top < bottom <= 90 and 0 <= left < right <= 130


def test_no_crop_keeps_the_whole_image():
    cfg = PreprocessConfig(image_size=32, crop_brain=False)
    _, geom = preprocess(phantom_image(1, size=(40, 50)), cfg)
    assert geom.crop_box == (0, 0, 40, 50)


def test_greyscale_and_rgb_inputs_agree():
    grey = Image.fromarray(phantom(3, size=(64, 64)))
    cfg = PreprocessConfig(image_size=32)
    a, _ = preprocess(grey, cfg)
    b, _ = preprocess(grey.convert("RGB"), cfg)
    assert torch.equal(a, b)


def test_batch_matches_single():
    cfg = PreprocessConfig(image_size=32)
    imgs = [phantom_image(s, size=(40 + s, 50)) for s in range(3)]
    batch, geoms = preprocess_batch(imgs, cfg)
    for i, im in enumerate(imgs):
        x, g = preprocess(im, cfg)
        assert torch.equal(batch[i], x) and geoms[i] == g


@pytest.mark.parametrize("size", [(90, 130), (150, 70)])
def test_known_patch_lands_on_the_right_pixels_of_a_non_square_scan(size):
    cfg = PreprocessConfig(image_size=32, crop_brain=True)
    _, geom = preprocess(phantom_image(5, size=size), cfg)
    grid = np.zeros((4, 4), np.float32)
    grid[1, 2] = 1.0  # patch row 1, column 2 of a 4x4 grid
    out = to_original(grid, geom, smooth=False)
    assert out.shape == size
    top, left, bottom, right = geom.crop_box
    ys, xs = np.nonzero(out)
    ph, pw = (bottom - top) / 4, (right - left) / 4
    # the lit pixels are exactly the patch's quarter of the crop box (to within one pixel of rounding)
    assert abs(ys.min() - (top + 1 * ph)) <= 1 and abs(ys.max() + 1 - (top + 2 * ph)) <= 1
    assert abs(xs.min() - (left + 2 * pw)) <= 1 and abs(xs.max() + 1 - (left + 3 * pw)) <= 1
    assert out[:top].sum() == 0 and out[bottom:].sum() == 0  # nothing outside the crop box


def test_input_is_not_mutated():
    img = phantom_image(6)
    before = np.asarray(img).copy()
    preprocess(img, PreprocessConfig(image_size=32))
    assert np.array_equal(np.asarray(img), before)
