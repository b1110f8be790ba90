"""The saved-evaluation format: round trip, every refusal, and a write killed halfway."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.evaluate.artifacts import (
    CALIBRATION_FILE,
    SCHEMA_VERSION,
    ArtifactError,
    build_records,
    build_results,
    list_evaluations,
    read_calibration,
    read_evaluation,
    write_calibration,
    write_evaluation,
)
from model.evaluate.calibration import TemperatureFit
from model.labels import LABELS

REPO_ROOT = Path(__file__).resolve().parents[3]
FINGERPRINT = "abcdef012345"
FIT = TemperatureFit(1.7, "validation", 10, 0.61, 0.52)


def make_eval(n: int = 12, seed: int = 0, temperature: float | None = 1.7) -> tuple[dict, pd.DataFrame]:
    """Results and records of a synthetic evaluation (random logits, both classes present)."""
    rng = np.random.default_rng(seed)
    labels = [LABELS[i % 2] for i in range(n)]
    paths = [f"{'yes' if lab == 'tumor' else 'no'}/img {i}.jpg" for i, lab in enumerate(labels)]
    cases = pd.DataFrame(
        {
            "path": paths,
            "sha256": [f"{i:064x}" for i in range(n)],
            "group": [f"g{i // 2}" for i in range(n)],
            "label": labels,
        }
    )
    logits = rng.normal(size=(n, 2)).astype(np.float32)
    records = build_records(cases, logits, LABELS, temperature)
    fit = TemperatureFit(temperature, "validation", 10, 0.6, 0.5) if temperature else None
    results = build_results(
        "test", records, LABELS, FINGERPRINT, calibration=fit, manifest_sha256="m" * 64, n_resamples=20
    )
    return results, records


def same(a: object, b: object) -> bool:
    """Equality where NaN equals NaN (JSON null reads back as NaN in metric blocks)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_round_trip_keeps_every_value_exactly(tmp_path):
    results, records = make_eval()
    write_evaluation(tmp_path, "test", results, records)
    ev = read_evaluation(tmp_path, "test", expected_fingerprint=FINGERPRINT, expected_labels=LABELS)
    pd.testing.assert_frame_equal(ev.records, records, check_exact=True)
    assert ev.results["predictions_sha256"] and ev.results["predictions_file"] == "test_predictions.csv"
    stored = {k: v for k, v in ev.results.items() if not k.startswith("predictions_")}
    assert same(stored, json.loads(json.dumps(results)))
    assert ev.labels == LABELS and ev.checkpoint == FINGERPRINT
    assert ev.results["schema_version"] == SCHEMA_VERSION
    assert ev.results["calibrated"]["temperature"] == 1.7
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*.prev"))


def test_records_hold_probabilities_of_the_logits_sorted_by_path():
    results, records = make_eval(temperature=2.0)
    assert list(records["path"]) == sorted(records["path"])
    logits = records[["logit_no tumor", "logit_tumor"]].to_numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(records[["p_no tumor", "p_tumor"]].to_numpy(), expected)
    soft = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    assert np.allclose(records[["pcal_no tumor", "pcal_tumor"]].to_numpy(), soft)
    assert list(records["predicted"]) == [LABELS[i] for i in logits.argmax(axis=1)]


def test_undefined_metrics_are_json_null_and_read_back_as_nan(tmp_path):
    results, records = make_eval(temperature=None)
    records = records.assign(label="tumor")  # one class only: specificity and ROC-AUC are undefined
    results = build_results("test", records, LABELS, FINGERPRINT, n_resamples=20)
    path = write_evaluation(tmp_path, "test", results, records)
    text = path.read_text()
    assert "NaN" not in text and json.loads(text)["metrics"]["roc_auc"] is None
    ev = read_evaluation(tmp_path, "test")
    assert math.isnan(ev.results["metrics"]["roc_auc"]) and ev.results["undefined"]["roc_auc"]
    assert ev.results["calibrated"] is None
    with pytest.raises(ArtifactError, match="no calibrated metrics"):
        ev.confusion(calibrated=True)


def corrupt_json(path: Path) -> None:
    path.write_text(path.read_text()[:200])


def set_key(key: str, value: object):
    def edit(path: Path) -> None:
        data = json.loads(path.read_text())
        data[key] = value
        path.write_text(json.dumps(data))

    return edit


@pytest.mark.parametrize(
    ("edit", "kwargs", "message"),
    [
        (corrupt_json, {}, "not valid JSON"),
        (set_key("schema_version", SCHEMA_VERSION + 1), {}, "schema version 2"),
        (lambda p: p.unlink(), {}, "No saved evaluation"),
        (lambda p: None, {"expected_fingerprint": "000000000000"}, "belongs to model abcdef012345"),
        (lambda p: None, {"expected_labels": ("glioma", "tumor")}, "has labels"),
        (set_key("confusion", [[1, 2, 3]]), {}, "inconsistent shapes"),
        (lambda p: p.with_name("test_predictions.csv").write_text("path\nx\n"), {}, "does not match"),
    ],
)
def test_each_refusal_names_the_command_that_fixes_it(tmp_path, edit, kwargs, message):
    results, records = make_eval()
    path = write_evaluation(tmp_path, "test", results, records)
    edit(path)
    with pytest.raises(ArtifactError, match=message) as err:
        read_evaluation(tmp_path, "test", **kwargs)
    assert "python -m model.evaluate" in str(err.value) and "--split test" in str(err.value)


def test_external_names_get_the_folder_command(tmp_path):
    with pytest.raises(ArtifactError, match="--name external"):
        read_evaluation(tmp_path, "external")


def test_edited_results_that_disagree_with_the_records_are_refused(tmp_path):
    results, records = make_eval()
    results = {**results, "confusion": [[0, 0], [0, len(records)]]}
    with pytest.raises(ArtifactError, match="do not match its predictions"):
        write_evaluation(tmp_path, "test", results, records)
    assert not list(tmp_path.iterdir())


KILL_SCRIPT = textwrap.dedent("""
    import os, pickle
    from model.evaluate import artifacts
    with open({new!r}, "rb") as fh:
        results, records = pickle.load(fh)
    calls = []
    real_replace = os.replace
    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == {kill_at}:
            os._exit(9)  # killed: no cleanup, no exception handlers
        real_replace(src, dst)
    artifacts.os.replace = dying_replace
    artifacts.write_evaluation({out!r}, "test", results, records)
""")


@pytest.mark.parametrize("kill_at", [1, 2])
def test_a_write_killed_halfway_leaves_the_previous_evaluation_readable(tmp_path, kill_at):
    # kill_at=1: before any rename; kill_at=2: after the predictions were replaced, before the results were.
    out = tmp_path / "eval"
    old_results, old_records = make_eval(seed=1)
    write_evaluation(out, "test", old_results, old_records)
    before = read_evaluation(out, "test")
    new = tmp_path / "new.pkl"
    new.write_bytes(pickle.dumps(make_eval(n=400, seed=99)))
    script = KILL_SCRIPT.format(new=str(new), kill_at=kill_at, out=str(out))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    if kill_at == 2:  # the new predictions are in place, the results are still the old ones
        assert len(pd.read_csv(out / "test_predictions.csv")) == 400
    after = read_evaluation(out, "test")
    pd.testing.assert_frame_equal(after.records, before.records, check_exact=True)
    assert same(after.results, before.results)
    new_results, new_records = make_eval(seed=2)  # the next complete write wins and tidies up
    write_evaluation(out, "test", new_results, new_records)
    assert read_evaluation(out, "test").records.equals(new_records)
    assert not list(out.glob("*.prev")) and not list(out.glob(".*.tmp"))


def test_list_evaluations_orders_splits_then_other_names(tmp_path):
    assert list_evaluations(tmp_path / "absent") == []
    results, records = make_eval()
    for name in ("external", "test", "train", "validation"):
        write_evaluation(tmp_path, name, {**results, "name": name, "split": name}, records)
    (tmp_path / ".test_results.json.123.tmp").write_text("{}")
    assert list_evaluations(tmp_path) == ["train", "validation", "test", "external"]


def test_calibration_round_trip_and_refusals(tmp_path):
    with pytest.raises(ArtifactError, match="No calibration"):
        read_calibration(tmp_path)
    write_calibration(tmp_path, FIT, FINGERPRINT, "m" * 64)
    assert read_calibration(tmp_path, FINGERPRINT) == FIT
    with pytest.raises(ArtifactError, match="belongs to model"):
        read_calibration(tmp_path, "000000000000")
    data = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({**data, "temperature": -1.0}))
    with pytest.raises(ArtifactError, match="not a number in"):
        read_calibration(tmp_path)
