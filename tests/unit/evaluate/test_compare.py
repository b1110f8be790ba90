"""Model comparison on generated evaluations: hand-computed paired numbers, refusals, the file, the CI gate.

Eight cases in six duplicate groups, with tumour probabilities chosen so that at threshold 0.5 both models
are right on 2 cases, only A on 1, only B on 4, and neither on 1.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from model.cli import exit_status
from model.evaluate import compare
from model.evaluate.artifacts import build_records, build_results, write_evaluation
from model.evaluate.comparison import ComparisonError, read_comparison, write_comparison
from model.evaluate.metrics import SCALARS
from model.explain.summary import EVAL_SUBDIR, method_summary, write_explanations
from model.labels import LABELS

# (path, true label, group, P(tumour) of A, P(tumour) of B); outcome in the comment.
CASES = [
    ("yes/c0.jpg", "tumor", "g0", 0.9, 0.8),  # both right
    ("yes/c1.jpg", "tumor", "g0", 0.7, 0.3),  # only A right
    ("yes/c2.jpg", "tumor", "g1", 0.4, 0.6),  # only B right
    ("yes/c3.jpg", "tumor", "g2", 0.2, 0.9),  # only B right
    ("no/c4.jpg", "no tumor", "g3", 0.6, 0.1),  # only B right
    ("no/c5.jpg", "no tumor", "g3", 0.55, 0.45),  # only B right
    ("no/c6.jpg", "no tumor", "g4", 0.8, 0.7),  # both wrong
    ("no/c7.jpg", "no tumor", "g5", 0.3, 0.2),  # both right
]
RESAMPLES = 50  # intervals exist; their values are checked in test_paired.py


def _cases(rows=CASES) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["path", "label", "group", "p_a", "p_b"])
    return frame.assign(sha256=[f"{i:064x}" for i in range(len(frame))])


def write_eval(folder, p_pos, cases=None, name="test", labels=LABELS, checkpoint="a" * 12, threshold=0.5):
    """Write one saved evaluation with exactly these positive probabilities (model.evaluate.artifacts)."""
    cases = _cases() if cases is None else cases
    p = np.asarray(p_pos, np.float64)
    logits = np.column_stack([np.zeros_like(p), np.log(p / (1 - p))])  # softmax gives back p
    records = build_records(cases, logits, labels)
    results = build_results(name, records, labels, checkpoint, n_resamples=RESAMPLES, threshold=threshold)
    write_evaluation(folder, name, results, records)
    return folder


@pytest.fixture
def folders(tmp_path):
    cases = _cases()
    a = write_eval(tmp_path / "a", cases["p_a"], checkpoint="a" * 12)
    b = write_eval(tmp_path / "b", cases["p_b"], checkpoint="b" * 12)
    return a, b


def test_paired_numbers_match_hand_computation(folders):
    out = compare.compare_folders(*folders, n_resamples=0)
    s = out["splits"]["test"]
    assert (s["n"], s["n_groups"]) == (8, 6)
    assert s["a"]["metrics"]["accuracy"] == pytest.approx(3 / 8)
    assert s["b"]["metrics"]["accuracy"] == pytest.approx(6 / 8)
    expected = {
        "accuracy": 3 / 8,
        "sensitivity": 3 / 4 - 2 / 4,
        "specificity": 3 / 4 - 1 / 4,
        "roc_auc": 13 / 16 - 8 / 16,  # pairs (tumour scored above no tumour): B 13 of 16, A 8 of 16
        "brier": 1.4425 / 8 - 2.4925 / 8,
    }
    for metric, value in expected.items():
        assert s["difference"][metric]["value"] == pytest.approx(value, abs=1e-12), metric
    assert {k: v for k, v in s["mcnemar"].items() if k != "p_value"} == {
        "both_correct": 2,
        "only_a_correct": 1,
        "only_b_correct": 4,
        "both_wrong": 1,
    }
    assert s["mcnemar"]["p_value"] == pytest.approx(2 * (1 + 5) / 32)
    paths = [d["path"] for d in s["disagreements"]]
    assert paths == ["yes/c3.jpg", "no/c4.jpg", "yes/c1.jpg", "yes/c2.jpg", "no/c5.jpg"]  # largest |pB - pA|
    first = s["disagreements"][0]
    assert (first["predicted_a"], first["predicted_b"], first["label"]) == ("no tumor", "tumor", "tumor")
    assert first["p_a"] == pytest.approx(0.2, abs=1e-12) and first["p_b"] == pytest.approx(0.9, abs=1e-12)


def test_a_folder_compared_with_itself_shows_no_difference(folders):
    out = compare.compare_folders(folders[0], folders[0], n_resamples=RESAMPLES)
    s = out["splits"]["test"]
    assert s["disagreements"] == [] and s["mcnemar"]["p_value"] == 1.0
    for metric in SCALARS:
        value, (low, high) = s["difference"][metric]["value"], s["difference"][metric]["ci95"]
        assert value == 0.0 and low == 0.0 and high == 0.0, metric


def _edit(column, index, value):
    def change(cases):
        cases.loc[index, column] = value
        return cases

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.drop(index=3).reset_index(drop=True), "not on the same cases"),
        (_edit("path", 2, "yes/other.jpg"), "not on the same cases"),
        (_edit("sha256", 5, "f" * 64), r"file contents \(sha256\)"),
        (_edit("label", 6, "tumor"), "true labels"),
        (_edit("group", 7, "g0"), "groups"),
    ],
)
def test_refuses_evaluations_not_on_the_same_cases(tmp_path, change, message):
    a = write_eval(tmp_path / "a", _cases()["p_a"])
    other = change(_cases())
    b = write_eval(tmp_path / "b", other["p_b"], cases=other)
    with pytest.raises(ComparisonError, match=message) as err:
        compare.compare_folders(a, b, n_resamples=0)
    assert "\n" not in str(err.value) and str(err.value).endswith("same manifest or folder.")


def test_refuses_other_class_labels(tmp_path):
    a = write_eval(tmp_path / "a", _cases()["p_a"])
    other = _cases().assign(label=lambda c: c["label"].replace("no tumor", "healthy"))
    b = write_eval(tmp_path / "b", other["p_b"], cases=other, labels=("healthy", "tumor"))
    with pytest.raises(ComparisonError, match="different labels"):
        compare.compare_folders(a, b, n_resamples=0)


def test_refuses_folders_without_a_shared_evaluation_and_unequal_saved_thresholds(tmp_path):
    a = write_eval(tmp_path / "a", _cases()["p_a"], name="test")
    b = write_eval(tmp_path / "b", _cases()["p_b"], name="validation")
    with pytest.raises(ComparisonError, match="share no saved evaluation"):
        compare.compare_folders(a, b)
    c = write_eval(tmp_path / "c", _cases()["p_b"], threshold=0.4)
    with pytest.raises(ComparisonError, match="pass --threshold"):
        compare.compare_folders(a, c, n_resamples=0)
    out = compare.compare_folders(a, c, threshold=0.5, n_resamples=0)
    assert out["threshold"] == 0.5


def _dumps(data) -> str:
    return json.dumps(data, sort_keys=True, allow_nan=True)


def test_comparison_file_round_trips_atomically(folders, tmp_path):
    out = compare.compare_folders(*folders, n_resamples=RESAMPLES)
    path = write_comparison(tmp_path / "cmp" / "comparison.json", out)
    assert [p.name for p in path.parent.iterdir()] == ["comparison.json"]  # no temp file left behind
    back = read_comparison(path)
    assert _dumps(back.data) == _dumps(out)
    assert math.isnan(back.data["splits"]["test"]["a"]["metrics"]["ece"]) is False


def _forge(path, mutate):
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(schema_version=2),
        lambda d: d.pop("splits"),
        lambda d: d["splits"]["test"]["a"]["metrics"].update(accuracy=0.9),
        lambda d: d["splits"]["test"]["b"]["metrics"].update(roc_auc=0.99),
        lambda d: d["splits"]["test"]["difference"]["accuracy"].update(value=0.5),
        lambda d: d["splits"]["test"]["mcnemar"].update(p_value=0.01),
        lambda d: d["splits"]["test"]["mcnemar"].update(only_a_correct=0, both_correct=3),
        lambda d: d["splits"]["test"]["mcnemar"].update(both_wrong=5),
        lambda d: d["splits"]["test"].update(disagreements=[]),
        lambda d: d["splits"]["test"].pop("mcnemar"),
        lambda d: d.update(kind="something else"),
    ],
)
def test_forged_or_broken_comparison_files_are_refused(folders, tmp_path, mutate):
    path = write_comparison(tmp_path / "comparison.json", compare.compare_folders(*folders, n_resamples=0))
    _forge(path, mutate)
    with pytest.raises(ComparisonError, match="python -m model.evaluate.compare"):
        read_comparison(path)


def test_truncated_and_missing_comparison_files_are_refused(folders, tmp_path):
    path = write_comparison(tmp_path / "comparison.json", compare.compare_folders(*folders, n_resamples=0))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ComparisonError, match="not valid JSON"):
        read_comparison(path)
    with pytest.raises(ComparisonError, match="No comparison"):
        read_comparison(tmp_path / "absent.json")


def _run(capsys, *argv):
    code = exit_status(compare.main, [*map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_codes_of_the_regression_gate(folders, tmp_path, capsys):
    a, b = folders
    out = tmp_path / "c.json"
    # B is better than A: no gate fails.
    assert _run(capsys, a, b, "--out", out, "--bootstrap", 0, "--fail-if-worse", "accuracy:0")[0] == 0
    assert read_comparison(out).data["splits"]["test"]["difference"]["accuracy"]["value"] > 0
    # Swapped, B (the old A) is worse by 3/8 accuracy and 0.13125 Brier score (lower is better).
    code, _, err = _run(capsys, b, a, "--out", out, "--bootstrap", 0, "--fail-if-worse", "accuracy:0.3")
    assert code == compare.EXIT_WORSE and "accuracy" in err and "0.375" in err
    assert _run(capsys, b, a, "--out", out, "--bootstrap", 0, "--fail-if-worse", "accuracy:0.4")[0] == 0
    assert _run(capsys, b, a, "--out", out, "--bootstrap", 0, "--fail-if-worse", "brier:0.1")[0] == 1
    assert _run(capsys, b, a, "--out", out, "--bootstrap", 0, "--fail-if-worse", "brier:0.2")[0] == 0
    gates = ("--fail-if-worse", "brier:0.2", "--fail-if-worse", "specificity:0.1")
    assert _run(capsys, b, a, "--out", out, "--bootstrap", 0, *gates)[0] == 1


def test_cli_errors_are_one_sentence_without_traceback(folders, tmp_path, capsys):
    a, _ = folders
    other = _cases().drop(index=0).reset_index(drop=True)
    b = write_eval(tmp_path / "other", other["p_b"], cases=other)
    code, out, err = _run(capsys, a, b, "--out", tmp_path / "c.json")
    assert code == compare.EXIT_ERROR and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "c.json").exists()
    code, _, err = _run(
        capsys, a, a, "--out", tmp_path / "c.json", "--fail-if-worse", "accuracy:1", "--gate-split", "x"
    )
    assert code == compare.EXIT_ERROR and "The gate split 'x'" in err
    with pytest.raises(SystemExit) as exit_info:
        compare.main([str(a), str(a), "--fail-if-worse", "accuracy=0.1"])
    assert exit_info.value.code == 2
    assert "METRIC:MARGIN" in capsys.readouterr().err


def test_cli_prints_a_summary_and_shows_a_progress_bar(folders, tmp_path, capsys):
    code = compare.main(
        [str(folders[0]), str(folders[1]), "--out", str(tmp_path / "c.json"), "--bootstrap", "20"]
    )
    out, err = capsys.readouterr()
    assert code == 0 and "McNemar: only A right 1, only B right 4" in out and "B - A (test)" in err


def write_summary(eval_dir, checkpoint, split="test", methods=("attention_rollout", "gradcam"), shift=0.0):
    """A small explanation summary written through model.explain.summary (hand-made per-case scores)."""
    settings = {"sanity_threshold": 0.5, "sanity_stages": ["classifier"], "steps": 4}
    rows = pd.DataFrame(
        {
            "path": ["yes/c0.jpg", "yes/c2.jpg", "yes/c3.jpg"],
            "sha256": ["0" * 64, "2" * 64, "3" * 64],
            "group": ["g0", "g1", "g2"],
            "deletion_auc": np.array([0.2, 0.3, 0.4]) + shift,
            "insertion_auc": np.array([0.6, 0.7, 0.8]) - shift,
            "pointing_hit": [1.0, 0.0, 1.0],
            "chance_hit": [0.1, 0.1, 0.1],
            "mask_share": [0.3, 0.2, 0.4],
            "area_share": [0.1, 0.1, 0.1],
            "sanity_spearman": [0.1, 0.3, np.nan],
            "sanity_stage_0": [0.1, 0.3, np.nan],
            "seconds": [0.01, 0.01, 0.01],
        }
    )
    entry = method_summary(rows, None, np.linspace(0, 1, 5), settings)
    summary = {
        "schema_version": 1,
        "checkpoint": checkpoint,
        "split": split,
        "labels": list(LABELS),
        "settings": settings,
        "methods": {m: {"label": m.replace("_", " "), **entry} for m in methods},
    }
    cases = pd.concat([rows.assign(method=m) for m in methods])
    write_explanations(eval_dir / EVAL_SUBDIR, summary, cases, {})


def test_explanation_quality_side_by_side(folders):
    a, b = folders
    assert (
        "A has no usable explanation summary"
        in compare.compare_folders(a, b, n_resamples=0)["explanations_note"]
    )
    write_summary(a, "a" * 12)
    write_summary(b, "b" * 12, methods=("attention_rollout", "occlusion"), shift=0.1)
    out = compare.compare_folders(a, b, n_resamples=0)
    block = out["explanations"]
    assert block["split"] == "test" and list(block["methods"]) == ["attention_rollout"]
    rollout = block["methods"]["attention_rollout"]
    assert rollout["a"]["deletion_auc"]["mean"] == pytest.approx(0.3)
    assert rollout["b"]["deletion_auc"]["mean"] == pytest.approx(0.4)
    assert rollout["b"]["pointing_game"]["hit_rate"] == pytest.approx(2 / 3)
    assert (
        "only A has ['gradcam']" in out["explanations_note"]
        and "only B has ['occlusion']" in out["explanations_note"]
    )
    path = write_comparison(b / "c.json", out)
    assert read_comparison(path).data["explanations"]["methods"]["attention_rollout"]["a"]["sanity"]["n"] == 2


def test_explanation_summaries_of_another_model_or_split_are_not_compared(folders):
    a, b = folders
    write_summary(a, "a" * 12)
    write_summary(b, "c" * 12)
    out = compare.compare_folders(a, b, n_resamples=0)
    assert (
        out["explanations"] is None
        and "B's explanation summary is for another model" in out["explanations_note"]
    )
    write_summary(b, "b" * 12, split="validation")
    out = compare.compare_folders(a, b, n_resamples=0)
    assert out["explanations"] is None and "different splits" in out["explanations_note"]
