"""model.overlay: maps composited as arrays at display size agree with the full-resolution drawing path."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from model import overlay
from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM, Heatmap
from model.preprocess import Geometry


def _record(seed: int = 0, grid: tuple[int, int] = (14, 14)) -> Heatmap:
    values = np.random.default_rng(seed).random(grid).astype(np.float32)
    return Heatmap(values / values.sum(), "patch", "gradcam", 1, (224, 224))


def _scan(h: int, w: int) -> Image.Image:
    grey = np.random.default_rng(1).integers(0, 256, (h, w), dtype=np.uint8)
    return Image.fromarray(grey).convert("RGB")


@pytest.mark.parametrize(("size", "expected"), [((300, 200), (300, 200)), ((4000, 8000), (256, 512))])
def test_display_size_never_upscales_and_keeps_the_aspect(size, expected):
    assert overlay.display_size(size) == expected


def test_display_heat_at_full_size_is_the_report_map_inside_the_crop():
    geom = Geometry(original_size=(180, 240), crop_box=(10, 20, 170, 220), input_size=(224, 224))
    record = _record()
    heat = overlay.display_heat(record, geom, geom.original_size)
    reference = record.on_original(geom)  # what the matplotlib path draws
    top, left, bottom, right = geom.crop_box
    np.testing.assert_allclose(heat[top:bottom, left:right], reference[top:bottom, left:right], rtol=1e-6)
    outside = np.ones(geom.original_size, bool)
    outside[top:bottom, left:right] = False
    assert np.isnan(heat[outside]).all() and not np.isnan(heat[~outside]).any()


def test_composite_blends_inside_the_crop_and_leaves_the_rest():
    scan = np.asarray(_scan(64, 80))
    heat = np.full((64, 80), np.nan, np.float32)
    heat[8:56, 10:70] = np.linspace(0, 2 * DISPLAY_MAX_X_UNIFORM, 60, dtype=np.float32)  # beyond the top too
    np.testing.assert_array_equal(overlay.composite(scan, heat, "inferno", 0.0), scan)
    full = overlay.composite(scan, heat, "viridis", 1.0)
    np.testing.assert_array_equal(full[:8], scan[:8])  # outside the crop box: the scan itself
    top = matplotlib.colormaps["viridis"](1.0, bytes=True)[:3]
    np.testing.assert_array_equal(full[30, 69], top)  # clipped at the scale's top colour
    half = overlay.composite(scan, heat, "viridis", 0.5).astype(int)
    mix = (scan[30, 10].astype(float) + np.array(matplotlib.colormaps["viridis"](0.0, bytes=True)[:3])) / 2
    assert np.abs(half[30, 10] - mix).max() <= 1


def test_outline_edge_is_a_dashed_border_of_the_mask():
    mask = np.zeros((400, 400), bool)
    mask[100:300, 100:300] = True
    edge = overlay.outline_edge(mask, (200, 200))
    ys, xs = np.nonzero(edge)
    assert ys.min() >= 50 and ys.max() <= 149 and xs.min() >= 50 and xs.max() <= 149
    assert not edge[60:140, 60:140].any()  # nothing inside: only the border
    border = 4 * 99
    assert 0.35 * border < edge.sum() < 0.65 * border  # dashes: about half of the border is painted


def test_display_scan_is_reduced_once_to_display_size():
    big = _scan(1200, 2400)
    small = overlay.display_scan(big)
    assert small.shape == (256, 512, 3) and small.dtype == np.uint8
    assert abs(float(small.mean()) - float(np.asarray(big).mean())) < 1.0  # box filter keeps the mean
    same = _scan(100, 120)
    np.testing.assert_array_equal(overlay.display_scan(same), np.asarray(same))
