"""AppTest of the Learn page: the walk-through's steps in order, the class switch, the slow methods on
request, and the button that opens the same on a real scan (issue 13, Teaching)."""

from __future__ import annotations

import pytest

from model.explain.lesson import GRADIENT_METHODS, STEPS, step_titles
from model.explain.registry import EXPLAINERS

PAGE = "../pages/learn.py"
WALK_THROUGH_IMAGES = (
    2 + 1 + 2 + (1 + len(GRADIENT_METHODS)) + 1
)  # scan + input, grid, heads + strip, maps, curves
ROLLOUT_AT, FIRST_GRADIENT_AT = 5, 6  # positions in the walk-through's images
AFTER_STEPS = ["All methods at a glance", "Now try it on a real scan"]


def _urls(at) -> list[str]:
    return [im.proto.imgs[0].url for im in at.main.get("image")]


def test_steps_in_lesson_order(app_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    assert [s.key for s in STEPS] == ["image", "patches", "attention", "rollout", "gradients", "perturbation"]
    assert [h.value for h in at.header] == step_titles() + AFTER_STEPS
    fast = [e for e in EXPLAINERS.values() if e.speed == "fast"]
    assert len(_urls(at)) == WALK_THROUGH_IMAGES + len(fast)
    assert len(at.info) == len(EXPLAINERS) - len(fast)
    assert [s.value for s in at.subheader] == [e.label for e in EXPLAINERS.values()]
    assert any("CLS token" in m.value and "tokens" in m.value for m in at.markdown)


def test_class_switch_changes_gradient_maps_not_rollout(app_env, app_test):
    at = app_test(PAGE)
    before = _urls(at)
    box = at.selectbox(key="learn.target")
    box.set_value(1 - box.value).run()
    assert not at.exception
    after = _urls(at)
    assert after[ROLLOUT_AT] == before[ROLLOUT_AT]  # rollout ignores the class
    assert after[FIRST_GRADIENT_AT] != before[FIRST_GRADIENT_AT]  # gradient-weighted rollout does not


def test_layer_slider_reruns(app_env, app_test):
    at = app_test(PAGE)
    slider = at.slider(key="learn.layer")
    assert slider.value == slider.max == 2  # the tiny test ViT has 2 layers; the slider starts at the last
    before = len(_urls(at))
    slider.set_value(1).run()
    assert not at.exception
    assert at.slider(key="learn.layer").value == 1 and len(_urls(at)) == before


def test_try_on_a_real_scan_opens_a_saved_case(app_env, app_test):
    at = app_test(PAGE)
    at.button(key="learn.try_real").click().run()
    assert not at.exception
    assert at.session_state["explain.case_path"]
    assert at.title[0].value == "Explain a scan"
    assert at.session_state["explain.source"] == "case"


def test_try_on_a_real_scan_without_data_opens_the_upload(no_data_env, app_test):
    at = app_test(PAGE)
    at.button(key="learn.try_real").click().run()
    assert not at.exception
    assert at.title[0].value == "Explain a scan" and at.session_state["explain.source"] == "upload"


@pytest.mark.slow
def test_slow_methods_on_request(app_env, app_test):
    at = app_test(PAGE)
    at.toggle(key="learn.slow").set_value(True).run()
    assert not at.exception
    assert len(_urls(at)) == WALK_THROUGH_IMAGES + len(EXPLAINERS) and not at.info
