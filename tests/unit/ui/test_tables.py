"""dashboard.tables: the confusion table of a saved evaluation and the audit list's column names."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import audit_view, tables
from model.evaluate.artifacts import confusion_frame, read_evaluation

EVAL = Path(__file__).resolve().parents[3] / "artifacts" / "eval"


@pytest.fixture(scope="module")
def test_eval():
    return read_evaluation(EVAL, "test")


def test_confusion_frame_rows_are_true_and_columns_predicted(test_eval):
    frame = confusion_frame(test_eval, counts=tables.saved_result(test_eval)["confusion"])
    assert frame.index.name == "true label" and frame.columns.name == "predicted label"
    assert list(frame.index) == list(test_eval.labels) == list(frame.columns)
    records = test_eval.records
    for true in test_eval.labels:
        for pred in test_eval.labels:
            expected = ((records["label"] == true) & (records["predicted"] == pred)).sum()
            assert frame.loc[true, pred] == expected
    assert frame.to_numpy().sum() == len(records)


def test_audit_columns_are_named_once_for_the_list_and_its_table(test_eval):
    positive = tables.positive_label(test_eval)
    assert tables.probability_column(positive) == f"P({positive})"
    cases = tables.audit_cases(test_eval, 0.5, (0.4, 0.6))
    config = audit_view.case_table_config(positive)
    assert set(config) <= set(cases.columns)  # every configured column exists in the listed cases
    assert cases[tables.probability_column(positive)].between(0.0, 1.0).all()
