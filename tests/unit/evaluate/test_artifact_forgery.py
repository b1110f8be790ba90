"""Forged evaluations (issue 14): every type, range, shape and uniqueness violation is refused at read time.

Each case takes a valid evaluation written by ``model.evaluate.artifacts``, edits one thing the way a
hand-edited or
forged file would (keeping the pair's hash consistent when the CSV is edited, so the check under test is the
one that fires), and expects ``ArtifactError`` with the regenerating command. The dashboard's reader lists the
forged evaluation's message and still loads a valid one (tests/app/test_hostile_pages.py runs every page on
a forged folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from dashboard import resources
from model.evaluate.artifacts import (
    CALIBRATION_FILE,
    ArtifactError,
    read_calibration,
    read_evaluation,
    write_calibration,
    write_evaluation,
)
from model.evaluate.calibration import MAX_TEMPERATURE, MIN_TEMPERATURE
from model.io import remove_stale_temps
from tests.unit.evaluate.test_artifacts import FINGERPRINT, FIT, make_eval

FIX = "python -m model.evaluate"


def _json_edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "test_results.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return edit


def _set(*keys: str, value: object) -> Callable[[Path], None]:
    def change(data: dict) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return _json_edit(change)


def _csv_edit(change: Callable[[pd.DataFrame], None]) -> Callable[[Path], None]:
    """Edit the predictions and record the new hash in the results, as a careful forger would."""

    def edit(folder: Path) -> None:
        csv = folder / "test_predictions.csv"
        records = pd.read_csv(csv, dtype=str, keep_default_na=False)
        change(records)
        records.to_csv(csv, index=False, lineterminator="\n")
        digest = hashlib.sha256(csv.read_bytes()).hexdigest()
        _set("predictions_sha256", value=digest)(folder)

    return edit


def _cell(column: str, value: str, row: int = 0) -> Callable[[Path], None]:
    def change(records: pd.DataFrame) -> None:
        records.loc[row, column] = value

    return _csv_edit(change)


def _nan_in_confusion(folder: Path) -> None:
    path = folder / "test_results.json"
    data = json.loads(path.read_text())
    data["confusion"][0][0] = "__NAN__"
    path.write_text(json.dumps(data).replace('"__NAN__"', "NaN"))


def _bad_probabilities(records: pd.DataFrame) -> None:
    records.loc[0, "p_tumor"], records.loc[0, "p_no tumor"] = "1.5", "-0.5"  # sums to 1


def _duplicate_path(records: pd.DataFrame) -> None:
    records.loc[1, "path"] = records.loc[0, "path"]


FORGERIES = {
    "nan_in_confusion": (_nan_in_confusion, "not valid JSON"),
    "threshold_text": (_set("threshold", value="0.5"), "threshold"),
    "threshold_above_1": (_set("threshold", value=1.5), "threshold"),
    "labels_integer": (_set("labels", value=7), "labels"),
    "labels_not_text": (_set("labels", value=["no tumor", 7]), "labels"),
    "labels_repeated": (_set("labels", value=["tumor", "tumor"]), "label twice"),
    "metrics_empty": (_set("metrics", value={}), "metrics without"),
    "reliability_empty": (_set("reliability", value={}), "reliability"),
    "calibrated_empty": (_set("calibrated", value={}), "'calibrated' block without"),
    "temperature_tiny": (_set("calibrated", "temperature", value=1e-320), "temperature"),
    "temperature_huge": (_set("calibrated", "temperature", value=1e308), "temperature"),
    "temperature_boolean": (_set("calibrated", "temperature", value=True), "temperature"),
    "schema_version_true": (_set("schema_version", value=True), "schema version True"),
    "n_boolean": (_set("n", value=True), "case count"),
    "n_text": (_set("n", value="12"), "case count"),
    "accuracy_above_1": (_set("metrics", "accuracy", value=1.5), "accuracy outside its range"),
    "accuracy_plausible_but_false": (_set("metrics", "accuracy", value=0.999), "do not match"),
    "per_class_empty": (_set("metrics", "per_class", value={}), "per-class"),
    "confusion_negative": (_set("confusion", value=[[-1, 7], [3, 3]]), "not counts"),
    "confusion_wrong_total": (_set("confusion", value=[[1, 1], [1, 1]]), "does not count"),
    "interval_reversed": (_set("ci95", "accuracy", value=[0.9, 0.1]), "interval 'accuracy'"),
    "kind_unknown": (_set("kind", value="weird"), "kind"),
    "positive_unknown": (_set("positive_label", value="glioma"), "positive label"),
    "bin_count_text": (_set("reliability", "positive", 0, "count", value="3"), "reliability bin"),
    "duplicated_path": (_csv_edit(_duplicate_path), "twice"),
    "probabilities_outside_0_1": (_csv_edit(_bad_probabilities), "softmax"),
    "probability_text": (_cell("p_tumor", "abc"), "softmax"),
    "logit_infinite": (_cell("logit_tumor", "inf"), "logits"),
    "path_escaping": (_cell("path", "../../etc/passwd"), "'..'"),
    "path_absolute": (_cell("path", "/etc/passwd"), "absolute"),
    "label_unknown": (_cell("label", "glioma"), "'label'"),
    "predicted_forged": (_cell("predicted", "glioma"), "'predicted'"),
}


@pytest.mark.parametrize("name", FORGERIES)
def test_a_forged_evaluation_is_refused_at_read_time_with_the_fix(tmp_path, name):
    edit, message = FORGERIES[name]
    results, records = make_eval()
    write_evaluation(tmp_path, "test", results, records)
    read_evaluation(tmp_path, "test")  # valid before the edit
    edit(tmp_path)
    with pytest.raises(ArtifactError, match=FIX) as err:
        read_evaluation(tmp_path, "test")
    assert message in str(err.value)
    assert "\n" not in str(err.value)  # one line


@pytest.mark.parametrize("t", [MIN_TEMPERATURE, 1.0, MAX_TEMPERATURE])
def test_temperatures_in_the_fitted_range_are_read_back(tmp_path, t):
    write_calibration(tmp_path, dataclasses.replace(FIT, temperature=t), FINGERPRINT)
    assert read_calibration(tmp_path, FINGERPRINT).temperature == t


@pytest.mark.parametrize("t", [MIN_TEMPERATURE / 2, MAX_TEMPERATURE * 2, 1e-320, 1e308, None, "1.0", True])
def test_temperatures_outside_the_fitted_range_are_refused(tmp_path, t):
    write_calibration(tmp_path, FIT, FINGERPRINT)
    path = tmp_path / CALIBRATION_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "temperature": t}))
    with pytest.raises(ArtifactError, match="not a number in"):
        read_calibration(tmp_path, FINGERPRINT)


def test_calibration_fields_of_the_wrong_type_are_refused(tmp_path):
    write_calibration(tmp_path, FIT, FINGERPRINT)
    path = tmp_path / CALIBRATION_FILE
    stored = json.loads(path.read_text())
    for key, value in (("n", True), ("nll_after", "0.5"), ("at_bound", 1), ("schema_version", True)):
        path.write_text(json.dumps({**stored, key: value}))
        with pytest.raises(ArtifactError, match=FIX):
            read_calibration(tmp_path, FINGERPRINT)


def test_the_dashboard_lists_a_forged_evaluation_and_loads_the_valid_one(tmp_path):
    for name, seed in (("validation", 1), ("test", 2)):
        results, records = make_eval(seed=seed)
        write_evaluation(tmp_path, name, {**results, "name": name}, records)
    _set("metrics", value={})(tmp_path)
    st.cache_data.clear()
    try:
        found, problems = resources.load_evaluations(tmp_path)
    finally:
        st.cache_data.clear()
    assert [ev.name for ev in found] == ["validation"] and list(problems) == ["test"]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_stale_temp_files_of_killed_writes_are_removed_and_live_ones_kept(tmp_path):
    results, records = make_eval()
    write_evaluation(tmp_path, "test", results, records)
    dead = tmp_path / f".test_results.json.{_dead_pid()}.tmp"
    dead_other = tmp_path / f".calibration.json.{_dead_pid()}.tmp"
    live = tmp_path / f".validation_results.json.{__import__('os').getppid()}.tmp"
    for path in (dead, dead_other, live):
        path.write_text("{half a write")
    assert read_evaluation(tmp_path, "test").records.equals(records)  # readers ignore them
    write_evaluation(tmp_path, "test", results, records)  # the next write tidies the folder
    assert not dead.exists() and not dead_other.exists() and live.exists()
    assert remove_stale_temps(tmp_path) == []
