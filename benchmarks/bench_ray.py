"""Local engine vs Ray engine (issue #18) on this machine: evaluation and one slow method, as ratios.

Both engines run the same job on the same files: ``predict_groups`` against ``predict_paths`` for the
evaluation, ``explain_cases_ray`` against ``explain_cases`` (Integrated Gradients and its deletion/insertion
curves) for the explanations. A local Ray is started for the section (its start-up time is its own row) with
the machine's CPUs; the Ray job times include starting the actors (each imports torch and loads the model),
as every real job pays that once. On 2 cores Ray is expected to be slower; see :data:`WHY_SLOWER`.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pandas as pd

from benchmarks.report import Row
from benchmarks.settings import Settings
from benchmarks.subjects import Subject
from benchmarks.timing import measure
from model.evaluate.engine import RayOptions
from model.evaluate.run import predict_paths
from model.explain.batch import Run, explain_cases, parse_args, prepare

SECTION = "ray"
SLOW_METHOD = "integrated_gradients"
ONE_ACTOR = "1 actor × 1 CPU (time includes starting it)"
CURVE_STEPS = 4  # deletion/insertion points: few, so the method itself dominates the explanation time
WHY_SLOWER = (
    "on 2 cores Ray keeps one core for decoding, so its single model actor runs 1 torch thread against the "
    "local engine's 2; each job also starts its actors (a fresh process importing torch and loading the "
    "model) and moves every batch through the object store. Ray pays off across nodes, not on one small box"
)


def _manifest(paths: list[Path], labels: tuple[str, ...], out: Path) -> tuple[Path, Path]:
    """A one-split manifest of ``paths`` (all in ``test``); returns (manifest, data root)."""
    root = Path(os.path.commonpath([p.parent for p in paths]))
    rows = [
        {
            "path": p.relative_to(root).as_posix(),
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "label": labels[i % len(labels)],  # the labels only name the cases here; nothing is scored
            "group": f"g{i}",
            "split": "test",
        }
        for i, p in enumerate(paths)
    ]
    pd.DataFrame(rows).to_csv(out, index=False)
    return out, root


def _ratio_row(row_id: str, what: str, local: float, ray_: float, n: int, unit: str) -> Row:
    rate = n / ray_
    return Row(
        row_id,
        SECTION,
        what,
        ray_,
        value=rate,
        unit=unit,
        note=f"Ray / local throughput {rate / (n / local):.2f}× (local {n / local:.3g} {unit}); {WHY_SLOWER}",
    )


def _explain_run(subject: Subject, paths: list[Path], work: Path) -> Run:
    """The explanation job of ``paths`` (one split of a manifest written here), prepared as the CLI does."""
    manifest, root = _manifest(paths, subject.classifier.labels, work / "ray_manifest.csv")
    argv = ["--model", str(subject.model_dir), "--data", str(root), "--eval", str(work / "no_eval")]
    argv += ["--manifest", str(manifest), "--split", "test", "--out", str(work / "ray_out")]
    argv += ["--methods", SLOW_METHOD, "--steps", str(CURVE_STEPS), "--sanity-cases", "0"]
    return prepare(parse_args(argv))


def run_ray(subject: Subject, paths: list[Path], work: Path, s: Settings) -> list[Row]:
    """Rows: Ray start-up, then local and Ray throughput of the evaluation and of the slow method.

    Args:
        subject: the model. paths: scan files (the first ``s.ray_explain_images`` are explained).
        work: a scratch folder. s: run settings.
    """
    import ray

    from model.evaluate.engine_ray import predict_groups, ray_session
    from model.explain.engine_ray import explain_cases_ray

    clf, n, bs, model_dir = subject.classifier, len(paths), s.eval_batch_size, str(subject.model_dir)
    options = RayOptions(actors=1, cpus_per_actor=1.0)
    run = _explain_run(subject, paths[: s.ray_explain_images], work)
    where = "already running" if ray.is_initialized() else "started here"
    start = time.perf_counter()
    with ray_session(options):
        started_s = time.perf_counter() - start
        predict_paths(clf, paths[:2], bs, progress=False)  # warm-up of the local engine
        local = measure(lambda: predict_paths(clf, paths, bs, progress=False), 1, 0).median_s
        ray_s = measure(
            lambda: predict_groups(clf, model_dir, [(paths, None)], bs, options, progress=False), 1, 0
        )
        local_ex = measure(lambda: explain_cases(run), 1, 0).median_s
        ray_ex = measure(lambda: explain_cases_ray(run, options), 1, 0).median_s
    k, curves = len(run.cases), f"{SLOW_METHOD} + {CURVE_STEPS}-step curves"
    return [
        Row("ray.start", SECTION, f"ray.init: a local Ray ({where})", started_s),
        Row(
            "ray.eval.local",
            SECTION,
            f"local: predict_paths, batch {bs}",
            local,
            value=n / local,
            unit="images/s",
        ),
        _ratio_row(
            "ray.eval.ray",
            f"Ray: predict_groups, {ONE_ACTOR}, batch {bs}",
            local,
            ray_s.median_s,
            n,
            "images/s",
        ),
        Row(
            "ray.explain.local",
            SECTION,
            f"local: explain_cases, {curves}",
            local_ex,
            value=k / local_ex,
            unit="scans/s",
        ),
        _ratio_row(
            "ray.explain.ray",
            f"Ray: explain_cases_ray, {curves}, {ONE_ACTOR}",
            local_ex,
            ray_ex,
            k,
            "scans/s",
        ),
    ]


def expected_ids() -> list[str]:
    """Row ids this section always produces."""
    return ["ray.start", "ray.eval.local", "ray.eval.ray", "ray.explain.local", "ray.explain.ray"]
