"""The Ray engine (issue #18) against the local engine, on a local 2-CPU Ray, the tiny ViT and phantom scans.

One Ray is started for the module and always shut down. Each test runs one or two Ray jobs (actors import
torch and transformers on start, which dominates the time on 2 busy cores).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.cli import exit_status
from model.evaluate.artifacts import read_evaluation
from model.evaluate.engine import EngineConfig, EngineError, RayOptions, load_ray_engine, ray_options
from model.evaluate.run import main as evaluate_main
from model.evaluate.run import predict_paths
from model.explain.batch import explain_cases, prepare
from model.explain.batch import main as explain_main
from model.explain.batch import parse_args as explain_args
from model.explain.summary import read_explanation_summary
from tests.phantoms import write_phantom_dataset
from tests.unit.evaluate.test_evaluate import write_manifest
from tests.unit.ray_faults import crash_once

ray = pytest.importorskip("ray")

REPO_ROOT = Path(__file__).resolve().parents[3]
BATCH = 4
# The Ray actors run one torch thread, the local engine may run several: logits and maps can differ in the
# last float32 bits (maps are saved as float16, whose step near the largest cell of a 4x4 map is ~1e-4).
MAP_ATOL = 1e-3
SCORE_ATOL = 1e-5
EXPLAIN_METHODS = ["attention_rollout", "gradcam", "integrated_gradients"]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for the module, shut down at its end whatever happened."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("engine_ray")
    data = write_phantom_dataset(root / "data", n_per_class=5, duplicates=1)
    write_manifest(data, root / "manifest.csv")
    return {"root": root, "data": data, "model": tiny_model_dir, "manifest": root / "manifest.csv"}


def _evaluate(ws: dict, out: Path, *extra: str) -> int:
    argv = ["--model", str(ws["model"]), "--data", str(ws["data"]), "--manifest", str(ws["manifest"])]
    return exit_status(
        evaluate_main, [*argv, "--out", str(out), "--bootstrap", "20", "--batch-size", str(BATCH), *extra]
    )


def test_importing_the_dashboard_and_the_model_package_does_not_import_ray():
    code = (
        "import importlib, pkgutil, sys\n"
        "import dashboard, model\n"
        "for pkg in (dashboard, model):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith(('.engine_ray', '.__main__')):\n"
        "            importlib.import_module(m.name)\n"
        "from model.evaluate import run as evaluate\n"
        "from model.explain import batch  # noqa: F401\n"
        "evaluate.parse_args(['--model', 'm', '--data', 'd', '--out', 'o', '--name', 'x'])\n"
        "print(sorted(n for n in sys.modules if n == 'ray' or n.startswith('ray.')))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip().splitlines()[-1] == "[]"


def test_ray_options_are_checked_before_anything_runs():
    with pytest.raises(EngineError, match="--actors"):
        RayOptions(actors=0)
    with pytest.raises(EngineError, match="--cpus-per-actor"):
        RayOptions(cpus_per_actor=0)
    with pytest.raises(EngineError, match="need --engine ray"):
        EngineConfig(kind="local", address="auto")
    assert ray_options(EngineConfig(kind="ray", address="auto", actors=2)) == RayOptions("auto", 2)


def test_a_missing_ray_is_reported_with_the_install_command(monkeypatch):
    monkeypatch.delitem(sys.modules, "model.evaluate.engine_ray", raising=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray looks like to import
    with pytest.raises(EngineError, match="pip install -r requirements.txt"):
        load_ray_engine("model.evaluate.engine_ray")


def test_actors_fill_the_cluster_but_leave_a_cpu_for_decoding(ray_cluster):
    from model.evaluate.engine_ray import actor_count

    assert actor_count(RayOptions()) == 1  # 2 CPUs: one actor, one CPU for the decoding tasks
    assert actor_count(RayOptions(actors=1)) == 1
    for starving in (
        RayOptions(actors=2),
        RayOptions(actors=1, cpus_per_actor=2),
        RayOptions(gpus_per_actor=1),
    ):
        with pytest.raises(EngineError, match="cannot hold"):
            actor_count(starving)


def test_ray_evaluation_writes_the_local_files_byte_for_byte(ray_cluster, workspace, tmp_path):
    assert _evaluate(workspace, tmp_path / "local", "--no-progress") == 0
    assert _evaluate(workspace, tmp_path / "ray", "--no-progress", "--engine", "ray", "--actors", "1") == 0
    local = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert local == sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert {"train_predictions.csv", "test_results.json", "calibration.json"} <= set(local)
    for name in local:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_a_killed_actor_is_restarted_and_no_record_is_lost_or_doubled(
    ray_cluster, workspace, tiny_classifier, tmp_path
):
    from model.evaluate.engine_ray import Predictor, predict_groups

    paths = sorted(p for p in workspace["data"].rglob("*") if p.is_file())  # 12 files: 3 batches of 4
    marker = tmp_path / "crashed"
    options = RayOptions(actors=1, max_restarts=2)
    crashing = crash_once(Predictor, marker, index=1)
    (got,) = predict_groups(
        tiny_classifier,
        str(workspace["model"]),
        [(paths, None)],
        BATCH,
        options,
        progress=False,
        predictor=crashing,
    )
    assert marker.exists()  # the actor did die on the second batch
    want = predict_paths(tiny_classifier, paths, BATCH, progress=False)
    assert got.shape == want.shape == (len(paths), len(tiny_classifier.labels))
    np.testing.assert_array_equal(got, want)


def test_a_failed_job_leaves_the_previous_evaluation_readable(ray_cluster, workspace, tmp_path, capsys):
    out = tmp_path / "eval"
    assert _evaluate(workspace, out, "--no-progress") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = tmp_path / "data"
    broken.mkdir()
    for p in workspace["data"].rglob("*"):
        if p.is_file():
            (broken / p.relative_to(workspace["data"])).parent.mkdir(exist_ok=True)
            (broken / p.relative_to(workspace["data"])).write_bytes(p.read_bytes())
    victim = sorted(broken.rglob("*.jpg"))[-1]
    victim.write_bytes(b"not an image")  # the job fails part-way, in a decoding task
    ws = {**workspace, "data": broken}
    assert _evaluate(ws, out, "--no-progress", "--engine", "ray", "--actors", "1") == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error:") and victim.name in last and "Traceback" not in last
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert len(read_evaluation(out, "test").records) > 0


def _explain_argv(ws: dict, out: Path, *extra: str) -> list[str]:
    base = ["--model", str(ws["model"]), "--data", str(ws["data"]), "--eval", str(ws["root"] / "noeval")]
    return [
        *base,
        "--manifest",
        str(ws["manifest"]),
        "--split",
        "train",
        "--out",
        str(out),
        "--methods",
        *EXPLAIN_METHODS,
        "--steps",
        "4",
        "--sanity-cases",
        "2",
        *extra,
    ]


def _assert_close(local: object, other: object, where: str) -> None:
    """Same tree; floats within SCORE_ATOL (timings skipped: they are measured, not computed)."""
    if isinstance(local, dict):
        assert list(local) == list(other), where
        for key in local:
            if "seconds" not in key:
                _assert_close(local[key], other[key], f"{where}.{key}")
    elif isinstance(local, list):
        assert len(local) == len(other), where
        for i, (a, b) in enumerate(zip(local, other, strict=True)):
            _assert_close(a, b, f"{where}[{i}]")
    elif isinstance(local, float) and not (
        isinstance(other, float) and math.isnan(local) and math.isnan(other)
    ):
        assert other == pytest.approx(local, abs=SCORE_ATOL), where
    else:
        assert local == other, where


def test_ray_explanations_match_the_local_ones(ray_cluster, workspace, tmp_path):
    assert explain_main(_explain_argv(workspace, tmp_path / "local")) == 0
    assert (
        explain_main(
            _explain_argv(
                workspace, tmp_path / "ray", "--engine", "ray", "--actors", "1", "--batch-size", "2"
            )
        )
        == 0
    )
    local, ray_ = read_explanation_summary(tmp_path / "local"), read_explanation_summary(tmp_path / "ray")
    _assert_close(local.summary, ray_.summary, "summary")
    columns = [c for c in local.cases.columns if c != "seconds"]
    assert list(ray_.cases.columns) == list(local.cases.columns)
    pd.testing.assert_frame_equal(
        ray_.cases[columns], local.cases[columns], check_exact=False, atol=SCORE_ATOL
    )
    with np.load(tmp_path / "local" / "maps.npz") as a, np.load(tmp_path / "ray" / "maps.npz") as b:
        assert list(a.keys()) == list(b.keys())
        for key in a:
            np.testing.assert_allclose(
                b[key].astype(np.float32), a[key].astype(np.float32), atol=MAP_ATOL, err_msg=key
            )
    assert json.loads((tmp_path / "ray" / "summary.json").read_text())["n_cases"] == local.summary["n_cases"]


def test_a_killed_explanation_actor_loses_no_case(ray_cluster, workspace, tmp_path):
    from model.explain.engine_ray import CaseExplainer, explain_cases_ray

    args = explain_args(
        _explain_argv(workspace, tmp_path / "x", "--engine", "ray", "--limit", "3", "--sanity-cases", "0")
    )
    run = prepare(args)
    marker = tmp_path / "crashed"
    rows, store = explain_cases_ray(run, RayOptions(actors=1), crash_once(CaseExplainer, marker, index=2))
    assert marker.exists()
    want_rows, want_store = explain_cases(run)
    drop = lambda rs: pd.DataFrame(rs).drop(columns="seconds")  # noqa: E731
    pd.testing.assert_frame_equal(drop(rows), drop(want_rows), check_exact=False, atol=SCORE_ATOL)
    assert list(store["maps"]) == list(want_store["maps"])
    for name, curves in want_store["curves"].items():
        np.testing.assert_allclose(np.asarray(store["curves"][name]), np.asarray(curves), atol=SCORE_ATOL)


def test_explanations_refuse_gpu_actors_with_the_fix(ray_cluster, workspace, tmp_path, capsys):
    argv = _explain_argv(
        workspace, tmp_path / "g", "--engine", "ray", "--gpus-per-actor", "1", "--limit", "1"
    )
    assert exit_status(explain_main, argv) == 2
    assert "drop --gpus-per-actor" in capsys.readouterr().err


def test_benchmark_section_times_both_engines_on_the_same_job(ray_cluster, tmp_path):
    from benchmarks import bench_ray
    from benchmarks.settings import Settings
    from benchmarks.subjects import make_random_subject, phantom_scan_paths

    s = Settings.make(quick=True, tiny=True)
    subject = make_random_subject(tmp_path, tiny=True)
    rows = bench_ray.run_ray(subject, phantom_scan_paths(tmp_path, s.n_eval_images), tmp_path, s)
    by_id = {r.id: r for r in rows}
    assert list(by_id) == bench_ray.expected_ids()
    assert "already running" in by_id["ray.start"].what  # the module's Ray was joined, not a second one
    for engine in ("local", "ray"):
        assert by_id[f"ray.eval.{engine}"].value == pytest.approx(
            s.n_eval_images / by_id[f"ray.eval.{engine}"].time_s
        )
        explain = by_id[f"ray.explain.{engine}"]
        assert explain.value == pytest.approx(s.ray_explain_images / explain.time_s)
    local = by_id["ray.eval.local"].value
    assert f"{by_id['ray.eval.ray'].value / local:.2f}×" in by_id["ray.eval.ray"].note
