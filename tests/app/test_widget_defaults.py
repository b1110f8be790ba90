"""Each control is created with the session's kept value, also after runs that stopped before drawing it.

The front end shows what the widget proto carries; when Streamlit does not send the kept value along (after a
run without the widget), a widget created with its own default shows that default beside maps drawn with
the kept value, and the next touch sends the shown values back (issue 13's flaky browser test). AppTest
reads values from the server's state, so these tests read the protos' defaults, which the browser shows.
"""

from __future__ import annotations

from model.explain.registry import EXPLAINERS

PAGE = "../pages/explain.py"
METHODS = ["attention_rollout", "gradient_rollout", "gradcam"]


def _drawn_defaults(at) -> tuple[list[str], float, str]:
    box = at.multiselect(key="explain.methods")
    options = list(EXPLAINERS)
    methods = [options[i] for i in box.proto.default]
    opacity = at.slider(key="explain.opacity").proto.default[0]
    cmap = at.selectbox(key="explain.cmap")
    return methods, round(opacity, 2), cmap.options[cmap.proto.default]


def test_controls_drawn_with_kept_values_after_removal_and_refusal(app_env, app_test, phantom_png):
    at = app_test(PAGE)
    upload = at.file_uploader(key="explain.upload")
    upload.set_value(("first.png", phantom_png(4), "image/png")).run()
    at.multiselect(key="explain.methods").set_value(METHODS).run()
    at.slider(key="explain.opacity").set_value(0.65).run()
    at.selectbox(key="explain.cmap").set_value("viridis").run()
    assert not at.exception
    assert _drawn_defaults(at) == (METHODS, 0.65, "viridis")
    for name, data in (("refused.png", b"not an image\n" * 4), ("second.png", phantom_png(6))):
        at.file_uploader(key="explain.upload").set_value(None).run()  # x: the page stops before the controls
        assert not at.multiselect  # not drawn in this run
        at.file_uploader(key="explain.upload").set_value((name, data, "image/png")).run()
    assert not at.exception
    assert _drawn_defaults(at) == (METHODS, 0.65, "viridis")


def test_threshold_drawn_with_its_kept_value_after_leaving_the_page(app_env, app_test):
    at = app_test("../pages/performance.py")
    at.slider(key="performance.threshold").set_value(0.55).run()
    for other in ("../pages/overview.py", "../pages/learn.py", "../pages/performance.py"):
        at.switch_page(other).run()
    assert not at.exception
    assert round(at.slider(key="performance.threshold").proto.default[0], 2) == 0.55
