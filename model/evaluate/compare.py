"""Compare two models on the same saved evaluations: paired metrics, McNemar, disagreements; a CI gate.

CLI::

    python -m model.evaluate.compare artifacts/baselines/vit-scratch-64/eval artifacts/eval --out
    comparison.json \\
        [--split test] [--threshold 0.5] [--calibrated] [--bootstrap 1000] [--seed 0] \\
        [--fail-if-worse accuracy:0.02 --fail-if-worse roc_auc:0.05 [--gate-split test]]

A is the reference, B the candidate; every difference is B - A. The comparison file's format is defined in
:mod:`model.evaluate.comparison`. ``--fail-if-worse METRIC:MARGIN`` (repeatable) exits with status 1 when B
is worse
than A on the gate split by more than MARGIN (in the metric's own units; for brier, nll and ece "worse" means
larger), or when the difference is undefined. Status 2: the inputs cannot be compared (one sentence on
stderr). A research and teaching tool: two models on a few dozen scans differ by chance more than one expects.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model.cli import EXIT_INPUT, ConfigCli, raise_as, run_cli
from model.evaluate.artifacts import Evaluation, list_evaluations, read_evaluation
from model.evaluate.comparison import (
    ComparisonError,
    PairedSettings,
    build_comparison,
    compare_explanations,
    write_comparison,
)
from model.evaluate.metrics import BOOTSTRAP_SEED, LOWER_IS_BETTER, N_BOOTSTRAP, SCALARS
from model.explain import summary as explain_summary

DEFAULT_OUT = "comparison.json"
DEFAULT_GATE_SPLIT = "test"
REPORTED = ("accuracy", "balanced_accuracy", "roc_auc", "sensitivity", "specificity", "brier")
EXIT_WORSE, EXIT_ERROR = 1, EXIT_INPUT


def load_pairs(
    a_dir: str | Path, b_dir: str | Path, names: list[str] | None = None
) -> tuple[dict[str, tuple[Evaluation, Evaluation]], list[str], list[str]]:
    """Read the evaluations both folders hold (or only ``names``), validated by :func:`read_evaluation`.

    Args:
        a_dir: evaluation folder of model A (the reference).
        b_dir: evaluation folder of model B (the candidate).
        names: evaluation names to read; None (or empty) reads every name both folders hold.

    Returns:
        (name -> (A's, B's evaluation), names only in A, names only in B).

    Raises:
        ComparisonError: nothing shared, or a requested name missing from a folder.
        ArtifactError: an evaluation is unreadable (its message names the command that regenerates it).
    """
    in_a, in_b = list_evaluations(a_dir), list_evaluations(b_dir)
    shared = [n for n in in_a if n in in_b]
    if names:
        if missing := [n for n in names if n not in shared]:
            raise ComparisonError(
                f"{missing} is not saved in both folders (A: {in_a}, B: {in_b}): run python -m "
                "model.evaluate for it on both models, or pick a shared split."
            )
        shared = list(names)
    if not shared:
        raise ComparisonError(
            f"{a_dir} (A: {in_a}) and {b_dir} (B: {in_b}) share no saved evaluation: evaluate both models "
            "on the same split manifest with python -m model.evaluate."
        )
    pairs = {n: (read_evaluation(a_dir, n), read_evaluation(b_dir, n)) for n in shared}
    return pairs, [n for n in in_a if n not in in_b], [n for n in in_b if n not in in_a]


def read_summary(eval_dir: str | Path) -> explain_summary.ExplanationSummary:
    """The explanation summary saved in ``eval_dir/explanations`` (raises ``ExplanationArtifactError``)."""
    return explain_summary.read_explanation_summary(Path(eval_dir) / explain_summary.EVAL_SUBDIR)


def explanation_quality(dirs: tuple[str | Path, str | Path], pairs: dict) -> tuple[dict | None, str]:
    """The side-by-side explanation block when both folders hold a summary of their own model, else why not.

    Args:
        dirs: (A's, B's) evaluation folder; each may hold ``explanations/summary.json``.
        pairs: evaluation name -> (A's, B's evaluation), from :func:`load_pairs`.

    Returns:
        (:func:`model.evaluate.comparison.compare_explanations` block or None, a note).
    """
    loaded = []
    for side, eval_dir, index in (("A", dirs[0], 0), ("B", dirs[1], 1)):
        try:
            found = read_summary(eval_dir)
        except explain_summary.ExplanationArtifactError as err:
            return None, f"{side} has no usable explanation summary ({err})."
        split = found.summary["split"]
        if split in pairs and found.checkpoint != pairs[split][index].checkpoint:
            return (
                None,
                f"{side}'s explanation summary is for another model: {explain_summary.fix_command()}.",
            )
        loaded.append(found)
    return compare_explanations(*loaded)


def resolve_threshold(pairs: dict[str, tuple[Evaluation, Evaluation]], threshold: float | None) -> float:
    """The given threshold, else the one every evaluation was saved at.

    Args:
        pairs: evaluation name -> (A's, B's evaluation).
        threshold: the threshold asked for, or None for the saved one.

    Returns:
        The threshold in [0, 1].

    Raises:
        ComparisonError: no threshold given and the saved ones differ; or one outside [0, 1].
    """
    if threshold is None:
        saved = sorted({float(ev.results["threshold"]) for pair in pairs.values() for ev in pair})
        if len(saved) != 1:
            raise ComparisonError(f"The evaluations were saved at thresholds {saved}: pass --threshold.")
        threshold = saved[0]
    if not 0.0 <= threshold <= 1.0:
        raise ComparisonError(f"The threshold must be in [0, 1], got {threshold}: pass another --threshold.")
    return float(threshold)


def compare_folders(
    a_dir: str | Path,
    b_dir: str | Path,
    names: list[str] | None = None,
    threshold: float | None = None,
    calibrated: bool = False,
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    progress: bool = False,
) -> dict:
    """The comparison dict (:mod:`~model.evaluate.comparison`) of two evaluation folders (A reference, B new).

    Args:
        a_dir, b_dir: evaluation folders written by ``python -m model.evaluate``.
        names: evaluation names to compare; None compares every name both hold.
        threshold: decision threshold; None uses the saved one (:func:`resolve_threshold`).
        calibrated: compare temperature-scaled probabilities (both folders need them).
        n_resamples, seed: group bootstrap; progress: a tqdm bar per split.

    Raises:
        ComparisonError: nothing shared, other cases or labels; ArtifactError: an unreadable evaluation.
    """
    pairs, only_a, only_b = load_pairs(a_dir, b_dir, names)
    settings = PairedSettings(resolve_threshold(pairs, threshold), calibrated, n_resamples, seed, progress)
    return build_comparison(
        pairs,
        (a_dir, b_dir),
        settings,
        (only_a, only_b),
        explanation_quality((a_dir, b_dir), pairs),
    )


def parse_gate(text: str) -> tuple[str, float]:
    """``"accuracy:0.02"`` -> ("accuracy", 0.02); raises ``argparse.ArgumentTypeError`` naming the fix."""
    metric, sep, margin = text.partition(":")
    try:
        value = float(margin)
    except ValueError:
        value = math.nan
    if not sep or metric not in SCALARS or not value >= 0:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not METRIC:MARGIN with METRIC one of {', '.join(SCALARS)} and MARGIN >= 0."
        )
    return metric, value


def gate_failures(comparison: dict, gates: Sequence[tuple[str, float]], split: str) -> list[str]:
    """One sentence per gate that B fails on ``split``: worse than A by more than the margin, or undefined.

    Args:
        comparison: the comparison dict of :func:`compare_folders`.
        gates: (metric, margin) pairs from ``--fail-if-worse`` (:func:`parse_gate`).
        split: the evaluation name the gates are checked on.

    Returns:
        The failures, empty when every gate passes.

    Raises:
        ComparisonError: ``split`` is not in the comparison.
    """
    if split not in comparison["splits"]:
        raise ComparisonError(
            f"The gate split '{split}' was not compared (compared: {list(comparison['splits'])}): pass "
            "--gate-split with one of them."
        )
    failures = []
    for metric, margin in gates:
        diff = comparison["splits"][split]["difference"][metric]["value"]
        worse = diff if metric in LOWER_IS_BETTER else -diff
        if not math.isfinite(worse) or worse > margin:
            what = "is undefined" if not math.isfinite(worse) else f"is worse by {worse:.4f}"
            failures.append(f"{metric} of B on '{split}' {what} (allowed: {margin:g}).")
    return failures


def describe(comparison: dict) -> list[str]:
    """Plain-text lines per split: the headline metrics of A and B, B - A with its interval, McNemar."""
    lines = []
    for name, s in comparison["splits"].items():
        lines.append(f"{name} (n={s['n']}, {s['n_groups']} groups):")
        for metric in REPORTED:
            a, b = s["a"]["metrics"][metric], s["b"]["metrics"][metric]
            d = s["difference"][metric]
            low, high = d["ci95"]
            lines.append(
                f"  {metric:<18} A {a:.3f}  B {b:.3f}  B-A {d['value']:+.3f} [{low:+.3f}, {high:+.3f}]"
            )
        mc = s["mcnemar"]
        lines.append(
            f"  McNemar: only A right {mc['only_a_correct']}, only B right {mc['only_b_correct']}, "
            f"p = {mc['p_value']:.3g}; {len(s['disagreements'])} disagreements"
        )
    return lines


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """One ``python -m model.evaluate.compare`` run: the two evaluation folders, what to compare, gates."""

    a_eval: str = field(metadata={"positional": True, "help": "evaluation folder of model A (the reference)"})
    b_eval: str = field(metadata={"positional": True, "help": "evaluation folder of model B (the candidate)"})
    out: str = field(
        default=DEFAULT_OUT, metadata={"help": f"comparison JSON to write (default {DEFAULT_OUT})"}
    )
    split: tuple[str, ...] | None = field(
        default=None,
        metadata={"action": "append", "help": "only this evaluation name (repeatable; default: all shared)"},
    )
    threshold: float | None = field(
        default=None, metadata={"help": "decision threshold on P(positive) (default: the saved one)"}
    )
    calibrated: bool = field(default=False, metadata={"help": "compare temperature-scaled probabilities"})
    bootstrap: int = field(default=N_BOOTSTRAP, metadata={"help": "bootstrap resamples (0: no intervals)"})
    seed: int = field(default=BOOTSTRAP_SEED, metadata={"help": "bootstrap seed"})
    fail_if_worse: tuple[tuple[str, float], ...] = field(
        default=(),
        metadata={
            "action": "append",
            "type": parse_gate,
            "cli_default": [],
            "metavar": "METRIC:MARGIN",
            "convert": tuple,
            "help": "exit 1 when B is worse than A on the gate split by more than MARGIN (repeatable)",
        },
    )
    gate_split: str = field(
        default=DEFAULT_GATE_SPLIT, metadata={"help": "split the gates apply to (default test)"}
    )
    no_progress: bool = field(default=False, metadata={"help": "hide progress bars"})

    def __post_init__(self) -> None:
        if self.bootstrap < 0:
            raise ValueError("need --bootstrap >= 0")


CLI = ConfigCli(CompareConfig, "python -m model.evaluate.compare", __doc__.split("\n\n")[0])
cli_parser, parse_args = CLI.parser, CLI.parse


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI: 0 compared (and every gate passed), 1 a gate failed, 2 the inputs cannot be compared.

    Args:
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or :data:`EXIT_WORSE`.

    Raises:
        MriExplainError: the inputs cannot be compared (a ``ValueError`` or ``OSError`` becomes a
            :class:`ComparisonError`); :func:`~model.cli.run_cli` prints it and exits :data:`EXIT_ERROR`.
    """
    args = parse_args(argv)
    with raise_as(ComparisonError, ValueError, OSError):
        comparison = compare_folders(
            args.a_eval,
            args.b_eval,
            args.split,
            args.threshold,
            args.calibrated,
            args.bootstrap,
            args.seed,
            not args.no_progress,
        )
        failures = (
            gate_failures(comparison, args.fail_if_worse, args.gate_split) if args.fail_if_worse else []
        )
        path = write_comparison(args.out, comparison)
    print("\n".join(describe(comparison)))
    print(f"wrote {path}")
    for failure in failures:
        print(f"worse: {failure}", file=sys.stderr)
    return EXIT_WORSE if failures else 0


if __name__ == "__main__":
    run_cli(main)
