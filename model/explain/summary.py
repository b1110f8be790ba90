"""The saved explanation-quality summary (schema version 1): built, written and read only here.

``python -m model.explain`` writes into its output folder (``artifacts/eval/explanations/`` for the
bundled model):

``summary.json`` - ``schema_version``; ``checkpoint`` (weights fingerprint of the model explained);
    ``split``; ``n_cases``; ``labels``; ``settings`` (steps per curve, baselines, seed, sanity stages and
    threshold, pointing tolerance, bootstrap); ``versions``; ``note``; and ``methods``: per method its
    ``label``, ``params``, ``n_cases``, ``seconds_per_map``, ``deletion_auc`` / ``insertion_auc`` /
    ``mask_share`` ``{mean, ci95, n}``, ``pointing_game`` ``{hit_rate, ci95, n, chance}``, ``sanity``
    ``{n, pass_rate, ci95, median_spearman, passed, stages, mean_by_stage}`` and ``curves`` (mean deletion
    and insertion curves). The entry ``random`` (a random patch ranking) is the faithfulness reference.
``summary.csv`` - the same per-method numbers, one flat row per method (:func:`summary_table`).
``cases.csv`` - one row per case and method: the scores every summary number is computed from.
``maps.npz`` - every map on the patch grid as float16 shares, keyed ``method|target|sha256``.

Intervals are 95 % percentile bootstraps over duplicate groups (as in :mod:`model.evaluate.metrics`). These
are
research and teaching numbers on a few dozen scans, not evidence that any map is clinically meaningful.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from model.evaluate.artifacts import ArtifactError
from model.evaluate.metrics import BOOTSTRAP_SEED, CI_LEVEL, N_BOOTSTRAP
from model.explain.summary_views import SummaryInfo
from model.io import atomic_write, null_to_nan, schema_version_problem, write_csv, write_json

SCHEMA_VERSION = 1
SUMMARY_JSON, SUMMARY_CSV, CASES_CSV, MAPS_NPZ = "summary.json", "summary.csv", "cases.csv", "maps.npz"
RANDOM_REFERENCE = "random"
EVAL_SUBDIR = "explanations"  # where a summary lives inside its evaluation folder (EVAL_DIR/explanations)
NOTE = (
    "Research and teaching tool, not a diagnosis. Scores describe how the explanations behave on a small "
    "public data set with rough student-drawn tumour masks."
)


class ExplanationArtifactError(ArtifactError):
    """The explanation summary is missing, corrupt or belongs to another model; the message names the fix."""


def fix_command(out_dir: str | Path = "OUT_DIR", split: str = "test") -> str:
    """The command that (re)writes the explanation summary: the fix every refusal names.

    Args:
        out_dir: the summary folder written into the command (a placeholder by default).
        split: the evaluated split whose cases are explained.

    Returns:
        ``"run python -m model.explain ..."`` with ``MODEL_DIR``, ``DATA_DIR`` and ``EVAL_DIR`` as
        placeholders.
    """
    return (
        f"run python -m model.explain --model MODEL_DIR --data DATA_DIR --eval EVAL_DIR "
        f"--split {split} --out {out_dir}"
    )


def map_key(method: str, target: int, sha256: str) -> str:
    """Key of one map in ``maps.npz``.

    Args:
        method: registry name of the explanation method (e.g. ``"gradcam"``).
        target: class index the map explains.
        sha256: content hash of the scan (its ``sha256`` in the records).

    Returns:
        ``"method|target|sha256"``.
    """
    return f"{method}|{int(target)}|{sha256}"


def bootstrap_mean(
    values: Sequence[float], groups: Sequence[str], n_resamples: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED
) -> dict:
    """Mean and 95 % percentile-bootstrap interval over groups; NaN values (not measured) are left out.

    Args:
        values: N per-case scores, NaN where not measured.
        groups: N duplicate-group ids (the resampling unit), in the same order.
        n_resamples: bootstrap resamples of the groups.
        seed: seeds the resampling.

    Returns:
        ``{"mean", "ci95": [low, high], "n"}``; nulls (NaN) when nothing was measured.
    """
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v)
    v, g = v[keep], np.asarray(list(groups), dtype=object)[keep]
    if v.size == 0:
        return {"mean": math.nan, "ci95": [math.nan, math.nan], "n": 0}
    codes, uniques = pd.factorize(pd.Series(g, dtype=str))
    sums = np.bincount(codes, weights=v, minlength=len(uniques))
    counts = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, len(uniques), size=(n_resamples, len(uniques)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = 100 * (1 - CI_LEVEL) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"mean": float(v.mean()), "ci95": [float(low), float(high)], "n": int(v.size)}


def _sanity(rows: pd.DataFrame, threshold: float, stages: list[str]) -> dict:
    checked = rows[rows["sanity_spearman"].notna()]
    passed = (checked["sanity_spearman"] < threshold).astype(float)
    by_stage = (
        [float(checked[f"sanity_stage_{i}"].mean()) for i in range(len(stages))] if len(checked) else []
    )
    median = float(checked["sanity_spearman"].median()) if len(checked) else math.nan
    rate = bootstrap_mean(passed, checked["group"])
    return {
        "n": int(len(checked)),
        "pass_rate": rate["mean"],
        "ci95": rate["ci95"],
        "median_spearman": median,
        "passed": bool(median < threshold) if len(checked) else None,
        "stages": stages,
        "mean_by_stage": by_stage,
    }


def method_summary(
    rows: pd.DataFrame, curves: NDArray[np.float64] | None, fractions: NDArray[np.float64], settings: dict
) -> dict:
    """Aggregate one method's rows of ``cases.csv`` (and its (N, 2, n+1) curves) into its summary entry.

    Args:
        rows: the method's N rows of ``cases.csv`` (``group``, ``seconds``, ``deletion_auc``,
            ``insertion_auc``, ``pointing_hit``, ``chance_hit``, ``mask_share``, ``area_share``,
            ``sanity_spearman`` and one ``sanity_stage_<i>`` column per sanity stage).
        curves: (N, 2, n+1) float64 target-class probabilities in [0, 1] along the deletion (``[:, 0]``)
            and insertion (``[:, 1]``) curves, or None or empty (no ``curves`` entry then).
        fractions: (n+1,) float64 fractions of patches removed or inserted, in [0, 1].
        settings: the summary's settings (``sanity_threshold`` and ``sanity_stages`` are used).

    Returns:
        The method's ``methods`` entry without ``label`` and ``params`` (keys in the module docstring).
    """
    groups = rows["group"]
    pointing = bootstrap_mean(rows["pointing_hit"].astype(float), groups)
    entry = {
        "n_cases": int(len(rows)),
        "seconds_per_map": float(rows["seconds"].mean()),
        "deletion_auc": bootstrap_mean(rows["deletion_auc"], groups),
        "insertion_auc": bootstrap_mean(rows["insertion_auc"], groups),
        "pointing_game": {
            "hit_rate": pointing["mean"],
            "ci95": pointing["ci95"],
            "n": pointing["n"],
            "chance": float(rows["chance_hit"].mean()) if pointing["n"] else math.nan,
        },
        "mask_share": {
            **bootstrap_mean(rows["mask_share"], groups),
            "area_share": float(rows["area_share"].mean()) if pointing["n"] else math.nan,
        },
        "sanity": _sanity(rows, settings["sanity_threshold"], settings["sanity_stages"]),
    }
    if curves is not None and len(curves):
        entry["curves"] = {
            "fractions": fractions.tolist(),
            "deletion": curves[:, 0].mean(0).tolist(),
            "insertion": curves[:, 1].mean(0).tolist(),
        }
    return entry


def summary_table(summary: dict) -> pd.DataFrame:
    """One flat row per method (the content of ``summary.csv``)."""
    rows = []
    for name, m in summary["methods"].items():
        row = {
            "method": name,
            "label": m.get("label", name),
            "n_cases": m["n_cases"],
            "seconds_per_map": m.get("seconds_per_map"),
        }
        for key in ("deletion_auc", "insertion_auc", "mask_share"):
            row[key], (row[f"{key}_low"], row[f"{key}_high"]) = m[key]["mean"], m[key]["ci95"]
        pg, sc = m["pointing_game"], m["sanity"]
        row.update(
            {
                "pointing_n": pg["n"],
                "pointing_hit_rate": pg["hit_rate"],
                "pointing_low": pg["ci95"][0],
                "pointing_high": pg["ci95"][1],
                "pointing_chance": pg["chance"],
                "area_share": m["mask_share"]["area_share"],
                "sanity_n": sc["n"],
                "sanity_pass_rate": sc["pass_rate"],
                "sanity_median_spearman": sc["median_spearman"],
                "sanity_passed": sc["passed"],
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def write_explanations(
    out_dir: str | Path, summary: dict, cases: pd.DataFrame, maps: dict[str, NDArray[np.floating]]
) -> Path:
    """Write maps, cases, table and (last, as the commit) ``summary.json``, each atomically.

    Args:
        out_dir: the summary folder (created).
        summary: the ``summary.json`` dict (keys in the module docstring).
        cases: one row per case and method (the content of ``cases.csv``).
        maps: :func:`map_key` -> patch-grid map (shares), stored as float16 in ``maps.npz``.

    Returns:
        Path of ``summary.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v, dtype=np.float16) for k, v in maps.items()})
    atomic_write(out / MAPS_NPZ, buf.getvalue())
    write_csv(out / CASES_CSV, cases)
    write_csv(out / SUMMARY_CSV, summary_table(summary))
    return write_json(out / SUMMARY_JSON, summary)


@dataclass(frozen=True, eq=False)
class ExplanationSummary:
    """A saved explanation summary: the JSON, the per-method table, the per-case scores, and its folder."""

    summary: dict
    table: pd.DataFrame
    cases: pd.DataFrame
    directory: Path

    @cached_property
    def info(self) -> SummaryInfo:
        """The typed view of the JSON, built once (by :func:`read_explanation_summary`, which checks it).

        Raises:
            KeyError, TypeError, ValueError, IndexError: an entry is missing or mistyped.
        """
        return SummaryInfo.from_dict(self.summary)

    @property
    def checkpoint(self) -> str:
        """Weights fingerprint of the model the maps were computed for."""
        return self.summary["checkpoint"]

    def map_for(self, method: str, target: int, sha256: str) -> NDArray[np.float32] | None:
        """The saved patch-grid map (shares) of one case, or None when it was not computed.

        Args:
            method: registry name of the explanation method.
            target: class index the map explains.
            sha256: content hash of the scan.

        Returns:
            (rows, cols) float32 shares of the positive evidence (read from float16), or None when
            ``maps.npz`` or the key is absent.
        """
        path = self.directory / MAPS_NPZ
        if not path.exists():
            return None
        with np.load(path) as maps:
            key = map_key(method, target, sha256)
            return maps[key].astype(np.float32) if key in maps.files else None


def read_explanation_summary(
    directory: str | Path, expected_fingerprint: str | None = None
) -> ExplanationSummary:
    """Read and check a saved explanation summary.

    Args:
        directory: the folder written by ``python -m model.explain``
            (e.g. ``artifacts/eval/explanations``).
        expected_fingerprint: when given, the summary must be for the model with this weights fingerprint.

    Returns:
        :class:`ExplanationSummary`.

    Raises:
        ExplanationArtifactError: missing or corrupt files, another schema version or another model; the
            message names the command that regenerates it.
    """
    directory = Path(directory)
    fix = fix_command(directory)
    path = directory / SUMMARY_JSON
    if not path.is_file():
        raise ExplanationArtifactError(f"No explanation summary at {path}: {fix}")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        cases = pd.read_csv(directory / CASES_CSV, dtype={"sha256": str, "path": str, "group": str})
    except (OSError, ValueError) as err:
        raise ExplanationArtifactError(
            f"Explanation summary in {directory} is unreadable ({err}): {fix}"
        ) from err
    if problem := schema_version_problem(summary, SCHEMA_VERSION, path):
        raise ExplanationArtifactError(f"{problem}: {fix}")
    if missing := [k for k in ("checkpoint", "methods", "split", "settings") if k not in summary]:
        raise ExplanationArtifactError(f"{path} lacks keys {missing}: {fix}")
    if expected_fingerprint is not None and summary["checkpoint"] != expected_fingerprint:
        raise ExplanationArtifactError(
            f"Explanation summary {path} is for model {summary['checkpoint']}, not the loaded model "
            f"{expected_fingerprint}: {fix}"
        )
    try:
        read = ExplanationSummary(summary, summary_table(null_to_nan(summary)), cases, directory)
        read.info  # noqa: B018 - built and checked here, once
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ExplanationArtifactError(f"{path} has a malformed entry ({err!r:.80}): {fix}") from err
    return read
