"""THE saved model-comparison format (schema version 1): built, written and read only here.

``python -m model.evaluate.compare A_EVAL B_EVAL --out comparison.json`` compares two saved evaluation folders
(:mod:`model.evaluate.artifacts`) on every evaluation name they share and writes one JSON file:

``schema_version`` (1); ``kind`` ("model comparison"); ``a`` / ``b`` {``eval_dir``, ``checkpoint``};
``labels``; ``positive_label``; ``threshold``; ``calibrated``; ``bootstrap`` {resamples, seed, level, unit};
``only_in_a`` / ``only_in_b`` (names found in one folder only, not compared); ``splits``: per shared name
``{n, n_groups, a, b, difference, mcnemar, disagreements}``. ``a`` / ``b`` hold ``checkpoint``,
``predictions_sha256``, ``metrics``, ``ci95`` and ``undefined`` from
:func:`model.evaluate.metrics.compute_metrics`;
``difference`` is {metric: {value: B - A, ci95: [low, high]}} from the paired group bootstrap
(:mod:`model.evaluate.paired`); ``mcnemar`` is {both_correct, only_a_correct, only_b_correct, both_wrong,
p_value}
(exact, two-sided); ``disagreements`` lists the cases whose predicted labels differ as {path, sha256, group,
label, predicted_a, predicted_b, p_a, p_b} (p = probability of the positive class), largest |p_b - p_a|
first. ``explanations`` is null or {split, methods: {method: {label, a, b}}} with each side's deletion and
insertion AUC, pointing game, relevance in mask and sanity check, read from the two folders'
``explanations/summary.json``; ``explanations_note`` says why it is null or what only one side has.

The file is written atomically (:func:`model.io.atomic_write`). :func:`read_comparison`
checks the
schema version and keys and recomputes what the numbers imply (outcome counts sum to n, each accuracy equals
its share of correct outcomes, each difference equals B - A, the McNemar p-value matches its counts), so an
edited or truncated file is refused with the command that regenerates it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.evaluate.artifacts import ArtifactError, Evaluation
from model.evaluate.metrics import (
    BOOTSTRAP_SEED,
    N_BOOTSTRAP,
    SCALARS,
    bootstrap_record,
    compute_metrics,
    predict_indices,
    record_arrays,
)
from model.evaluate.paired import OUTCOME_KEYS, mcnemar_exact, paired_difference_intervals, paired_outcomes
from model.explain import summary as explain_summary
from model.io import atomic_write, json_bytes, null_to_nan, schema_version_problem

SCHEMA_VERSION = 1
KIND = "model comparison"
REQUIRED_KEYS = ("schema_version", "kind", "a", "b", "labels", "positive_label", "threshold", "splits")
SPLIT_KEYS = ("n", "n_groups", "a", "b", "difference", "mcnemar", "disagreements")
QUALITY_KEYS = ("deletion_auc", "insertion_auc", "pointing_game", "mask_share", "sanity")
# Numbers round-trip exactly through JSON; this only absorbs B - A recomputed in another float order.
CONSISTENCY_TOL = 1e-9


class ComparisonError(ArtifactError):
    """Two evaluations cannot be compared, or a comparison file is unusable; the message names the fix."""


@dataclass(frozen=True, eq=False)
class Comparison:
    """A validated comparison file: its dict (metric nulls read back as NaN) and where it was read from."""

    data: dict
    path: Path


def fix_command(a_dir: str | Path = "A_EVAL", b_dir: str | Path = "B_EVAL", out: str | Path = "OUT") -> str:
    """The command that (re)writes a comparison.

    Args:
        a_dir: A's evaluation folder in the command.
        b_dir: B's evaluation folder in the command.
        out: the comparison file in the command.

    Returns:
        ``run python -m model.evaluate.compare A B --out OUT``.
    """
    return f"run python -m model.evaluate.compare {a_dir} {b_dir} --out {out}"


def _examples(paths: pd.Index) -> str:
    return f"{len(paths)}, e.g. {paths[0]}" if len(paths) else "0"


def aligned_records(ev_a: Evaluation, ev_b: Evaluation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both evaluations' records in the same case order, after checking that they are on the same cases.

    Args:
        ev_a: model A's evaluation of a split.
        ev_b: model B's evaluation of the same split.

    Returns:
        (A's records, B's records), rows in the same case order (A's), index reset.

    Raises:
        ComparisonError: different labels or positive class, other cases (paths), other file contents
            (sha256 per path), other true labels or other duplicate groups; one sentence with the fix.
    """
    what, same = (
        f"Evaluations '{ev_a.name}' of A and B",
        "evaluate both models on the same manifest or folder",
    )
    if ev_a.labels != ev_b.labels or ev_a.results["positive_label"] != ev_b.results["positive_label"]:
        raise ComparisonError(
            f"{what} have different labels (A: {list(ev_a.labels)}, B: {list(ev_b.labels)}): compare models "
            "trained for the same classes with the same positive class."
        )
    a, b = ev_a.records.set_index("path"), ev_b.records.set_index("path")
    only_a, only_b = a.index.difference(b.index), b.index.difference(a.index)
    if len(only_a) or len(only_b):
        raise ComparisonError(
            f"{what} are not on the same cases (only in A: {_examples(only_a)}; only in B: "
            f"{_examples(only_b)}): {same}."
        )
    b = b.loc[a.index]
    for column, meaning in (
        ("sha256", "file contents (sha256)"),
        ("label", "true labels"),
        ("group", "groups"),
    ):
        if len(differ := a.index[a[column].to_numpy() != b[column].to_numpy()]):
            raise ComparisonError(f"{what} differ in {meaning} for {_examples(differ)} cases: {same}.")
    return a.reset_index(), b.reset_index()


def _side(ev: Evaluation, scored: dict) -> dict:
    return {
        "checkpoint": ev.checkpoint,
        "predictions_sha256": ev.results["predictions_sha256"],
        **{key: scored[key] for key in ("metrics", "ci95", "undefined")},
    }


def _disagreements(
    rec: pd.DataFrame,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    labels: tuple[str, ...],
) -> list[dict]:
    rows = np.flatnonzero(pred_a != pred_b)
    rows = rows[np.argsort(-np.abs(pb[rows] - pa[rows]), kind="stable")]
    return [
        {
            **{key: str(rec.at[i, key]) for key in ("path", "sha256", "group", "label")},
            "predicted_a": labels[pred_a[i]],
            "predicted_b": labels[pred_b[i]],
            "p_a": float(pa[i]),
            "p_b": float(pb[i]),
        }
        for i in rows
    ]


@dataclass(frozen=True)
class PairedSettings:
    """How two models are compared on every split: one threshold, which probabilities, one group bootstrap.

    Attributes:
        threshold: decision threshold on the positive probability, in [0, 1], for both models.
        calibrated: use the temperature-scaled probabilities of both.
        n_resamples: group-bootstrap resamples of each model's intervals and of the paired differences (0: no
            intervals).
        seed: the bootstrap seed.
        progress: show a tqdm bar for the paired bootstrap.
    """

    threshold: float
    calibrated: bool = False
    n_resamples: int = N_BOOTSTRAP
    seed: int = BOOTSTRAP_SEED
    progress: bool = False


def compare_evaluations(ev_a: Evaluation, ev_b: Evaluation, settings: PairedSettings) -> dict:
    """One split's entry of the comparison (keys in the module docstring), A and B on the same cases.

    Args:
        ev_a: model A's evaluation of the split.
        ev_b: model B's evaluation of the same split.
        settings: threshold, probabilities and bootstrap of the comparison.

    Returns:
        The split's entry: n, n_groups, a, b, difference, mcnemar, disagreements.

    Raises:
        ComparisonError: not on the same cases or labels (:func:`aligned_records`).
        ValueError: calibrated probabilities asked for but missing, or a bad threshold.
    """
    rec_a, rec_b = aligned_records(ev_a, ev_b)
    labels, positive = ev_a.labels, ev_a.results["positive_label"]
    pos, s = labels.index(positive), settings
    scored = [
        compute_metrics(r, labels, positive, s.threshold, s.calibrated, s.n_resamples, s.seed)
        for r in (rec_a, rec_b)
    ]
    y, probs_a = record_arrays(rec_a, labels, s.calibrated)
    probs_b = record_arrays(rec_b, labels, s.calibrated)[1]
    groups = rec_a["group"].astype(str).tolist()
    intervals = (
        paired_difference_intervals(
            y,
            probs_a,
            probs_b,
            groups,
            labels,
            pos,
            s.threshold,
            s.n_resamples,
            s.seed,
            s.progress,
            f"B - A ({ev_a.name})",
        )
        if s.n_resamples
        else dict.fromkeys(SCALARS, [math.nan, math.nan])
    )
    pred_a, pred_b = predict_indices(probs_a, pos, s.threshold), predict_indices(probs_b, pos, s.threshold)
    outcomes = paired_outcomes(pred_a == y, pred_b == y)
    m_a, m_b = scored[0]["metrics"], scored[1]["metrics"]
    return {
        "n": scored[0]["n"],
        "n_groups": scored[0]["n_groups"],
        "a": _side(ev_a, scored[0]),
        "b": _side(ev_b, scored[1]),
        "difference": {m: {"value": m_b[m] - m_a[m], "ci95": intervals[m]} for m in SCALARS},
        "mcnemar": {
            **outcomes,
            "p_value": mcnemar_exact(outcomes["only_a_correct"], outcomes["only_b_correct"]),
        },
        "disagreements": _disagreements(rec_a, pred_a, pred_b, probs_a[:, pos], probs_b[:, pos], labels),
    }


def compare_explanations(
    sum_a: explain_summary.ExplanationSummary, sum_b: explain_summary.ExplanationSummary
) -> tuple[dict | None, str]:
    """Explanation-quality numbers of the methods both summaries hold, side by side (no recomputation).

    Args:
        sum_a: model A's explanation summary.
        sum_b: model B's explanation summary.

    Returns:
        ({split, methods: {method: {label, a, b}}}, a note), or (None, why) when on different splits.
    """
    split_a, split_b = sum_a.summary["split"], sum_b.summary["split"]
    if split_a != split_b:
        return None, f"The explanation summaries are on different splits (A: {split_a}, B: {split_b})."
    ma, mb = sum_a.summary["methods"], sum_b.summary["methods"]
    methods = {
        name: {
            "label": ma[name].get("label", name),
            "a": {key: ma[name][key] for key in QUALITY_KEYS if key in ma[name]},
            "b": {key: mb[name][key] for key in QUALITY_KEYS if key in mb[name]},
        }
        for name in ma
        if name in mb
    }
    only = {side: sorted(set(x) - set(y)) for side, x, y in (("A", ma, mb), ("B", mb, ma))}
    note = "; ".join(f"only {side} has {names}" for side, names in only.items() if names)
    return {"split": split_a, "methods": methods}, note or "Both summaries hold the same methods."


def build_comparison(
    pairs: dict[str, tuple[Evaluation, Evaluation]],
    dirs: tuple[str | Path, str | Path],
    settings: PairedSettings,
    unshared: tuple[list[str], list[str]] = ([], []),
    explanations: tuple[dict | None, str] = (None, "not compared"),
) -> dict:
    """The comparison dict (module docstring); :func:`~model.evaluate.compare.compare_folders` gathers inputs.

    Args:
        pairs: evaluation name -> (A's, B's evaluation), at least one.
        dirs: (A's, B's) evaluation folder, recorded.
        settings: threshold, probabilities and bootstrap of every split's comparison.
        unshared: names only in A and only in B (recorded, not compared).
        explanations: (:func:`compare_explanations` block or None, note).

    Returns:
        The comparison dict, ready for :func:`write_comparison`.

    Raises:
        ComparisonError: no pair, or a pair not on the same cases or labels.
    """
    if not pairs:
        raise ComparisonError("There is no shared evaluation to compare: evaluate both on the same manifest.")
    splits = {name: compare_evaluations(a, b, settings) for name, (a, b) in pairs.items()}
    ev_a, ev_b = next(iter(pairs.values()))
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "a": {"eval_dir": str(dirs[0]), "checkpoint": ev_a.checkpoint},
        "b": {"eval_dir": str(dirs[1]), "checkpoint": ev_b.checkpoint},
        "labels": list(ev_a.labels),
        "positive_label": ev_a.results["positive_label"],
        "threshold": float(settings.threshold),
        "calibrated": settings.calibrated,
        "bootstrap": bootstrap_record(settings.n_resamples, settings.seed),
        "only_in_a": list(unshared[0]),
        "only_in_b": list(unshared[1]),
        "splits": splits,
        "explanations": explanations[0],
        "explanations_note": explanations[1],
    }


def _close(found: object, expected: float) -> bool:
    if not isinstance(found, (int, float)):
        return False
    return (math.isnan(found) and math.isnan(expected)) or math.isclose(
        found, expected, abs_tol=CONSISTENCY_TOL
    )


def _check_split(name: str, s: dict) -> str | None:
    """Why split entry ``s`` is inconsistent, or None."""
    if missing := [k for k in SPLIT_KEYS if k not in s]:
        return f"split '{name}' lacks keys {missing}"
    mc, n = s["mcnemar"], s["n"]
    counts = [mc.get(k) for k in OUTCOME_KEYS]
    if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != n:
        return f"the outcome counts of '{name}' do not sum to n={n}"
    if not _close(mc.get("p_value"), mcnemar_exact(mc["only_a_correct"], mc["only_b_correct"])):
        return f"the McNemar p-value of '{name}' does not match its counts"
    for side, correct in (("a", counts[0] + counts[1]), ("b", counts[0] + counts[2])):
        if not _close(s[side]["metrics"].get("accuracy"), correct / n):
            return f"the accuracy of {side.upper()} on '{name}' does not match its outcome counts"
    for metric in SCALARS:
        expected = s["b"]["metrics"][metric] - s["a"]["metrics"][metric]
        if not _close(s["difference"][metric]["value"], expected):
            return f"the difference of {metric} on '{name}' is not B - A"
    if not counts[1] + counts[2] <= len(s["disagreements"]) <= n:
        listed, discordant = len(s["disagreements"]), counts[1] + counts[2]
        return f"'{name}' lists {listed} disagreements for {discordant} discordant cases"
    return None


def _numbers(data: object) -> object:
    """Metric, interval and difference nulls read back as NaN (the rest, e.g. ``explanations``, untouched)."""
    splits = data.get("splits") if isinstance(data, dict) else None
    for entry in splits.values() if isinstance(splits, dict) else []:
        for side in ("a", "b"):
            block = entry.get(side) if isinstance(entry, dict) else None
            for key in ("metrics", "ci95"):
                if isinstance(block, dict) and block.get(key) is not None:
                    block[key] = null_to_nan(block[key])
        if isinstance(entry, dict) and "difference" in entry:
            entry["difference"] = null_to_nan(entry["difference"])
    return data


def validate_comparison(data: object, fix: str) -> dict:
    """Schema, keys and internal consistency of a comparison dict (metric nulls as NaN).

    Args:
        data: the parsed comparison (metric nulls already NaN).
        fix: the sentence every message ends with (:func:`fix_command`).

    Returns:
        ``data``, unchanged.

    Raises:
        ComparisonError: naming what is wrong and ``fix``.
    """
    if problem := schema_version_problem(data, SCHEMA_VERSION, "The file"):
        raise ComparisonError(f"Not a {KIND}: {problem}: {fix}")
    if data.get("kind") != KIND:
        raise ComparisonError(f"Not a {KIND} (kind {str(data.get('kind'))[:40]!r}): {fix}")
    if missing := [k for k in REQUIRED_KEYS if k not in data]:
        raise ComparisonError(f"The comparison lacks keys {missing}: {fix}")
    if not isinstance(data["splits"], dict) or not data["splits"]:
        raise ComparisonError(f"The comparison holds no split: {fix}")
    try:
        problem = next((p for n, s in data["splits"].items() if (p := _check_split(n, s))), None)
    except (KeyError, TypeError, AttributeError, ZeroDivisionError) as err:
        problem = f"an entry is malformed ({err!r})"
    if problem:
        raise ComparisonError(f"{problem[0].upper()}{problem[1:]} (edited?): {fix}")
    return data


def write_comparison(path: str | Path, comparison: dict) -> Path:
    """Validate and write a comparison atomically (temp file, fsync, rename); returns the path.

    Args:
        path: the comparison file; its folder is created.
        comparison: the dict of :func:`build_comparison`.

    Returns:
        ``path`` as a Path.

    Raises:
        ComparisonError: the dict is not a valid comparison (nothing is written).
    """
    path = Path(path)
    fix = fix_command(comparison.get("a", {}).get("eval_dir"), comparison.get("b", {}).get("eval_dir"), path)
    data = json_bytes(comparison)
    validate_comparison(_numbers(json.loads(data)), fix)
    return atomic_write(path, data)


def read_comparison(path: str | Path) -> Comparison:
    """Read and validate a comparison file.

    Raises:
        ComparisonError: missing, not JSON, another schema version, missing keys or inconsistent numbers;
            the message names the command that regenerates it.
    """
    path = Path(path)
    fix = fix_command(out=path)
    if not path.is_file():
        raise ComparisonError(f"No comparison at {path}: {fix}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ComparisonError(f"{path} is not valid JSON ({err}): {fix}") from err
    if isinstance(raw, dict) and isinstance(raw.get("a"), dict) and isinstance(raw.get("b"), dict):
        fix = fix_command(raw["a"].get("eval_dir"), raw["b"].get("eval_dir"), path)
    return Comparison(validate_comparison(_numbers(raw), fix), path)
