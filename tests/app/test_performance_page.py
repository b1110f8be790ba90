"""AppTest of the Performance page: per-split table, threshold slider -> confusion matrix, guidance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

PAGE = "../pages/performance.py"


def _expected_counts(records, column: str, threshold: float) -> list[list[int]]:
    """Confusion counts by hand: rows = true (no tumor, tumor), columns = predicted (no tumor, tumor)."""
    called = records[column] >= threshold
    is_pos = records["label"] == "tumor"
    return [
        [int((~is_pos & ~called).sum()), int((~is_pos & called).sum())],
        [int((is_pos & ~called).sum()), int((is_pos & called).sum())],
    ]


def _shown_counts(at) -> list[list[int]]:
    frame = at.table[0].value
    assert list(frame.index) == ["no tumor", "tumor"] and list(frame.columns) == ["no tumor", "tumor"]
    return frame.to_numpy().tolist()


def _shown_metric(at, name: str) -> str:
    return at.dataframe[1].value.loc[name, "test (n=12)"]


def test_page_separates_threshold_free_from_threshold_dependent_metrics(spread_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    free, dependent = at.dataframe[0].value, at.dataframe[1].value
    assert (
        list(free.columns)
        == list(dependent.columns)
        == ["validation (n=6)", "test (n=12)", "external (n=12)"]
    )
    assert "ROC-AUC" in free.index and "Accuracy" not in free.index
    assert "Accuracy" in dependent.index and "ROC-AUC" not in dependent.index
    assert dependent.index.name == "at threshold 0.50 (95% interval)"
    records = spread_env.records
    accuracy = np.mean((records["p_tumor"] >= 0.5) == (records["label"] == "tumor"))  # 6 of 12 right
    assert dependent.loc["Accuracy", "test (n=12)"].startswith(f"{accuracy:.2f} (")
    # score distribution, every split's matrices, ROC, PR, reliability
    assert len(at.main.get("image")) == 5


@pytest.mark.parametrize("threshold", [0.30, 0.70])
def test_threshold_slider_recomputes_the_confusion_matrix(spread_env, app_test, threshold):
    at = app_test(PAGE)
    assert _shown_counts(at) == _expected_counts(spread_env.records, "p_tumor", 0.5) == [[4, 2], [2, 4]]
    at.slider(key="performance.threshold").set_value(threshold).run()
    assert not at.exception
    counts = _expected_counts(spread_env.records, "p_tumor", threshold)
    assert _shown_counts(at) == counts != [[4, 2], [2, 4]]
    sensitivity = counts[1][1] / sum(counts[1])
    assert _shown_metric(at, "Sensitivity (tumour recall)").startswith(f"{sensitivity:.2f}")
    assert at.dataframe[1].value.index.name == f"at threshold {threshold:.2f} (95% interval)"
    assert at.dataframe[0].value.equals(app_test(PAGE).dataframe[0].value)  # threshold-free: unchanged


@pytest.mark.parametrize("threshold", [0.30, 0.70])
def test_the_caption_under_the_slider_follows_it(spread_env, app_test, threshold):
    at = app_test(PAGE)
    at.slider(key="performance.threshold").set_value(threshold).run()
    records = spread_env.records
    called = int((records["p_tumor"] >= threshold).sum())
    captions = [c.value for c in at.caption if c.value.startswith("At threshold")]
    assert captions == [c for c in captions if f"At threshold {threshold:.2f}, {called} of 12 scans" in c]
    assert len(captions) == 1
    assert "Every split at threshold" not in " ".join(h.value for h in at.subheader) or any(
        f"Every split at threshold {threshold:.2f}" == h.value for h in at.subheader
    )


def test_calibrated_toggle_uses_the_temperature_scaled_probabilities(spread_env, app_test):
    at = app_test(PAGE)
    at.slider(key="performance.threshold").set_value(0.70).run()
    at.toggle(key="settings.calibrated").set_value(True).run()
    assert not at.exception
    logit = np.log(spread_env.records["p_tumor"] / (1 - spread_env.records["p_tumor"]))
    records = spread_env.records.assign(by_hand=1 / (1 + np.exp(-logit / 2.0)))  # T = 2 softens
    assert _shown_counts(at) == _expected_counts(records, "by_hand", 0.70)
    assert _shown_counts(at) != _expected_counts(records, "p_tumor", 0.70)


def test_choosing_another_split_shows_its_counts(spread_env, app_test):
    at = app_test(PAGE)
    at.selectbox(key="performance.split").set_value("validation").run()
    assert not at.exception
    assert int(np.sum(_shown_counts(at))) == 6


def test_missing_evaluation_folder_shows_guidance(empty_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    assert not at.dataframe
    assert any("python -m model.evaluate" in i.value for i in at.info)


def test_a_corrupt_evaluation_is_named_and_the_others_still_shown(
    spread_env, app_test, monkeypatch, tmp_path
):
    eval_dir = shutil.copytree(spread_env.eval_dir, tmp_path / "eval")
    path = eval_dir / "validation_results.json"
    results = json.loads(path.read_text())
    results["confusion"] = [[0, 0], [0, 0]]
    path.write_text(json.dumps(results))
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(eval_dir))
    at = app_test(PAGE)
    assert not at.exception
    assert any("'validation'" in w.value and "model.evaluate" in w.value for w in at.warning)
    assert list(at.dataframe[0].value.columns) == ["test (n=12)", "external (n=12)"]


def test_degenerate_intervals_of_the_bundled_evaluation_are_shown_as_such(app_env, app_test, monkeypatch):
    bundled = Path(__file__).resolve().parents[2] / "artifacts" / "eval"
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(bundled))
    at = app_test(PAGE)
    assert not at.exception
    dependent = at.dataframe[1].value
    column = next(c for c in dependent.columns if c.startswith("pool-holdout"))
    assert dependent.loc["Specificity", column] == "1.00 (1.00–1.00, degenerate)"  # 21 of 21 healthy right
    assert any("degenerate" in c.value and "zero width" in c.value for c in at.caption)
    # every split's matrix and the score distribution are drawn for the bundled evaluation too
    assert len(at.main.get("image")) == 5
