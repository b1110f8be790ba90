"""AppTest of the Error-audit page: case lists by hand, gallery with maps, hand-over to Explain, guidance."""

from __future__ import annotations

import pandas as pd

PAGE = "../pages/error_audit.py"


def _by_hand(records: pd.DataFrame, threshold: float, band: tuple[float, float]) -> dict[str, set[str]]:
    called, is_pos = records["p_tumor"] >= threshold, records["label"] == "tumor"
    unsure = records["p_tumor"].between(*band)
    return {
        "false positive": set(records["path"][called & ~is_pos]),
        "false negative": set(records["path"][~called & is_pos]),
        "low confidence": set(records["path"][unsure & (called == is_pos)]),
    }


KINDS = ("false positive", "false negative", "low confidence")


def _listed(at) -> dict[str, set[str]]:
    frame = next(d.value for d in at.dataframe if "case" in d.value.columns)  # the list, not the counts
    return {kind: set(frame["case"][frame["finding"] == kind]) for kind in KINDS}


def test_lists_errors_and_unsure_cases_as_computed_by_hand(spread_env, app_test, monkeypatch):
    monkeypatch.delenv("MRI_EXPLAIN_DATA")  # the list does not need images (and skips drawing maps)
    at = app_test(PAGE)
    assert not at.exception
    expected = _by_hand(spread_env.records, 0.5, (0.35, 0.65))
    assert _listed(at) == expected
    assert len(expected["false positive"]) == 2 and len(expected["low confidence"]) == 4
    at.slider(key="error_audit.threshold").set_value(0.3).run()
    at.slider(key="error_audit.band").set_value((0.1, 0.9)).run()
    assert not at.exception
    assert _listed(at) == _by_hand(spread_env.records, 0.3, (0.1, 0.9)) != expected


def test_gallery_draws_one_map_per_listed_case_and_tabs_count_them(spread_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    expected = _by_hand(spread_env.records, 0.5, (0.35, 0.65))
    titles = ("False positives", "False negatives", "Low confidence")
    wanted = [f"{t} ({len(v)})" for t, v in zip(titles, expected.values(), strict=True)]
    assert [t.label for t in at.tabs] == wanted
    assert len(at.main.get("image")) == sum(len(v) for v in expected.values())
    assert len([b for b in at.button if b.key.startswith("error_audit.open.")]) == len(at.main.get("image"))


def test_open_in_explain_hands_the_case_over(spread_env, app_test):
    at = app_test(PAGE)
    case = sorted(_by_hand(spread_env.records, 0.5, (0.35, 0.65))["false negative"])[0]
    at.button(key=f"error_audit.open.test.{case}").click().run()
    assert not at.exception
    assert at.session_state["explain.case_path"] == case
    assert at.selectbox(key="explain.case_path").value == case  # the Explain page shows that case
    assert any(m.label == "Prediction" for m in at.metric)


def test_without_data_folder_the_table_and_guidance_are_shown(spread_env, app_test, monkeypatch):
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    at = app_test(PAGE)
    assert not at.exception
    assert any("MRI_EXPLAIN_DATA" in i.value for i in at.info)
    assert not at.main.get("image")
    assert _listed(at) == _by_hand(spread_env.records, 0.5, (0.35, 0.65))


def test_the_list_downloads_as_csv(spread_env, app_test, monkeypatch):
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    at = app_test(PAGE)
    buttons = at.get("download_button")
    assert len(buttons) == 1 and "CSV" in buttons[0].proto.label


def test_missing_evaluation_folder_shows_guidance(empty_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    assert any("python -m model.evaluate" in i.value for i in at.info)
