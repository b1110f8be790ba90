"""Saved evaluations under fault, beyond test_artifacts.py: files cut at any length are refused.

test_artifacts.py covers a results JSON cut at 200 characters, a wrong schema version, another model's or
other labels' files, a replaced predictions CSV and a write killed halfway. This adds every other truncation a
full disk or an interrupted copy leaves (empty files, a cut predictions CSV, a cut calibration file) and the
dashboard's reader, which must list a broken evaluation's fix and still load the intact one beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from dashboard import resources
from model.evaluate.artifacts import (
    CALIBRATION_FILE,
    ArtifactError,
    read_calibration,
    read_evaluation,
    write_calibration,
)
from model.evaluate.artifacts import write_evaluation as write
from tests.unit.evaluate.test_artifacts import FINGERPRINT, FIT, make_eval

FIX = "python -m model.evaluate"
# Fractions of the file kept; -3 = all but the last 3 bytes (a JSON file's closing "}\n": losing only the
# final newline still leaves valid JSON with the same content, which is rightly accepted).
CUTS = (0.0, 0.1, 0.5, 0.9, -3)


def _cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(keep)] if keep < 0 else data[: int(len(data) * keep)])


@pytest.mark.parametrize("keep", CUTS)
@pytest.mark.parametrize("which", ["test_results.json", "test_predictions.csv"])
def test_a_truncated_evaluation_file_is_refused_with_the_fix(tmp_path, which, keep):
    results, records = make_eval()
    write(tmp_path, "test", results, records)
    _cut(tmp_path / which, keep)
    with pytest.raises(ArtifactError, match=FIX) as err:
        read_evaluation(tmp_path, "test")
    assert "--split test" in str(err.value)


@pytest.mark.parametrize("keep", CUTS)
def test_a_truncated_calibration_file_is_refused_with_the_fix(tmp_path, keep):
    write_calibration(tmp_path, FIT, FINGERPRINT)
    _cut(tmp_path / CALIBRATION_FILE, keep)
    with pytest.raises(ArtifactError, match=FIX):
        read_calibration(tmp_path, FINGERPRINT)


def test_the_dashboard_lists_a_broken_evaluation_and_still_loads_the_intact_one(tmp_path):
    for name, seed in (("validation", 1), ("test", 2)):
        results, records = make_eval(seed=seed)
        write(tmp_path, name, {**results, "name": name}, records)
    _cut(tmp_path / "test_predictions.csv", 0.5)
    st.cache_data.clear()
    try:
        found, problems = resources.load_evaluations(tmp_path)
    finally:
        st.cache_data.clear()
    assert [ev.name for ev in found] == ["validation"]
    assert list(problems) == ["test"] and FIX in problems["test"] and "--split test" in problems["test"]
