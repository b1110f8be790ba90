from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from model.evaluate.artifacts import ArtifactError, confusion_frame, read_evaluation
from model.evaluate.metrics import compute_metrics
from model.evaluate.result_views import Interval, Metrics, ResultView

EVAL = Path(__file__).resolve().parents[3] / "artifacts" / "eval"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("name", ["test", "validation", "pool-holdout"])
def test_typed_views_hold_exactly_the_saved_numbers(name):
    ev = read_evaluation(EVAL, name)
    for calibrated in (False, True):
        view, saved = ev.view(calibrated), (ev.results["calibrated"] if calibrated else ev.results)
        for field in dataclasses.fields(Metrics):
            if field.name != "per_class":
                assert _same(view.metrics.value(field.name), saved["metrics"][field.name]), field.name
                low, high = saved["ci95"][field.name]
                assert _same(view.interval(field.name).low, low) and _same(
                    view.interval(field.name).high, high
                )
        for label, c in saved["metrics"]["per_class"].items():
            got = view.metrics.per_class[label]
            assert _same(got.recall, c["recall"]) and got.support == c["support"]
        assert view.confusion_counts().tolist() == saved["confusion"]
        assert [b.count for b in view.reliability_positive] == [
            b["count"] for b in saved["reliability"]["positive"]
        ]
        assert view.n == ev.n == saved.get("n", ev.n) and view.threshold == ev.threshold
    assert ev.metrics.accuracy == ev.results["metrics"]["accuracy"]
    assert ev.positive_label == ev.results["positive_label"] and ev.n_groups == ev.results["n_groups"]


def test_a_recomputed_result_reads_like_the_saved_one():
    ev = read_evaluation(EVAL, "test")
    again = ResultView.from_dict(compute_metrics(ev.records, ev.labels, ev.positive_label, ev.threshold))
    assert again.metrics.per_class == ev.metrics.per_class
    assert again.confusion == ev.raw.confusion and again.n == ev.n
    assert math.isclose(again.metrics.roc_auc, ev.metrics.roc_auc, abs_tol=1e-12)


def test_views_are_frozen_and_unknown_names_refused():
    ev = read_evaluation(EVAL, "test")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.metrics.accuracy = 0.0  # type: ignore[misc]
    with pytest.raises(KeyError):
        ev.metrics.value("per_class")
    with pytest.raises(KeyError):
        ev.metrics.value("nope")
    assert math.isnan(ev.raw.interval("not a metric").low)
    assert Interval.from_pair(None) == Interval() and math.isnan(Interval.from_pair([None, 1.0]).low)


def test_missing_calibration_is_an_artifact_error(tmp_path):
    ev = read_evaluation(EVAL, "test")
    bare = dataclasses.replace(ev, calibrated=None)
    with pytest.raises(ArtifactError, match="no calibrated metrics"):
        bare.view(calibrated=True)


def test_confusion_frame_takes_other_counts_on_the_same_labels():
    ev = read_evaluation(EVAL, "test")
    saved = confusion_frame(ev)
    assert saved.to_numpy().tolist() == ev.results["confusion"]
    other = confusion_frame(ev, counts=np.array([[1, 2], [3, 4]]))
    assert other.loc[ev.labels[1], ev.labels[0]] == 3 and list(other.columns) == list(ev.labels)
    assert other.index.name == "true label" and other.columns.name == "predicted label"
