"""The phantom's blob sits on a patch centre, not where four patches meet (issue 13, Learn)."""

from __future__ import annotations

import numpy as np
import pytest

from model.data.synthetic import phantom, phantom_image
from model.preprocess import PreprocessConfig, crop_and_resize

CENTRE_TOL_PX = 1.0  # bilinear resize and the blob's pixel raster move its centroid by under a pixel
BLOB_LEVEL = 200  # the blob is 230, the head at most 90 + 2 * 25


def _blob_centre(seed: int, size: tuple[int, int], image_size: int, grid: int) -> tuple[float, float]:
    image = phantom_image(seed, size, tumour=True, grid=grid)
    pixels, _ = crop_and_resize(image, PreprocessConfig(image_size))
    ys, xs = np.nonzero(pixels[..., 0] >= BLOB_LEVEL)
    return float(ys.mean()), float(xs.mean())


CASES = [(7, (224, 240), 224, 16), (3, (96, 112), 32, 4)]  # the Learn phantom on the bundled / tiny model


@pytest.mark.parametrize(("seed", "size", "image_size", "grid"), CASES)
def test_blob_is_centred_on_a_patch(seed, size, image_size, grid):
    patch = image_size / grid
    for centre in _blob_centre(seed, size, image_size, grid):
        nearest = patch * (np.floor((centre + 0.5) / patch) + 0.5) - 0.5  # the nearest patch centre
        offset = centre - nearest
        assert abs(offset) <= CENTRE_TOL_PX, (centre, patch)


def test_without_grid_the_phantom_is_unchanged():
    assert np.array_equal(phantom(7, (224, 240), True), phantom(7, (224, 240), True, grid=None))
    assert not np.array_equal(phantom(7, (224, 240), True), phantom(7, (224, 240), True, grid=16))
