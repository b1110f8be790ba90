"""AppTest of the Learn page: one picture per fast method, the layer slider, the slow methods on request."""

from __future__ import annotations

import pytest

from model.explain.registry import EXPLAINERS

PAGE = "../pages/learn.py"
LAYER_FIGURES = 2  # per-head figure + rollout strip


def _images(at) -> int:
    return len(at.main.get("image"))


def test_learn_shows_fast_methods_and_layer_figures(app_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    fast = [e for e in EXPLAINERS.values() if e.speed == "fast"]
    assert _images(at) == len(fast) + LAYER_FIGURES
    assert len(at.info) == len(EXPLAINERS) - len(fast)
    subheaders = [s.value for s in at.subheader]
    assert subheaders == [e.label for e in EXPLAINERS.values()]


def test_layer_slider_reruns(app_env, app_test):
    at = app_test(PAGE)
    slider = at.slider(key="learn.layer")
    assert slider.value == slider.max == 2  # the tiny test ViT has 2 layers; the slider starts at the last
    before = _images(at)
    slider.set_value(1).run()
    assert not at.exception
    assert at.slider(key="learn.layer").value == 1 and _images(at) == before


@pytest.mark.slow
def test_slow_methods_on_request(app_env, app_test):
    at = app_test(PAGE)
    at.toggle(key="learn.slow").set_value(True).run()
    assert not at.exception
    assert _images(at) == len(EXPLAINERS) + LAYER_FIGURES and not at.info
