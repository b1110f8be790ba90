"""The Learn walk-through's data and computations (model.explain.lesson) and its fixed-size rollout strip."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.data.scan import load_scan
from model.explain import lesson
from model.figures import learn
from model.preprocess import Geometry

SAVE_DPI = 100


def test_steps_go_image_patches_attention_rollout_gradients_perturbation():
    assert [s.key for s in lesson.STEPS] == [
        "image",
        "patches",
        "attention",
        "rollout",
        "gradients",
        "perturbation",
    ]
    assert lesson.step_titles()[0].startswith("1. ") and lesson.step_titles()[-1].startswith("6. ")


def test_patch_layout_finds_the_blob_in_the_middle_of_a_patch(tiny_classifier):
    rows, cols = tiny_classifier.patch_grid
    _, data = lesson.lesson_phantom(rows)
    image = load_scan(data).image
    layout, pixels, geom = lesson.patch_layout(tiny_classifier, image)
    assert (layout.rows, layout.cols, layout.tokens) == (rows, cols, rows * cols + 1)
    assert pixels.shape == (layout.input_size, layout.input_size, 3)
    assert len(layout.row_edges) == rows + 1 and len(layout.col_edges) == cols + 1
    gray = np.asarray(image.convert("L"), float)
    ys, xs = np.nonzero(gray >= 200)  # the blob (230) in scan pixels
    r, c = layout.brightest
    centre_y = (layout.row_edges[r] + layout.row_edges[r + 1]) / 2
    centre_x = (layout.col_edges[c] + layout.col_edges[c + 1]) / 2
    assert abs(ys.mean() - centre_y) <= 1.0 and abs(xs.mean() - centre_x) <= 1.0
    assert geom.crop_box[0] <= ys.min() and ys.max() < geom.crop_box[2]


def test_random_map_is_a_fixed_share_map():
    a, b = lesson.random_map(4, 4, 1, 32), lesson.random_map(4, 4, 1, 32)
    assert np.array_equal(a.values, b.values) and a.values.shape == (4, 4)
    assert a.values.sum() == pytest.approx(1.0, abs=1e-6) and a.target == 1


@pytest.mark.parametrize("n", [1, 2, 6, 12])
def test_rollout_strip_has_a_fixed_size_per_panel(n):
    width, height = learn.strip_size(n)
    cols = min(n, learn.STRIP_MAX_COLUMNS)
    assert width / cols == pytest.approx(learn.STRIP_PANEL_IN[0])
    assert learn.strip_width_px(1) < 300  # one panel is never drawn ~750 px wide
    image = Image.new("RGB", (40, 36), 80)
    rollouts = np.full((n, 4, 4), 1 / 16, np.float32)
    fig = learn.build_rollout_strip(image, rollouts, Geometry((36, 40), (0, 0, 36, 40), (32, 32)), n)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=SAVE_DPI)
    assert Image.open(buf).size == (round(width * SAVE_DPI), round(height * SAVE_DPI))


def test_perturbation_reading_names_the_verdict():
    assert "both curves" in lesson.perturbation_reading((0.2, 0.8), (0.5, 0.5))
    assert "deletion only" in lesson.perturbation_reading((0.2, 0.4), (0.5, 0.5))
    assert "no better" in lesson.perturbation_reading((0.6, 0.4), (0.5, 0.5))
