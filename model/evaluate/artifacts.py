"""THE saved-evaluation format (schema version 1): built, written and read only here.

Saved evaluations
-----------------
``python -m model.evaluate`` scores a model on every split of a split manifest (and, with ``--name``, on any
other labelled class-folder data set) and writes into the evaluation folder (``artifacts/eval/`` for the
bundled model) a pair of files per split or name, plus one calibration file:

``{name}_predictions.csv`` - one row per scan, sorted by path; every metric is recomputable from it
    (:func:`model.evaluate.metrics.compute_metrics`). Columns: ``path`` (relative to the data root, e.g.
    ``yes/Y1.jpg``), ``sha256`` (of the file bytes), ``group`` (duplicate group; the bootstrap resamples
    groups), ``label`` (true label), ``predicted`` (label at threshold 0.5 on the raw probability),
    ``p_<label>`` (raw softmax probability per class), ``logit_<label>`` (per class) and, when a calibration
    exists, ``pcal_<label>`` (softmax(logits / T)). Floats are written in full (round-trip) precision.

``{name}_results.json`` - ``schema_version`` (1); ``name`` and ``split`` (the same); ``kind`` ("split" for a
    manifest split, "external" for a named folder); ``checkpoint`` (the model's weights fingerprint,
    ``Classifier.fingerprint``); ``precision`` ("fp32" or "int8"); ``manifest_sha256`` (null for a folder);
    ``data`` (data folder name); ``labels`` (index order); ``positive_label``; ``n``; ``n_groups``;
    ``threshold``; ``bootstrap`` {resamples, seed, level, unit}; ``predictions_file`` and
    ``predictions_sha256`` (tie the pair together); then the raw-probability view:
    ``metrics`` {accuracy, balanced_accuracy, macro_/weighted_ precision, recall, f1, sensitivity,
    specificity, roc_auc, pr_auc (average precision), brier (of the positive probability), nll, ece,
    per_class {label: {precision, recall, f1, support}}}; ``ci95`` (same keys, [low, high]: 95% percentile
    bootstrap over duplicate groups, 1000 resamples, seed 0; null with ``--bootstrap 0``); ``undefined``
    {metric or "precision/<label>": reason} for every metric that is null (NaN, e.g. ROC-AUC of a one-class
    split); ``confusion`` (K x K counts, rows = true label, columns = predicted label); ``reliability``
    {top_label, positive: 10 equal-width bins of {lower, upper, count, confidence, accuracy}, confidence and
    accuracy null in empty bins; the ECE is computed from the top_label bins}; and ``calibrated``: the same
    five keys on temperature-scaled probabilities plus ``temperature`` and ``fitted_on``, or null when no
    calibration exists for this model.

``calibration.json`` - ``schema_version``, ``checkpoint``, ``method``, ``temperature``, ``fitted_on``
    ("validation"), ``n``, ``nll_before``, ``nll_after``, ``at_bound``, ``manifest_sha256``. Temperature
    scaling is fitted on the validation split only, so calibrated validation metrics are optimistic.

Every write is atomic: each file is written to a temporary file in the same folder, fsynced and renamed over
the old one; the predictions file is renamed first and the results file last, and the previous predictions
are kept as ``{name}_predictions.csv.prev`` until the pair is complete, so a run killed at any moment leaves
the previous evaluation readable. :func:`read_evaluation` checks the schema version, keys, shapes, labels,
fingerprint and the pair's hash, and raises :class:`ArtifactError` naming the command that regenerates it.
These are research and teaching numbers on a small public data set, not evidence of diagnostic performance.

Example::

    from model.evaluate.artifacts import ArtifactError, confusion_frame, read_calibration, read_evaluation
    from model.loading import load_classifier

    classifier = load_classifier("artifacts/model")
    try:
        ev = read_evaluation("artifacts/eval", "test", classifier.fingerprint, classifier.labels)
    except ArtifactError as err:
        print(err)  # one sentence ending in the python -m model.evaluate command that rewrites it
    else:
        print(ev.n, ev.checkpoint, f"accuracy {ev.metrics.accuracy:.3f}, ROC-AUC {ev.metrics.roc_auc:.3f}")
        print(confusion_frame(ev))  # rows = true label, columns = predicted label
        print(read_calibration("artifacts/eval", classifier.fingerprint).temperature)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from model.data.split import SPLITS
from model.evaluate.artifact_schema import (
    VIEW_KEYS,
    ArtifactError,
    check_recomputed,
    check_records,
    check_results,
    is_int,
    is_real,
)
from model.evaluate.calibration import TemperatureFit, check_temperature, softmax_with_temperature
from model.evaluate.metrics import (
    BOOTSTRAP_SEED,
    LOGIT_PREFIX,
    N_BOOTSTRAP,
    compute_metrics,
    predict_indices,
    probability_columns,
)
from model.evaluate.result_views import Metrics, ResultView
from model.io import (
    csv_bytes,
    fsync_dir,
    json_bytes,
    null_to_nan,
    remove_stale_temps,
    schema_version_problem,
    write_json,
    write_temp,
)
from model.labels import POSITIVE_LABEL

SCHEMA_VERSION = 1
RESULTS_SUFFIX, PREDICTIONS_SUFFIX, PREV_SUFFIX = "_results.json", "_predictions.csv", ".prev"
CALIBRATION_FILE = "calibration.json"
RECORD_KEYS = ("path", "sha256", "group", "label")
REQUIRED_KEYS = (
    "schema_version",
    "name",
    "kind",
    "checkpoint",
    "labels",
    "positive_label",
    "n",
    "threshold",
    "predictions_sha256",
    *VIEW_KEYS,
    "calibrated",
)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One saved evaluation: its results dict (metric nulls read back as NaN), its per-case records, and the
    typed views of its raw and (when saved) calibrated numbers, built once by :func:`read_evaluation`."""

    name: str
    results: dict
    records: pd.DataFrame
    directory: Path
    raw: ResultView
    calibrated: ResultView | None

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in index order."""
        return tuple(self.results["labels"])

    @property
    def checkpoint(self) -> str:
        """Weights fingerprint of the evaluated model."""
        return self.results["checkpoint"]

    @property
    def positive_label(self) -> str:
        """The class the binary metrics treat as positive."""
        return self.results["positive_label"]

    @property
    def kind(self) -> str:
        """ "split" for a manifest split, "external" for a named folder."""
        return self.results["kind"]

    @property
    def n(self) -> int:
        """Number of scans."""
        return int(self.results["n"])

    @property
    def n_groups(self) -> int:
        """Number of duplicate groups (the bootstrap unit); ``n`` in files that predate it."""
        return int(self.results.get("n_groups", self.results["n"]))

    @property
    def threshold(self) -> float:
        """The decision threshold on the positive probability the saved metrics were computed at."""
        return float(self.results["threshold"])

    @property
    def metrics(self) -> Metrics:
        """The raw-probability metrics."""
        return self.raw.metrics

    def view(self, calibrated: bool = False) -> ResultView:
        """The raw or the calibrated numbers.

        Raises:
            ArtifactError: ``calibrated`` is asked for and the evaluation has no calibration.
        """
        if calibrated and self.calibrated is None:
            fix = fix_command(self.name, self.directory)
            raise ArtifactError(f"evaluation '{self.name}' has no calibrated metrics: {fix}")
        return self.calibrated if calibrated else self.raw

    def confusion(self, calibrated: bool = False) -> NDArray[np.int64]:
        """(K, K) counts at the saved threshold, rows = true label, columns = predicted label."""
        return self.view(calibrated).confusion_counts()


def fix_command(name: str, eval_dir: str | Path = "EVAL_DIR") -> str:
    """The command that (re)writes evaluation ``name`` into ``eval_dir``: the fix every refusal names.

    Args:
        name: a split of :data:`model.data.split.SPLITS` (``--split``) or an external name (``--name``).
        eval_dir: the evaluation folder written into the command (a placeholder by default).

    Returns:
        ``"run python -m model.evaluate ..."`` with ``MODEL_DIR``, ``DATA_DIR`` (and ``MANIFEST`` for a
        split) left as placeholders.
    """
    if name in SPLITS:
        return (
            f"run python -m model.evaluate --model MODEL_DIR --data DATA_DIR --manifest MANIFEST "
            f"--out {eval_dir} --split {name}"
        )
    return f"run python -m model.evaluate --model MODEL_DIR --data DATA_DIR --name {name} --out {eval_dir}"


def build_records(
    cases: pd.DataFrame,
    logits: NDArray[np.floating],
    labels: tuple[str, ...] | list[str],
    temperature: float | None = None,
    positive: str = POSITIVE_LABEL,
) -> pd.DataFrame:
    """Per-case records (the predictions CSV) from the cases and the model's logits.

    Args:
        cases: N rows with ``path``, ``sha256``, ``group``, ``label``.
        logits: (N, K) raw model outputs in the rows' order, any float dtype (stored as float64).
        labels: K class names in index order.
        temperature: when given, add calibrated ``pcal_<label>`` columns (softmax(logits / T)).
        positive: the positive class for the ``predicted`` column (threshold 0.5).

    Returns:
        Records sorted by path (columns as in the module docstring).

    Raises:
        ValueError: ``logits`` is not (N, K) for the N cases and K labels.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape != (len(cases), len(labels)):
        raise ValueError(f"logits of shape {logits.shape} for {len(cases)} cases and {len(labels)} labels.")
    probs = softmax_with_temperature(logits)
    out = cases.loc[:, list(RECORD_KEYS)].astype(str).reset_index(drop=True)
    out["predicted"] = [labels[i] for i in predict_indices(probs, list(labels).index(positive))]
    out[probability_columns(labels)] = probs
    out[[f"{LOGIT_PREFIX}{label}" for label in labels]] = logits
    if temperature is not None:
        out[probability_columns(labels, calibrated=True)] = softmax_with_temperature(logits, temperature)
    return out.sort_values("path", kind="stable").reset_index(drop=True)


def build_results(
    name: str,
    records: pd.DataFrame,
    labels: tuple[str, ...] | list[str],
    checkpoint: str,
    *,
    kind: str = "split",
    precision: str = "fp32",
    manifest_sha256: str | None = None,
    data: str | None = None,
    calibration: TemperatureFit | None = None,
    positive: str = POSITIVE_LABEL,
    threshold: float = 0.5,
    n_resamples: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> dict:
    """The results dict of one evaluation (all numbers from :func:`model.evaluate.metrics.compute_metrics`).

    Args:
        name: split name or external name (file prefix).
        records: per-case records from :func:`build_records` (with ``pcal_`` columns when ``calibration``).
        labels: K class names in index order.
        checkpoint: the model's weights fingerprint (``Classifier.fingerprint``).
        kind: ``"split"`` for a manifest split, ``"external"`` for a named folder.
        precision: ``"fp32"`` or ``"int8"``.
        manifest_sha256: hash of the split manifest, None for a folder.
        data: data folder name.
        calibration: the temperature fit; None stores ``"calibrated": null``.
        positive: the class the binary metrics treat as positive.
        threshold: decision threshold in [0, 1] on the positive probability.
        n_resamples: bootstrap resamples over duplicate groups (0: no intervals, ``ci95`` null).
        seed: bootstrap seed.

    Returns:
        The results dict (keys as in the module docstring) without ``predictions_file`` and
        ``predictions_sha256``, which :func:`write_evaluation` adds.

    Raises:
        ValueError: the records lack columns or hold unknown labels, ``positive`` is not a label, or the
            threshold is outside [0, 1] (from ``compute_metrics``).
    """
    raw = compute_metrics(records, labels, positive, threshold, False, n_resamples, seed)
    calibrated = None
    if calibration is not None:
        cal = compute_metrics(records, labels, positive, threshold, True, n_resamples, seed)
        calibrated = {
            "temperature": calibration.temperature,
            "fitted_on": calibration.fitted_on,
            **{key: cal[key] for key in VIEW_KEYS},
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "split": name,
        "kind": kind,
        "checkpoint": checkpoint,
        "precision": precision,
        "manifest_sha256": manifest_sha256,
        "data": data,
        "labels": list(labels),
        "positive_label": positive,
        "n": raw["n"],
        "n_groups": raw["n_groups"],
        "threshold": threshold,
        "bootstrap": raw["bootstrap"],
        **{key: raw[key] for key in VIEW_KEYS},
        "calibrated": calibrated,
    }


def _paths(eval_dir: Path, name: str) -> tuple[Path, Path, Path]:
    csv = eval_dir / f"{name}{PREDICTIONS_SUFFIX}"
    return eval_dir / f"{name}{RESULTS_SUFFIX}", csv, csv.with_name(csv.name + PREV_SUFFIX)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _paired_csv(json_path: Path, csv: Path, prev: Path) -> Path | None:
    """The predictions file (current or kept previous) whose hash the results file records, if any."""
    try:
        wanted = json.loads(json_path.read_text())["predictions_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return next((p for p in (csv, prev) if p.is_file() and _sha256(p.read_bytes()) == wanted), None)


def _keep_previous(csv: Path, prev: Path) -> None:
    """Keep the predictions paired with the current results as ``.prev`` (hard link, else a copy)."""
    prev.unlink(missing_ok=True)
    try:
        os.link(csv, prev)
    except OSError:  # file systems without hard links
        os.replace(write_temp(prev, csv.read_bytes()), prev)


def write_evaluation(eval_dir: str | Path, name: str, results: dict, records: pd.DataFrame) -> Path:
    """Write ``{name}_predictions.csv`` and ``{name}_results.json`` so that a kill never breaks the old pair.

    Order: both temp files complete and fsynced; the predictions file paired with the current results is kept
    as ``.prev`` (hard link); predictions renamed; results renamed (the commit); ``.prev`` removed.

    Args:
        eval_dir: evaluation folder (created).
        name: split or external name.
        results: dict from :func:`build_results` (``predictions_*`` keys are filled in here).
        records: per-case records from :func:`build_records`.

    Returns:
        Path of the results file.

    Raises:
        ArtifactError: the pair is inconsistent (validated exactly as :func:`read_evaluation` does).
    """
    eval_dir = Path(eval_dir)
    eval_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv, prev = _paths(eval_dir, name)
    csv_data = csv_bytes(records)
    results = {**results, "predictions_file": csv.name, "predictions_sha256": _sha256(csv_data)}
    _validate(name, json.loads(json_bytes(results)), records, eval_dir)
    remove_stale_temps(eval_dir)  # left by a killed run (a concurrent live writer's files are kept)
    tmp_csv, tmp_json = write_temp(csv, csv_data), write_temp(json_path, json_bytes(results))
    paired = _paired_csv(json_path, csv, prev)
    if paired == csv:
        _keep_previous(csv, prev)
    os.replace(tmp_csv, csv)
    os.replace(tmp_json, json_path)
    fsync_dir(eval_dir)
    prev.unlink(missing_ok=True)
    return json_path


def _no_constants(token: str) -> float:
    raise ValueError(f"{token} is not a JSON number (this format writes null for undefined values)")


def _read_json(path: Path, what: str, fix: str) -> dict:
    if not path.is_file():
        raise ArtifactError(f"No {what} at {path}: {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constants)
    except (OSError, UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
        raise ArtifactError(f"{path} is not valid JSON ({err}): {fix}") from err
    if problem := schema_version_problem(data, SCHEMA_VERSION, path):
        raise ArtifactError(f"{problem}: {fix}")
    return data


def _check_identity(
    data: dict, what: str, expected_fingerprint: str | None, expected_labels: object, fix: str
) -> None:
    if expected_fingerprint is not None and data.get("checkpoint") != expected_fingerprint:
        raise ArtifactError(
            f"{what} belongs to model {str(data.get('checkpoint'))[:40]}, not to the loaded model "
            f"{expected_fingerprint}: {fix}"
        )
    if expected_labels is not None and data.get("labels") != list(expected_labels):
        found = str(data.get("labels"))[:80]
        raise ArtifactError(f"{what} has labels {found}, expected {list(expected_labels)}: {fix}")


def _validate(name: str, results: dict, records: pd.DataFrame, eval_dir: Path) -> None:
    """The whole schema of one evaluation (:mod:`~model.evaluate.artifact_schema`); errors name the fix."""
    fix = fix_command(name, eval_dir)
    if missing := [k for k in REQUIRED_KEYS if k not in results]:
        raise ArtifactError(f"evaluation '{name}' lacks keys {missing}: {fix}")
    check_results(name, results, fix)
    labels, n = results["labels"], results["n"]
    if len(records) != n:
        raise ArtifactError(
            f"evaluation '{name}' has inconsistent shapes ({len(records)} records for n={n}): {fix}"
        )
    logit_columns = [f"{LOGIT_PREFIX}{x}" for x in labels]
    columns = [*RECORD_KEYS, "predicted", *probability_columns(labels), *logit_columns]
    columns += probability_columns(labels, calibrated=True) if results["calibrated"] is not None else []
    if missing := [c for c in columns if c not in records.columns]:
        raise ArtifactError(f"predictions of '{name}' lack columns {missing}: {fix}")
    check_records(name, results, records, fix)
    try:
        check_recomputed(name, results, records, fix)
    except ValueError as err:
        raise ArtifactError(f"predictions of '{name}' are unusable ({err}): {fix}") from err


def read_evaluation(
    eval_dir: str | Path,
    split: str,
    expected_fingerprint: str | None = None,
    expected_labels: tuple[str, ...] | list[str] | None = None,
) -> Evaluation:
    """Read and validate one saved evaluation.

    Args:
        eval_dir: evaluation folder.
        split: split or external name (``test`` reads ``test_results.json`` + ``test_predictions.csv``).
        expected_fingerprint: when given, the evaluation must be of the model with this fingerprint.
        expected_labels: when given, the evaluation's labels must be exactly these.

    Returns:
        The :class:`Evaluation`; metric, interval and reliability nulls read back as NaN.

    Raises:
        ArtifactError: missing or corrupt file, wrong schema version, other model, other labels, or a pair
            that does not match; the message names the command that regenerates it.
    """
    eval_dir = Path(eval_dir)
    fix = fix_command(split, eval_dir)
    json_path, csv, prev = _paths(eval_dir, split)
    results = _read_json(json_path, f"saved evaluation '{split}'", fix)
    _check_identity(results, f"Evaluation {json_path}", expected_fingerprint, expected_labels, fix)
    paired = _paired_csv(json_path, csv, prev)
    if paired is None:
        raise ArtifactError(f"{csv} is missing or does not match {json_path.name} (edited?): {fix}")
    try:
        records = pd.read_csv(
            paired,
            dtype=dict.fromkeys((*RECORD_KEYS, "predicted"), str),
            keep_default_na=False,
            float_precision="round_trip",
        )
    except (OSError, ValueError) as err:
        raise ArtifactError(f"{paired} is not a readable predictions CSV ({err}): {fix}") from err
    _validate(split, results, records, eval_dir)
    for view in (results, results["calibrated"] or {}):
        for key in ("metrics", "ci95", "reliability"):
            if view.get(key) is not None:
                view[key] = null_to_nan(view[key])
    return Evaluation(split, results, records, eval_dir, *_typed_views(results, split, fix))


def _typed_views(results: dict, name: str, fix: str) -> tuple[ResultView, ResultView | None]:
    """The raw and calibrated :class:`ResultView` of validated results (a malformed block: ArtifactError)."""
    n, threshold = results["n"], results["threshold"]
    try:
        raw = ResultView.from_dict(results, n, threshold)
        cal = results["calibrated"]
        return raw, None if cal is None else ResultView.from_dict(cal, n, threshold)
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"evaluation '{name}' has a malformed block ({err!r:.80}): {fix}") from err


def list_evaluations(eval_dir: str | Path) -> list[str]:
    """Names of the saved evaluations in a folder: train, validation, test first, then others by name."""
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        return []
    files = [p for p in eval_dir.glob(f"*{RESULTS_SUFFIX}") if not p.name.startswith(".")]
    names = [p.name[: -len(RESULTS_SUFFIX)] for p in files]
    return sorted(names, key=lambda n: (SPLITS.index(n) if n in SPLITS else len(SPLITS), n))


def confusion_frame(
    ev: Evaluation, calibrated: bool = False, counts: NDArray[np.integer] | None = None
) -> pd.DataFrame:
    """Confusion counts as a frame for pages: index = true label, columns = predicted label.

    Args:
        ev: a saved evaluation (its labels, and its saved counts by default).
        calibrated: the calibrated view's counts.
        counts: (K, K) counts on ``ev``'s labels to show instead (e.g. recomputed at another threshold).

    Returns:
        A K x K int64 frame.

    Raises:
        ArtifactError: ``calibrated`` without a calibration.
    """
    labels = list(ev.labels)
    return pd.DataFrame(
        ev.confusion(calibrated) if counts is None else np.asarray(counts, dtype=np.int64),
        index=pd.Index(labels, name="true label"),
        columns=pd.Index(labels, name="predicted label"),
    )


def write_calibration(
    eval_dir: str | Path, fit: TemperatureFit, checkpoint: str, manifest_sha256: str | None = None
) -> Path:
    """Write ``calibration.json`` atomically (fields in the module docstring).

    Args:
        eval_dir: evaluation folder (created).
        fit: the temperature fitted on the validation split.
        checkpoint: weights fingerprint of the calibrated model.
        manifest_sha256: hash of the split manifest the validation split came from, or None.

    Returns:
        Path of ``calibration.json``.
    """
    data = {
        "schema_version": SCHEMA_VERSION,
        "checkpoint": checkpoint,
        "method": "temperature scaling",
        **fit.to_dict(),
        "manifest_sha256": manifest_sha256,
    }
    return write_json(Path(eval_dir) / CALIBRATION_FILE, data)


def read_calibration(eval_dir: str | Path, expected_fingerprint: str | None = None) -> TemperatureFit:
    """Read ``calibration.json``.

    Args:
        eval_dir: evaluation folder.
        expected_fingerprint: when given, the calibration must be of the model with this fingerprint.

    Returns:
        The saved :class:`~model.evaluate.calibration.TemperatureFit`.

    Raises:
        ArtifactError: missing, corrupt, wrong schema version, another model's, a temperature outside the
            fitted range [MIN_TEMPERATURE, MAX_TEMPERATURE] of ``model.evaluate.calibration``, or mistyped
            fields.
    """
    path = Path(eval_dir) / CALIBRATION_FILE
    fix = fix_command("validation", eval_dir)
    data = _read_json(path, "calibration", fix)
    _check_identity(data, f"Calibration {path}", expected_fingerprint, None, fix)
    try:
        fit = TemperatureFit(**{k: data[k] for k in TemperatureFit.__dataclass_fields__})
    except (KeyError, TypeError) as err:
        raise ArtifactError(f"{path} lacks field {err}: {fix}") from err
    try:
        check_temperature(fit.temperature)
    except ValueError as err:
        raise ArtifactError(f"{path} holds a {err}: {fix}") from err
    ok = isinstance(fit.fitted_on, str) and is_int(fit.n) and fit.n >= 1 and isinstance(fit.at_bound, bool)
    if not (ok and all(is_real(v) and v >= 0 for v in (fit.nll_before, fit.nll_after))):
        raise ArtifactError(
            f"{path} has fields of the wrong type (n, nll_before, nll_after, at_bound): {fix}"
        )
    return fit
