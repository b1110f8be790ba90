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

from model.artifacts import list_evaluations, read_calibration, read_evaluation
from model.calibration import fit_temperature
from model.evaluate import EvaluationInputError, main, predict_paths, quantize_int8
from model.labels import LABELS
from model.loading import load_classifier
from model.metrics import compute_metrics
from model.synthetic import write_phantom_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
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
        assert main(argv) == 2, argv
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
# Re-running inference on the same CPU build gives bit-identical logits; another CPU or BLAS build may differ
# in the last float32 bits (~1e-7). Metrics move by far less than these tolerances unless a decision flips.
REPRODUCE_LOGIT_ATOL = 1e-5
REPRODUCE_METRIC_ATOL = 1e-6


def assert_same_tree(fresh: object, committed: object, where: str = "results") -> None:
    """Recursive equality: floats within REPRODUCE_METRIC_ATOL (NaN equals NaN), everything else exact."""
    if isinstance(committed, dict):
        assert isinstance(fresh, dict) and fresh.keys() == committed.keys(), where
        for key in committed:
            assert_same_tree(fresh[key], committed[key], f"{where}.{key}")
    elif isinstance(committed, list):
        assert isinstance(fresh, list) and len(fresh) == len(committed), where
        for i, (a, b) in enumerate(zip(fresh, committed, strict=True)):
            assert_same_tree(a, b, f"{where}[{i}]")
    elif isinstance(committed, float) and not isinstance(committed, bool):
        both_nan = np.isnan(fresh) and np.isnan(committed)
        assert both_nan or abs(fresh - committed) <= REPRODUCE_METRIC_ATOL, where
    else:
        assert fresh == committed, where


@pytest.fixture(scope="module")
def bundled() -> dict:
    """The committed evaluations of the bundled model (they are produced by python -m model.evaluate)."""
    if not (BUNDLED_MODEL / "config.json").is_file() or not list_evaluations(BUNDLED_EVAL):
        pytest.skip("the bundled model and evaluations (artifacts/model, artifacts/eval) are not made yet")
    fingerprint = load_classifier(BUNDLED_MODEL).fingerprint
    names = list_evaluations(BUNDLED_EVAL)
    return {name: read_evaluation(BUNDLED_EVAL, name, fingerprint, LABELS) for name in names}


def test_bundled_results_are_recomputed_exactly_from_the_bundled_records(bundled):
    for name, ev in bundled.items():
        r = ev.results
        for calibrated, view in ((False, r), (True, r["calibrated"])):
            again = compute_metrics(
                ev.records,
                ev.labels,
                r["positive_label"],
                r["threshold"],
                calibrated,
                r["bootstrap"]["resamples"],
                r["bootstrap"]["seed"],
            )
            np.testing.assert_equal(
                {k: again[k] for k in ("metrics", "ci95", "confusion", "undefined")},
                {k: view[k] for k in ("metrics", "ci95", "confusion", "undefined")},
                name,
            )


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
    for name in splits:
        fresh, committed = read_evaluation(tmp_path, name), bundled[name]
        float_columns = [c for c in committed.records.columns if committed.records[c].dtype.kind == "f"]
        other = [c for c in committed.records.columns if c not in float_columns]
        pd.testing.assert_frame_equal(fresh.records[other], committed.records[other])
        np.testing.assert_allclose(
            fresh.records[float_columns], committed.records[float_columns], rtol=0, atol=REPRODUCE_LOGIT_ATOL
        )
        skip = ("predictions_sha256",)  # the CSV bytes differ if any float's last digit does
        assert_same_tree(
            {k: v for k, v in fresh.results.items() if k not in skip},
            {k: v for k, v in committed.results.items() if k not in skip},
            name,
        )
    assert read_calibration(tmp_path).temperature == pytest.approx(read_calibration(BUNDLED_EVAL).temperature)
