"""AppTest of the Compare-models page: the paired table and McNemar by hand, figures, gallery, hand-over."""

from __future__ import annotations

PAGE = "../pages/compare.py"


def _by_hand(records):
    """Correct / incorrect of each model at threshold 0.5, from the fixture's probabilities."""
    is_pos = records["label"] == "tumor"
    right_a, right_b = (records["p_a"] >= 0.5) == is_pos, (records["p_b"] >= 0.5) == is_pos
    return right_a, right_b


def test_paired_table_and_mcnemar_match_hand_computation(compare_env, app_test):
    at = app_test(PAGE)
    assert not at.exception, at.exception
    right_a, right_b = _by_hand(compare_env.records)
    assert (right_a.sum(), right_b.sum(), (right_a & ~right_b).sum(), (~right_a & right_b).sum()) == (
        8,
        10,
        1,
        3,
    )
    table = at.dataframe[0].value
    accuracy = table.loc["Accuracy"]
    assert accuracy["A (95% CI)"].startswith("0.67") and accuracy["B (95% CI)"].startswith("0.83")
    assert accuracy["B − A (paired 95% CI)"].startswith("+0.167 (")
    text = " ".join(m.value for m in at.markdown)
    assert "Only A is right on **1**, only B on **3**" in text
    assert "p = 0.625" in text  # 2 * P(X <= 1), X ~ Bin(4, 1/2) = 10/16
    assert "could well be chance" in text


def test_figures_and_disagreement_gallery_with_both_maps(compare_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    disagree = compare_env.records[(_by_hand(compare_env.records)[0] != _by_hand(compare_env.records)[1])]
    assert len(disagree) == 4
    listed = at.dataframe[-1].value
    assert set(listed["case"]) == set(disagree["path"])
    # difference plot, ROC overlay, 2 reliability diagrams, the shared colour bar, 2 maps per disagreement
    assert len(at.main.get("image")) == 5 + 2 * len(disagree)
    for side in "AB":
        assert len([b for b in at.button if b.label == f"Open in Explain with {side}"]) == len(disagree)
    at.selectbox(key="compare.method").set_value("gradient_rollout").run()
    assert not at.exception
    assert len(at.main.get("image")) == 5 + 2 * len(disagree)


def test_open_in_explain_with_a_switches_model_and_case(compare_env, app_test):
    at = app_test(PAGE)
    case = at.dataframe[-1].value["case"].iloc[0]
    at.button(key=f"compare.open.A.{case}").click().run()
    assert not at.exception
    assert at.session_state["app.model_source"] == str(compare_env.baseline_dir / "model")
    assert at.session_state["app.eval_dir"] == str(compare_env.baseline_dir / "eval")
    assert at.selectbox(key="explain.case_path").value == case
    assert any(m.label == "Prediction" for m in at.metric)


def test_evaluations_on_other_cases_are_refused_in_one_sentence(compare_env, app_env, app_test, monkeypatch):
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(app_env.eval_dir))  # B: the test half of the phantoms only
    at = app_test(PAGE)
    assert not at.exception
    assert any("are not on the same cases" in i.value for i in at.info)
    assert not at.dataframe


def test_folders_without_a_shared_evaluation_show_guidance(compare_env, app_test, monkeypatch, tmp_path):
    monkeypatch.setenv("MRI_EXPLAIN_BASELINE", str(tmp_path / "nothing"))
    at = app_test(PAGE)
    assert not at.exception
    assert any("share no saved evaluation" in i.value for i in at.info)


def test_without_data_folder_the_tables_show_and_the_gallery_says_why(compare_env, app_test, monkeypatch):
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    at = app_test(PAGE)
    assert not at.exception
    assert any("MRI_EXPLAIN_DATA" in i.value for i in at.info)
    assert not [b for b in at.button if b.label.startswith("Open in Explain")]
    assert len(at.dataframe) == 2  # the paired table and the list of disagreements
    assert len(at.main.get("image")) == 4  # no colour bar and no maps


def test_verdicts_follow_the_direction_of_each_metric():
    from dashboard.compare_view import difference_cell, verdict

    assert verdict("accuracy", 0.02, 0.2) == "B better"
    assert verdict("accuracy", -0.2, -0.02) == "A better"
    assert verdict("brier", -0.2, -0.02) == "B better"  # lower Brier score is better
    assert verdict("ece", 0.01, 0.1) == "A better"
    assert verdict("roc_auc", -0.1, 0.1) == "no clear difference"
    assert verdict("roc_auc", 0.0, 0.0) == "no difference"
    assert verdict("roc_auc", float("nan"), float("nan")) == "no interval"
    assert difference_cell(0.1667, -0.1667, 0.5) == "+0.167 (−0.167 to +0.500)"
    assert difference_cell(float("nan"), 0.0, 0.0) == "n/a"
