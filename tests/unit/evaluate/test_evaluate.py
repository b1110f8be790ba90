"""End-to-end evaluation CLI on a phantom data set with the tiny ViT, inference, int8 and bad input."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.cli import exit_status
from model.evaluate.artifacts import (
    RECORD_KEYS,
    VIEW_KEYS,
    build_records,
    build_results,
    list_evaluations,
    read_calibration,
    read_evaluation,
)
from model.evaluate.calibration import TemperatureFit, fit_temperature
from model.evaluate.metrics import CAL_PREFIX, LOGIT_PREFIX, PROB_PREFIX, compute_metrics, probability_columns
from model.evaluate.run import EvaluationInputError, main, predict_paths, quantize_int8
from model.labels import LABELS
from model.loading import load_classifier
from tests.phantoms import write_phantom_dataset

REPO_ROOT = Path(__file__).resolve().parents[3]
N_BOOT = 100  # enough resamples to exercise the intervals, few enough to keep the test fast
# Logits of one image depend slightly on its batch companions (blocked matmuls); far below any decision.
BATCH_ATOL = 1e-5
# Dynamic int8 of the tiny random ViT moves its logits by ~1e-2; a broken quantization moves them by ~1.
INT8_ATOL = 0.1


def write_manifest(data: Path, out: Path) -> pd.DataFrame:
    """Hand-made manifest: "_copy" files share their original's group; groups go 1:1:2 to val/test/train."""
    rows = []
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        rel = path.relative_to(data).as_posix()
        group = re.sub(r"(_copy)?\.\w+$", "", rel)
        index = int(re.search(r"(\d+)", path.name).group(1))
        split = {0: "validation", 1: "test"}.get(index % 4, "train")
        rows.append(
            {
                "path": rel,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "label": "tumor" if rel.startswith("yes/") else "no tumor",
                "group": group,
                "split": split,
            }
        )
    frame = pd.DataFrame(rows)
    frame.to_csv(out, index=False)
    return frame


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny_model_dir):
    """Phantom data + manifest, evaluated once by the CLI into an eval folder."""
    root = tmp_path_factory.mktemp("evaluate")
    data = write_phantom_dataset(root / "data", n_per_class=12, duplicates=2)
    manifest = write_manifest(data, root / "manifest.csv")
    out = root / "eval"
    code = main(
        [
            "--model",
            str(tiny_model_dir),
            "--data",
            str(data),
            "--manifest",
            str(root / "manifest.csv"),
            "--out",
            str(out),
            "--bootstrap",
            str(N_BOOT),
            "--no-progress",
        ]
    )
    assert code == 0
    return {"root": root, "data": data, "manifest": manifest, "out": out, "model": tiny_model_dir}


def test_every_split_and_the_calibration_are_written(evaluated):
    assert list_evaluations(evaluated["out"]) == ["train", "validation", "test"]
    assert (evaluated["out"] / "calibration.json").is_file()


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_records_match_the_manifest_and_direct_inference(evaluated, tiny_classifier, split):
    ev = read_evaluation(evaluated["out"], split, tiny_classifier.fingerprint, LABELS)
    cases = evaluated["manifest"].query("split == @split").sort_values("path").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        ev.records[["path", "sha256", "group", "label"]], cases[["path", "sha256", "group", "label"]]
    )
    logits = predict_paths(tiny_classifier, [evaluated["data"] / p for p in cases["path"]], 5, progress=False)
    assert np.allclose(ev.records[["logit_no tumor", "logit_tumor"]].to_numpy(), logits, atol=BATCH_ATOL)
    assert ev.results["n"] == len(cases) and ev.results["kind"] == "split"
    assert ev.results["precision"] == "fp32"
    assert ev.results["checkpoint"] == tiny_classifier.fingerprint


def test_saved_metrics_are_recomputed_exactly_from_the_records(evaluated):
    ev = read_evaluation(evaluated["out"], "test")
    for calibrated, view in ((False, ev.results), (True, ev.results["calibrated"])):
        again = compute_metrics(ev.records, LABELS, calibrated=calibrated, n_resamples=N_BOOT)
        assert again["confusion"] == view["confusion"] and again["undefined"] == view["undefined"]
        np.testing.assert_equal(again["metrics"], view["metrics"])  # NaN-aware, exact
        np.testing.assert_equal(again["ci95"], view["ci95"])


def test_temperature_is_fitted_on_the_validation_split_only(evaluated):
    fit = read_calibration(evaluated["out"])
    val = read_evaluation(evaluated["out"], "validation").records
    y = val["label"].map(LABELS.index).to_numpy()
    refit = fit_temperature(val[["logit_no tumor", "logit_tumor"]].to_numpy(), y)
    assert fit.fitted_on == "validation" and fit.n == len(val)
    assert fit.temperature == pytest.approx(refit.temperature) and fit.nll_after <= fit.nll_before
    for split in ("train", "test"):
        calibrated = read_evaluation(evaluated["out"], split).results["calibrated"]
        assert calibrated["temperature"] == fit.temperature


def test_an_external_folder_is_scored_under_its_own_name(evaluated, tmp_path):
    data = write_phantom_dataset(tmp_path / "other", n_per_class=4, duplicates=1)
    out = evaluated["out"]
    assert (
        main(
            [
                "--model",
                str(evaluated["model"]),
                "--data",
                str(data),
                "--name",
                "external",
                "--out",
                str(out),
                "--bootstrap",
                str(N_BOOT),
                "--no-progress",
            ]
        )
        == 0
    )
    ev = read_evaluation(out, "external")
    assert ev.results["kind"] == "external" and ev.results["manifest_sha256"] is None
    assert ev.results["n"] == 10 and ev.results["n_groups"] == 8  # each copy joins its original's group
    assert ev.results["calibrated"]["temperature"] == read_calibration(out).temperature
    assert list_evaluations(out)[-1] == "external"


def test_int8_copy_is_quantized_close_and_leaves_the_original_alone(tiny_classifier, evaluated):
    import torch

    paths = [evaluated["data"] / p for p in evaluated["manifest"]["path"][:6]]
    q = quantize_int8(tiny_classifier)
    kinds = {type(m).__module__ for m in q.model.modules()}
    assert any("quantized" in k for k in kinds)
    original = list(tiny_classifier.model.modules())
    assert any(type(m) is torch.nn.Linear for m in original)  # the original keeps its float layers
    assert not any("quantized" in type(m).__module__ for m in original)
    fp32, int8 = (predict_paths(c, paths, progress=False) for c in (tiny_classifier, q))
    assert np.abs(fp32 - int8).max() < INT8_ATOL and q.fingerprint == tiny_classifier.fingerprint


def test_int8_run_says_so_in_the_results(evaluated, tmp_path):
    code = main(
        [
            "--model",
            str(evaluated["model"]),
            "--data",
            str(evaluated["data"]),
            "--manifest",
            str(evaluated["root"] / "manifest.csv"),
            "--out",
            str(tmp_path),
            "--split",
            "test",
            "--int8",
            "--bootstrap",
            "0",
            "--no-progress",
        ]
    )
    assert code == 0 and list_evaluations(tmp_path) == ["test"]
    ev = read_evaluation(tmp_path, "test")
    assert ev.results["precision"] == "int8" and ev.results["ci95"] is None


def test_predict_paths_checks_content_hashes(tiny_classifier, evaluated):
    paths = [evaluated["data"] / p for p in evaluated["manifest"]["path"][:3]]
    hashes = list(evaluated["manifest"]["sha256"][:3])
    assert predict_paths(tiny_classifier, paths, 2, False, hashes).shape == (3, 2)
    with pytest.raises(EvaluationInputError, match="sha256 mismatch"):
        predict_paths(tiny_classifier, paths, 2, False, hashes[::-1])


def bad_runs(evaluated, tmp_path) -> list[tuple[list[str], str]]:
    changed = tmp_path / "changed"
    shutil.copytree(evaluated["data"], changed)
    first = evaluated["manifest"]["path"][0]
    shutil.copy(changed / evaluated["manifest"]["path"].iloc[-1], changed / first)  # other content
    base = ["--model", str(evaluated["model"]), "--out", str(tmp_path / "eval"), "--no-progress"]
    manifest = ["--manifest", str(evaluated["root"] / "manifest.csv")]
    return [
        (
            [
                "--model",
                str(tmp_path / "nope"),
                "--data",
                str(changed),
                "--name",
                "x",
                "--out",
                str(tmp_path),
            ],
            "does not exist",
        ),
        ([*base, "--data", str(changed), *manifest], "sha256 mismatch"),
        ([*base, "--data", str(tmp_path / "absent"), *manifest], "missing under --data"),
        ([*base, "--data", str(evaluated["data"]), "--name", "test"], "file prefix"),
        ([*base, "--data", str(evaluated["data"]), "--manifest", str(tmp_path / "none.csv")], "not found"),
        ([*base, "--data", str(evaluated["data"]), *manifest, "--positive", "glioma"], "--positive"),
    ]


def test_bad_input_gives_one_line_and_exit_code_2(evaluated, tmp_path, capsys):
    for argv, message in bad_runs(evaluated, tmp_path):
        assert exit_status(main, argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], (argv, err)
    assert not (tmp_path / "eval").exists() or not list_evaluations(tmp_path / "eval")
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "m", "--data", "d", "--name", "x", "--out", "o", "--split", "test"])
    assert exit_info.value.code == 2


def test_module_cli_reports_without_traceback(tmp_path):
    argv = ["--model", str(tmp_path / "nope"), "--data", str(tmp_path), "--name", "x", "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "model.evaluate", *argv], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: ") and "does not exist" in done.stderr


def test_model_reloads_to_the_same_fingerprint(evaluated):
    saved = read_evaluation(evaluated["out"], "test").checkpoint
    assert load_classifier(evaluated["model"]).fingerprint == saved


BUNDLED_MODEL, BUNDLED_EVAL = REPO_ROOT / "artifacts" / "model", REPO_ROOT / "artifacts" / "eval"
BUNDLED_MANIFEST = REPO_ROOT / "artifacts" / "split_manifest.csv"
# Re-running inference on another CPU (or BLAS/oneDNN code path) changes float32 logits in their last bits.
# Measured by forcing other kernels (ATEN_CPU_CAPABILITY=default/avx2, ONEDNN_MAX_CPU_ISA=AVX2/SSE41,
# MKL_CBWR=COMPATIBLE): <= 3e-7 for a 4-layer ViT at 64 px and <= 2e-6 for a 12-layer ViT-Base at 224 px.
# 1e-4 is 50x the larger one and still 100x below a logit change that means anything.
REPRODUCE_LOGIT_ATOL = 1e-4
# Softmax is 1/2-Lipschitz in the max-norm (sum_j |dp_k/dz_j| = 2 p_k (1 - p_k) <= 1/2), so probabilities
# move by at most half the logits' tolerance.
REPRODUCE_PROB_ATOL = REPRODUCE_LOGIT_ATOL / 2
# The temperature is refitted on the fresh validation logits: its optimum moves by about their relative
# change (a 1e-4 shift of logits of size >= 0.1) plus the search's own tolerance (1e-6 in log T).
REPRODUCE_TEMPERATURE_RTOL = 1e-3
# The committed CSV is recomputed from its own logits with float64 numpy; SIMD exp paths differ by an ulp.
RECORDS_RTOL = 1e-12


@pytest.fixture(scope="module")
def bundled() -> dict:
    """The committed evaluations of the bundled model (they are produced by python -m model.evaluate)."""
    if not (BUNDLED_MODEL / "config.json").is_file() or not list_evaluations(BUNDLED_EVAL):
        pytest.skip("the bundled model and evaluations (artifacts/model, artifacts/eval) are not made yet")
    fingerprint = load_classifier(BUNDLED_MODEL).fingerprint
    names = list_evaluations(BUNDLED_EVAL)
    return {name: read_evaluation(BUNDLED_EVAL, name, fingerprint, LABELS) for name in names}


def _fit_of(results: dict) -> TemperatureFit | None:
    cal = results["calibrated"]
    return None if cal is None else TemperatureFit(cal["temperature"], cal["fitted_on"], 0, 0.0, 0.0, False)


def _columns(labels: tuple[str, ...] | list[str]) -> tuple[list[str], list[str], list[str]]:
    """(logit, probability, calibrated probability) column names of a predictions CSV."""
    logits = [f"{LOGIT_PREFIX}{label}" for label in labels]
    return logits, probability_columns(labels), probability_columns(labels, calibrated=True)


def test_bundled_records_follow_from_their_own_logits(bundled):
    for name, ev in bundled.items():
        logits, probs, cal = _columns(ev.labels)
        fit = _fit_of(ev.results)
        again = build_records(
            ev.records[list(RECORD_KEYS)],
            ev.records[logits].to_numpy(),
            ev.labels,
            fit.temperature if fit else None,
            ev.results["positive_label"],
        )
        assert list(again.columns) == list(ev.records.columns), name
        floats = [*logits, *probs, *(cal if fit else [])]
        pd.testing.assert_frame_equal(again.drop(columns=floats), ev.records.drop(columns=floats))
        np.testing.assert_allclose(again[floats], ev.records[floats], rtol=RECORDS_RTOL, atol=0, err_msg=name)
        if fit is not None and ev.results["kind"] == "split":
            assert fit.temperature == read_calibration(BUNDLED_EVAL).temperature, name


def test_bundled_results_are_recomputed_exactly_from_the_bundled_records(bundled):
    """Every number of each committed *_results.json follows exactly from its committed predictions CSV."""
    for name, ev in bundled.items():
        r = ev.results
        again = build_results(
            name,
            ev.records,
            ev.labels,
            r["checkpoint"],
            kind=r["kind"],
            precision=r["precision"],
            manifest_sha256=r["manifest_sha256"],
            data=r["data"],
            calibration=_fit_of(r),
            positive=r["positive_label"],
            threshold=r["threshold"],
            n_resamples=r["bootstrap"]["resamples"],
            seed=r["bootstrap"]["seed"],
        )
        written = {k: v for k, v in r.items() if k not in ("predictions_file", "predictions_sha256")}
        np.testing.assert_equal(again, written, name)


def _firm(records: pd.DataFrame, column: str, threshold: float, atol: float) -> pd.Series:
    """Cases whose decision no change of up to ``atol`` in the positive probability can flip."""
    return (records[column] - threshold).abs() > atol


def _assert_reproduced(fresh, committed, temperature: float) -> None:
    """Fresh records equal the committed ones: text exactly, numbers within the REPRODUCE tolerances."""
    f, c = fresh.records, committed.records
    logits, probs, cal = _columns(committed.labels)
    assert list(f.columns) == list(c.columns)
    pd.testing.assert_frame_equal(f[list(RECORD_KEYS)], c[list(RECORD_KEYS)])
    np.testing.assert_allclose(f[logits], c[logits], rtol=0, atol=REPRODUCE_LOGIT_ATOL)
    np.testing.assert_allclose(f[probs], c[probs], rtol=0, atol=REPRODUCE_PROB_ATOL)
    # pcal = softmax(z / T): both z and the refitted T may move (d(z/T) = dz/T - z dT/T^2).
    z = float(np.abs(c[logits].to_numpy()).max())
    cal_atol = 0.5 * (REPRODUCE_LOGIT_ATOL + z * REPRODUCE_TEMPERATURE_RTOL) / temperature
    if cal[0] in c:
        np.testing.assert_allclose(f[cal], c[cal], rtol=0, atol=cal_atol)
    threshold, positive = committed.results["threshold"], committed.results["positive_label"]
    firm = _firm(c, f"{PROB_PREFIX}{positive}", 0.5, REPRODUCE_PROB_ATOL)  # the CSV's decision rule
    assert (f["predicted"][firm] == c["predicted"][firm]).all()
    # Threshold metrics are compared only where no decision sits within the tolerance of the threshold;
    # rank metrics (ROC-AUC, PR-AUC) never: exactly tied scores reorder with a last-bit change of a logit.
    if _firm(c, f"{PROB_PREFIX}{positive}", threshold, REPRODUCE_PROB_ATOL).all():
        assert fresh.results["confusion"] == committed.results["confusion"]
    if committed.results["calibrated"] and _firm(c, f"{CAL_PREFIX}{positive}", threshold, cal_atol).all():
        assert fresh.results["calibrated"]["confusion"] == committed.results["calibrated"]["confusion"]


@pytest.mark.realdata
@pytest.mark.slow
def test_evaluating_the_bundled_model_again_reproduces_the_committed_results(bundled, real_data, tmp_path):
    code = main(
        [
            "--model",
            str(BUNDLED_MODEL),
            "--data",
            str(real_data),
            "--manifest",
            str(BUNDLED_MANIFEST),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    splits = [name for name, ev in bundled.items() if ev.results["kind"] == "split"]
    assert splits == list_evaluations(tmp_path)
    temperature = read_calibration(BUNDLED_EVAL).temperature
    assert read_calibration(tmp_path).temperature == pytest.approx(
        temperature, rel=REPRODUCE_TEMPERATURE_RTOL
    )
    for name in splits:
        fresh, committed = read_evaluation(tmp_path, name), bundled[name]
        _assert_reproduced(fresh, committed, temperature)
        # Everything that does not depend on the logits' last bits is identical.
        same = [k for k in committed.results if k not in (*VIEW_KEYS, "calibrated", "predictions_sha256")]
        assert {k: fresh.results[k] for k in same} == {k: committed.results[k] for k in same}, name
