"""The one benchmark command: speed of explanations and evaluations against the obvious alternatives.

Usage (from the repo root; about 10 minutes on 2 idle cores for both models, ``--quick`` about 8, of which
the local-vs-Ray section takes about 2)::

    python -m benchmarks.run [--quick] [--out benchmarks] [--models base,bundled]

Writes ``results.json`` and ``RESULTS.md`` (a markdown table) into ``--out`` and prints every row as it is
measured. Timings are medians after a warm-up, with 2 threads; every figure is also given as a ratio to one
forward pass measured in the same run, so targets compare across machines. A research and teaching tool:
these are engineering figures, not clinical ones.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import torch
from tqdm import tqdm

from benchmarks import (
    bench_concurrency,
    bench_eval,
    bench_explain,
    bench_memory,
    bench_panel,
    bench_ray,
    notes,
)
from benchmarks.bench_forward import forward_pass, run_forward
from benchmarks.hardware import Machine, describe_machine
from benchmarks.report import ModelResult, Row, write_results
from benchmarks.settings import Settings
from benchmarks.subjects import REPO_ROOT, Subject, bundled_subject, make_random_subject, scan_paths
from benchmarks.timing import load_average, measure, set_threads
from model.data.scan import load_scan
from model.preprocess import preprocess

DEFAULT_OUT = REPO_ROOT / "benchmarks"
MODELS = ("base", "bundled")
FORWARD_IDS = ["forward", "flop_bound", "forward.int8", "predict_rollout", "load"]


def expected_ids(with_memory: bool = True, with_ray: bool = True) -> list[str]:
    """Every row id a complete run writes for one model (what the smoke test checks)."""
    ids = FORWARD_IDS + bench_explain.expected_ids() + bench_panel.expected_ids()
    ids += bench_concurrency.expected_ids() + bench_eval.expected_ids()
    ids += bench_memory.expected_ids() if with_memory else []
    return ids + (bench_ray.expected_ids() if with_ray else [])


def _section(name: str, rows: list[Row], work: Callable[[], list[Row]], bar: tqdm) -> bool:
    """Run one section, appending its rows (or an error row); True when it succeeded."""
    bar.set_description(name)
    try:
        new = work()
    except Exception as err:  # noqa: BLE001 - recorded in the table, printed, and fails the run's exit code
        traceback.print_exc()
        rows.append(Row(f"{name}.error", name, f"section failed: {type(err).__name__}", note=str(err)[:300]))
        return False
    finally:
        bar.update()
    for row in new:
        bar.write(f"  {row.id:32s} {notes.one_line(row)}")
    rows.extend(new)
    return True


def bench_subject(subject: Subject, work: Path, machine: Machine, s: Settings) -> tuple[ModelResult, bool]:
    """Measure every section on one model; returns its result and whether all sections succeeded."""
    paths, where = scan_paths(work, s.n_eval_images, use_real=not s.tiny)
    scan = paths[0]
    classifier = subject.classifier
    x = preprocess(load_scan(scan).image, classifier.preprocess)[0][None]  # (1, 3, S, S)
    eval_dir = str(subject.model_dir.parent / "eval")
    rows: list[Row] = []
    state: dict = {}

    def forward() -> list[Row]:
        found, state["fwd"] = run_forward(classifier, str(subject.model_dir), x, machine, s)
        return found

    def explain() -> list[Row]:
        found, state["target"] = bench_explain.run_explain(classifier, x, state["fwd"], s)
        return found

    def panel() -> list[Row]:
        data = scan.read_bytes()
        return bench_panel.run_panel_rows(str(subject.model_dir), data, eval_dir, state["fwd"], s)

    def concurrency() -> list[Row]:
        return bench_concurrency.run_concurrency(str(subject.model_dir), eval_dir, paths, state["fwd"], s)

    sections = [
        ("forward", forward),
        ("explanations", explain),
        ("panel", panel),
        ("concurrency", concurrency),
        ("evaluation", lambda: bench_eval.run_eval(classifier, subject.model_dir, paths, where, s)),
    ]
    if s.with_memory:
        sections.append(("memory", lambda: bench_memory.run_memory(subject.model_dir, scan, eval_dir)))
    if s.with_ray:
        sections.append(("ray", lambda: bench_ray.run_ray(subject, paths, work, s)))
    ok = True
    with tqdm(total=len(sections), desc=subject.name, unit="section", file=sys.stderr) as bar:
        for name, fn in sections:
            ok = _section(name, rows, fn, bar) and ok
            if name == "forward" and not ok:
                break  # every other figure is a ratio to the forward pass
    shown = f"{scan.parent.name}/{scan.name}" if "real" in where else f"{scan.name} (generated phantom)"
    facts = {
        "input": shown,
        "eval_images": where,
        "explained_class": state.get("target"),
        "fingerprint": classifier.fingerprint,
    }
    if "fwd" in state:  # the same forward pass again: a drift shows the machine's speed changed meanwhile
        end = measure(lambda: forward_pass(classifier, x), s.repeats, 1)
        facts |= {"forward_start_s": state["fwd"].median_s, "forward_end_s": end.median_s}
    result = ModelResult(subject.name, subject.origin, rows, facts=facts)
    notes.annotate(result)
    return result, ok


def _subjects(models: Sequence[str], work: Path, tiny: bool) -> list[Subject | ModelResult]:
    found: list[Subject | ModelResult] = []
    if "base" in models:
        found.append(make_random_subject(work, tiny))
    if "bundled" in models:
        bundled = None if tiny else bundled_subject()
        found.append(
            bundled
            or ModelResult(
                "bundled model (artifacts/model)",
                "artifacts/model",
                skipped="tiny smoke run"
                if tiny
                else "artifacts/model is absent: train it first "
                "(python -m model.train), then rerun this benchmark",
            )
        )
    return found


def run(
    quick: bool = False, tiny: bool = False, out: str | Path = DEFAULT_OUT, models: Sequence[str] = MODELS
) -> tuple[Path, bool]:
    """Run the benchmark and write ``results.json`` + ``RESULTS.md``.

    Args:
        quick: fewer repeats and cheaper references (development runs; the table says so).
        tiny: measure the tiny test ViT instead of ViT-Base (smoke test; figures meaningless).
        out: output folder.
        models: any of ``base`` (random-init ViT-Base-sized) and ``bundled`` (artifacts/model).

    Returns:
        (output folder, True when every section of every model ran).
    """
    s = Settings.make(quick, tiny)
    threads_before = torch.get_num_threads()
    set_threads(s.threads)
    try:
        load_before = load_average()
        machine = describe_machine(s.threads, quick or tiny)
        started = datetime.now(UTC)
        results, ok = [], True
        with tempfile.TemporaryDirectory(prefix="mri-bench-") as tmp:
            for item in _subjects(models, Path(tmp), tiny):
                if isinstance(item, ModelResult):
                    results.append(item)
                    continue
                result, good = bench_subject(item, Path(tmp), machine, s)
                results.append(result)
                ok = ok and good
        header = {
            "created": started.isoformat(timespec="seconds"),
            "machine": machine.to_dict(),
            "settings": {**vars(s), "description": s.describe()},
            "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
            "load_average": {"start": load_before, "end": load_average()},
        }
        return write_results(out, header, results, notes.preamble(header, results)), ok
    finally:
        torch.set_num_threads(threads_before)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and cheaper reference maps")
    parser.add_argument("--tiny", action="store_true", help="tiny test ViT (smoke run; figures meaningless)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: benchmarks/)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma list of: base, bundled")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown or not args.models:
        parser.error(f"--models takes a comma list of {', '.join(MODELS)}; got {unknown or 'nothing'}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit code 0 when every section ran, 1 when one failed, 2 on bad options."""
    args = parse_args(argv)
    out, ok = run(args.quick, args.tiny, args.out, args.models)
    print(f"wrote {out / 'RESULTS.md'} and {out / 'results.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
