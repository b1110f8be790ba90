"""AppTest of the Explain page: upload -> prediction + one map per method; bad upload; cases; hand-over."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model.data.input_check import FEATURES
from model.explain.registry import EXPLAINERS

PAGE = "../pages/explain.py"


def _upload(at, data: bytes, name: str = "scan.png"):
    at.file_uploader(key="explain.upload").set_value((name, data, "image/png"))
    return at.run()


def _n_maps(at) -> int:
    """Map figures in the main area: every image except the scan itself and the shared colour bar."""
    return len(at.main.get("image")) - 2


def test_upload_shows_prediction_and_one_map_per_default_method(app_env, app_test, phantom_png):
    at = _upload(app_test(PAGE), phantom_png())
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Prediction"].split(" (")[0] in ("tumor", "no tumor", "borderline", "unreliable")
    assert labels["P(tumor)"].endswith("%")
    assert _n_maps(at) == len(at.multiselect(key="explain.methods").value) == 2
    # a phantom matches the phantom-built input reference: no input warning (the tiny model's ~50 % answer
    # may be marked borderline, which is the unsure band's warning, not the input check's)
    assert not [w for w in at.warning if "input check" in w.value]


@pytest.mark.slow
def test_switching_methods_reruns_with_one_map_each(app_env, app_test, phantom_png):
    at = _upload(app_test(PAGE), phantom_png())
    for methods in (["gradcam"], ["attention_rollout", "occlusion", "integrated_gradients"]):
        at.multiselect(key="explain.methods").set_value(methods).run()
        assert not at.exception
        assert _n_maps(at) == len(methods)
        titles = [EXPLAINERS[m].label for m in methods]
        assert at.multiselect(key="explain.methods").value == methods, titles


def test_target_and_faithfulness_scores(app_env, app_test, phantom_png):
    at = _upload(app_test(PAGE), phantom_png())
    predicted = at.selectbox(key="explain.target").value
    at.selectbox(key="explain.target").set_value(1 - predicted)
    at.toggle(key="explain.score").set_value(True).run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("deletion") == 2 and captions.count("insertion") == 2


def test_bad_upload_shows_scan_error_not_exception(app_env, app_test):
    at = _upload(app_test(PAGE), b"this is not an image, just text\n" * 4, "notes.png")
    assert not at.exception
    assert at.error and "not a readable image" in at.error[0].value
    assert not at.metric


def test_colourful_upload_gets_input_quality_warning(app_env, app_test):
    rng = np.random.default_rng(0)
    buf = __import__("io").BytesIO()
    Image.fromarray(rng.integers(0, 255, (60, 300, 3), dtype=np.uint8)).save(buf, format="PNG")
    at = _upload(app_test(PAGE), buf.getvalue())
    assert not at.exception
    assert at.warning and FEATURES["colour_saturation"] in at.warning[0].value


def test_case_source_without_data_folder_shows_guidance(no_data_env, app_test):
    at = app_test(PAGE)
    at.radio(key="explain.source").set_value("case").run()
    assert not at.exception
    assert any("MRI_EXPLAIN_DATA" in i.value for i in at.info)
    assert not at.metric


def test_case_from_saved_evaluation_follows_the_selection(app_env, app_test):
    at = app_test(PAGE)
    at.radio(key="explain.source").set_value("case").run()
    assert not at.exception and at.metric
    first = at.selectbox(key="explain.case_path").value
    assert at.query_params["case"] == first
    box = at.selectbox(key="explain.case_path")
    index = next(i for i, o in enumerate(box.options) if not o.startswith(first + " "))
    other = box.options[index].split(" — ")[0]  # options show "path — true: …, predicted: …"
    box.select_index(index).run()
    at.run()  # a second rerun must not fall back to the first case's query parameter
    assert not at.exception
    assert at.selectbox(key="explain.case_path").value == other == at.query_params["case"]


def test_query_parameter_opens_a_case(app_env, app_test):
    at = app_test()
    at.query_params["case"] = "no/no1.jpg"
    at.switch_page(PAGE).run()
    assert not at.exception and at.metric
    assert at.radio(key="explain.source").value == "case"
    assert at.selectbox(key="explain.case_path").value == "no/no1.jpg"


def test_session_state_handoff_opens_case_every_time(app_env, app_test):
    at = app_test()
    for _ in range(2):  # hand over, leave for an upload, hand the same case over again
        at.session_state["explain.case_path"] = "yes/yes3.png"
        at.switch_page(PAGE).run()
        assert not at.exception
        assert at.radio(key="explain.source").value == "case"
        assert at.metric and at.selectbox(key="explain.case_path").value == "yes/yes3.png"
        at.radio(key="explain.source").set_value("upload").run()
        assert "case" not in at.query_params and not at.metric


def test_first_answer_needs_one_pass_and_tta_follows_the_fast_maps(
    app_env, app_test, phantom_png, monkeypatch
):
    from dashboard import resources

    calls: list[str] = []

    def spy(name: str):
        real = getattr(resources, name)

        def call(*args, **kwargs):
            calls.append(args[4] if name == "explain_cached" else name)  # explain_cached: the method
            return real(*args, **kwargs)

        return call

    for name in ("quick_look_cached", "first_look_cached", "explain_cached"):
        monkeypatch.setattr(resources, name, spy(name))
    at = app_test(PAGE)
    at.session_state["explain.methods"] = ["attention_rollout", "gradient_rollout", "occlusion"]
    at = _upload(at, phantom_png())
    assert not at.exception
    fast, slow = calls.index("gradient_rollout"), calls.index("occlusion")
    assert calls[0] == "quick_look_cached"  # the answer and the rollout come from one eager pass
    assert fast < calls.index("first_look_cached") < slow  # TTA after the fast maps, before the slow ones
    stability = {m.label: m.value for m in at.metric}["Stability (TTA)"]
    assert stability.startswith("± ")  # filled in once the views ran
    captions = " ".join(c.value for c in at.caption)
    assert "This measures stability, not the chance of being right" in captions
