"""AppTest of the entry point: routing, the shared sidebar, the footer notice and model-loading errors."""

from __future__ import annotations

from dashboard.safe_text import plain
from model.report.case import DISCLAIMER

OFFLINE_HUB_ID = "nobody-here/vit-not-in-cache"


def _footer(at) -> str:
    return at.main.get("caption")[-1].value


def test_entry_runs_and_every_page_repeats_the_disclaimer(app_env, app_test):
    at = app_test()
    assert not at.exception
    assert DISCLAIMER in _footer(at)
    for page in ("../pages/explain.py", "../pages/learn.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert DISCLAIMER in _footer(at), page


def test_sidebar_shows_fingerprint_labels_and_folders(app_env, app_test):
    from model.loading import load_classifier

    at = app_test()
    fingerprint = load_classifier(app_env.model_dir).fingerprint
    sidebar = " ".join(c.value for c in at.sidebar.get("caption"))
    assert fingerprint in sidebar and "no tumor, tumor" in sidebar
    assert at.text_input(key="app.model_source").value == str(app_env.model_dir)
    assert at.text_input(key="app.eval_dir").value == str(app_env.eval_dir)
    assert at.text_input(key="app.data_dir").value == str(app_env.data_dir)


def test_offline_hub_id_shows_the_load_error_with_a_fix(app_env, app_test, monkeypatch):
    monkeypatch.setenv("MRI_EXPLAIN_MODEL", OFFLINE_HUB_ID)
    at = app_test("../pages/explain.py")
    assert not at.exception
    messages = [e.value for e in at.error]
    assert messages and all(plain(OFFLINE_HUB_ID) in m and "artifacts/model" in m for m in messages)
    assert not at.metric
    assert DISCLAIMER in _footer(at)


def test_sidebar_field_overrides_the_environment(app_env, app_test, tmp_path):
    at = app_test("../pages/explain.py")
    assert not at.error
    missing = tmp_path / "no_such_model"
    at.text_input(key="app.model_source").set_value(str(missing)).run()
    assert not at.exception
    assert any(plain(str(missing)) in e.value and "does not exist" in e.value for e in at.error)
    at.text_input(key="app.model_source").set_value(str(app_env.model_dir)).run()
    assert not at.error


def test_missing_evaluations_leave_upload_working_uncalibrated(empty_env, app_test, phantom_png):
    at = app_test("../pages/explain.py")
    at.file_uploader(key="explain.upload").set_value(("scan.png", phantom_png(), "image/png")).run()
    assert not at.exception and at.metric
    assert any("not calibrated" in c.value for c in at.caption)
