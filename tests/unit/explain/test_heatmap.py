from __future__ import annotations

import pickle

import numpy as np
import pytest

from model.explain.heatmap import Heatmap, heatmap_from_raw, raw_statistics, relevance_shares
from model.preprocess import Geometry


def _patch_map(hot: tuple[int, int], grid=(4, 4), input_size=(32, 32)) -> Heatmap:
    raw = np.zeros(grid)
    raw[hot] = 3.0
    return heatmap_from_raw(raw, grid="patch", method="test", target=1, input_size=input_size, params={})


def test_shares_are_positive_part_normalised_to_one():
    raw = np.array([[2.0, -1.0], [1.0, 1.0]])
    shares = relevance_shares(raw)
    np.testing.assert_allclose(shares, [[0.5, 0.0], [0.25, 0.25]])
    np.testing.assert_allclose(relevance_shares(raw, "absolute"), np.abs(raw) / 5.0, rtol=1e-6)
    stats = raw_statistics(raw)
    assert stats == {
        "raw_sum": 3.0,
        "raw_positive_sum": 4.0,
        "raw_negative_sum": -1.0,
        "raw_min": -1.0,
        "raw_max": 2.0,
    }


def test_no_positive_evidence_gives_an_empty_map_not_a_fake_hot_spot():
    h = heatmap_from_raw(-np.ones((4, 4)), grid="patch", method="t", target=0, input_size=(32, 32), params={})
    assert h.is_empty and h.values.sum() == 0
    assert h.raw_stats["raw_sum"] == -16


def test_relative_display_is_grid_independent():
    h = _patch_map((1, 2))
    assert h.relative()[1, 2] == pytest.approx(16.0)  # all relevance in 1 of 16 cells = 16x uniform
    fine = Heatmap(h.on_input_grid(), "input", "t", 1, (32, 32))
    assert fine.values.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fine.relative()[8:16, 16:24], 16.0, rtol=1e-5)
    np.testing.assert_allclose(fine.on_patch_grid(8), h.values, atol=1e-6)


def test_values_are_read_only_and_validated():
    h = _patch_map((0, 0))
    with pytest.raises(ValueError):
        h.values[0, 0] = 0.5
    with pytest.raises(ValueError, match="sum to 1"):
        Heatmap(np.full((4, 4), 0.5, np.float32), "patch", "t", 0, (32, 32))
    with pytest.raises(ValueError, match="nonnegative"):
        Heatmap(-np.eye(4, dtype=np.float32), "patch", "t", 0, (32, 32))
    with pytest.raises(ValueError, match="grid"):
        Heatmap(np.eye(4, dtype=np.float32) / 4, "cells", "t", 0, (32, 32))


def test_known_patch_lands_on_the_right_pixels_of_a_non_square_scan():
    # Original 50x80 scan; the model saw rows 5..44 and columns 10..69 (a 40x60 crop) resized to 32x32.
    geom = Geometry(original_size=(50, 80), crop_box=(5, 10, 45, 70), input_size=(32, 32))
    on_scan = _patch_map((1, 2)).on_original(geom, smooth=False)
    assert on_scan.shape == (50, 80)
    # Patch row 1 of 4 covers crop rows 10..19 -> scan rows 15..24; patch col 2 covers crop cols 30..44
    # -> scan cols 40..54.
    hot = np.argwhere(on_scan > 0)
    assert hot[:, 0].min() == 15 and hot[:, 0].max() == 24
    assert hot[:, 1].min() == 40 and hot[:, 1].max() == 54
    np.testing.assert_allclose(on_scan[15:25, 40:55], 16.0)
    assert on_scan[:5].sum() == 0 and on_scan[:, :10].sum() == 0  # outside the crop box


def test_geometry_for_another_input_size_is_rejected():
    geom = Geometry(original_size=(50, 80), crop_box=(0, 0, 50, 80), input_size=(224, 224))
    with pytest.raises(ValueError, match="Geometry"):
        _patch_map((0, 0)).on_original(geom)


def test_heatmaps_survive_pickling_for_caches():
    h = heatmap_from_raw(
        np.arange(16.0).reshape(4, 4),
        grid="patch",
        method="m",
        target=1,
        input_size=(32, 32),
        params={"n_steps": 4},
        extras={"convergence_delta": 0.1},
    )
    back = pickle.loads(pickle.dumps(h))
    np.testing.assert_array_equal(back.values, h.values)
    assert (back.method, back.target, back.grid, back.input_size) == ("m", 1, "patch", (32, 32))
    assert dict(back.params) == {"n_steps": 4} and back.extras["convergence_delta"] == 0.1
    np.testing.assert_array_equal(back.extras["signed"], h.extras["signed"])  # the signed view's map
    assert dict(back.raw_stats) == dict(h.raw_stats)
