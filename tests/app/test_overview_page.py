"""AppTest of the Overview page: headline metrics with intervals, model facts, card parts, guidance."""

from __future__ import annotations

import json
import shutil

import numpy as np

from model.evaluate.artifacts import read_evaluation
from model.evaluate.card import write_card
from model.loading import load_classifier

PAGE = "../pages/overview.py"


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_headline_metrics_match_the_records_and_carry_intervals(app_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    ev = read_evaluation(app_env.eval_dir, "test")
    records = ev.records
    is_pos = records["label"] == "tumor"
    said_pos = records["predicted"] == "tumor"  # the saved 0.5-threshold decision
    expected = {
        "Accuracy": np.mean(is_pos == said_pos),
        "Sensitivity (tumour recall)": said_pos[is_pos].mean(),
        "Specificity": (~said_pos[~is_pos]).mean(),
    }
    shown = {m.label: m for m in at.metric}
    assert set(shown) == {"Accuracy", "ROC-AUC", "Sensitivity (tumour recall)", "Specificity"}
    for name, value in expected.items():
        assert shown[name].value == f"{value:.2f}", name
    assert all(m.delta.startswith("95% CI") or m.delta == "no interval" for m in shown.values())
    assert any("not for diagnosis" in w.value for w in at.warning)


def test_architecture_table_describes_the_loaded_model(app_env, app_test):
    at = app_test(PAGE)
    facts = at.table[0].value["value"].to_dict()
    model = load_classifier(app_env.model_dir).model
    assert facts["Parameters"] == f"{sum(p.numel() for p in model.parameters()):,}"
    assert facts["Encoder"].startswith("2 layers, hidden size 32, 2 attention heads")
    assert facts["Patches"].startswith("8 px → 4 × 4 grid")


def test_card_sections_are_shown_when_the_model_has_a_card(app_env, app_test, monkeypatch, tmp_path):
    model_dir = shutil.copytree(app_env.model_dir, tmp_path / "model")
    write_card(model_dir, app_env.eval_dir)
    monkeypatch.setenv("MRI_EXPLAIN_MODEL", str(model_dir))
    at = app_test(PAGE)
    assert not at.exception
    assert not any("No model card" in i.value for i in at.info)
    text = _markdown(at)
    assert "each group goes wholly to train, validation or test" in text  # the card's Split section
    assert "Not intended" in text and "Duplicates" in text


def test_without_a_card_generic_notes_and_the_command_are_shown(app_env, app_test):
    at = app_test(PAGE)
    assert any("python -m model.evaluate.card" in i.value for i in at.info)
    assert "Duplicates" in _markdown(at)


def test_missing_evaluation_folder_shows_guidance(empty_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    assert not at.metric
    assert any("python -m model.evaluate" in i.value for i in at.info)


def test_corrupt_test_evaluation_shows_the_fix(app_env, app_test, monkeypatch, tmp_path):
    eval_dir = shutil.copytree(app_env.eval_dir, tmp_path / "eval")
    results = json.loads((eval_dir / "test_results.json").read_text())
    results["schema_version"] = 99
    (eval_dir / "test_results.json").write_text(json.dumps(results))
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(eval_dir))
    at = app_test(PAGE)
    assert not at.exception
    assert not at.metric
    assert any("schema version 99" in i.value and "model.evaluate" in i.value for i in at.info)
