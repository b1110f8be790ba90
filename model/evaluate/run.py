"""Score a model on every split of a manifest, or on any labelled class-folder data set, and save the results.

The saved format (predictions CSV, results JSON, calibration.json) is defined in
:mod:`model.evaluate.artifacts`;
metrics come from :func:`model.evaluate.metrics.compute_metrics`. The temperature is fitted on the validation
split
only (:mod:`model.evaluate.calibration`) and reused for every other split and for external folders.

CLI::

    python -m model.evaluate --model artifacts/model --data ../shared/data/brain_tumor_dataset \\
        --manifest artifacts/split_manifest.csv --out artifacts/eval [--split test] [--int8] [--batch-size 16]
    python -m model.evaluate --model artifacts/model --data OTHER_DIR --name external --out artifacts/eval
    python -m model.evaluate --model artifacts/model --data ../shared/data/brain_mri_pool \\
        --name pool-holdout --cases artifacts/pool_manifest.csv --cases-split holdout --out artifacts/eval
    python -m model.evaluate ... --engine ray [--address auto] [--actors 4] [--gpus-per-actor 1]

A research and teaching tool: these numbers describe a small public data set, not diagnostic performance.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from model.cli import ConfigCli, run_cli
from model.data.scan import Scan, ScanError, load_scan
from model.data.split import SPLITS, index_dataset, manifest_sha256, read_manifest
from model.errors import MriExplainError
from model.evaluate.artifacts import (
    ArtifactError,
    build_records,
    build_results,
    read_calibration,
    write_calibration,
    write_evaluation,
)
from model.evaluate.calibration import TemperatureFit, fit_temperature
from model.evaluate.engine import EngineConfig, load_ray_engine, ray_options
from model.evaluate.metrics import BOOTSTRAP_SEED, N_BOOTSTRAP
from model.labels import DEFAULT_CLASS_MAP, POSITIVE_LABEL, LabelMismatchError
from model.loading import Classifier, load_classifier, with_sdpa_attention
from model.preprocess import PreprocessConfig, crop_and_resize, normalise

DEFAULT_BATCH_SIZE = 16
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class EvaluationInputError(MriExplainError, ValueError):
    """The data, manifest or options cannot be evaluated as given; the message says what to change."""


def _load(path: str | Path) -> Scan:
    try:
        return load_scan(path)
    except ScanError as err:  # name the file: a batch job would otherwise not say which one failed
        raise ScanError(f"{path}: {err}") from err


def _read_batch(
    paths: Sequence[str | Path], expected_sha256: Sequence[str] | None, cfg: PreprocessConfig
) -> NDArray[np.uint8]:
    """Decode, check and crop/resize one batch of files: (B, S, S, 3) uint8 (no torch: runs in a thread)."""
    scans = [_load(p) for p in paths]
    for k, scan in enumerate(scans):
        if expected_sha256 is not None and scan.sha256 != expected_sha256[k]:
            raise EvaluationInputError(
                f"{paths[k]} differs from the manifest (sha256 mismatch): use the data the "
                "manifest was made from, or regenerate the manifest."
            )
    return np.stack([crop_and_resize(s.image, cfg)[0] for s in scans])


def predict_paths(
    classifier: Classifier,
    paths: Sequence[str | Path],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    expected_sha256: Sequence[str] | None = None,
    desc: str = "inference",
) -> NDArray[np.float32]:
    """Run the classifier on image files, in batches, under ``torch.inference_mode``.

    One background thread decodes, checks and brain-crops batch k + 1 (PIL, hashlib, scipy: no torch) while
    the model runs batch k, so at most two batches of pixels are held at once. Normalisation and the forward
    pass stay on the calling thread, so the logits are those of decoding and predicting each batch in turn.
    The forward pass uses SDPA attention on the same weights for fp32 models
    (:func:`model.loading.with_sdpa_attention`; logits within ~1e-6 of eager attention).
    An error in any file is raised here, naming the file, after the thread has stopped.

    Args:
        classifier: a loaded model (see :func:`model.loading.load_classifier`).
        paths: N image files (PNG/JPEG/DICOM; decoded by content with :func:`model.data.scan.load_scan`).
        batch_size: images per forward pass (>= 1).
        progress: show a tqdm bar on stderr.
        expected_sha256: N hashes the files must have (e.g. from a manifest); None skips the check.
        desc: label of the progress bar.

    Returns:
        (N, K) float32 logits in the order of ``paths``, K = len(classifier.labels).

    Raises:
        ScanError: a file is not a readable scan.
        EvaluationInputError: a file's content differs from ``expected_sha256``.
    """
    if batch_size < 1:
        raise EvaluationInputError(f"batch size must be >= 1, got {batch_size}.")
    cfg, model = classifier.preprocess, with_sdpa_attention(classifier.model)
    starts = range(0, len(paths), batch_size)
    jobs = [
        (paths[i : i + batch_size], None if expected_sha256 is None else expected_sha256[i : i + batch_size])
        for i in starts
    ]
    out = [np.zeros((0, len(classifier.labels)), np.float32)]
    bar = tqdm(total=len(paths), unit="img", desc=desc, disable=not progress)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict-paths-decode")
    try:
        ahead = pool.submit(_read_batch, *jobs[0], cfg) if jobs else None
        with torch.inference_mode(), bar:
            for k in range(len(jobs)):
                pixels = ahead.result()  # (B, S, S, 3) uint8; re-raises the thread's error
                ahead = pool.submit(_read_batch, *jobs[k + 1], cfg) if k + 1 < len(jobs) else None
                batch = normalise(pixels, cfg)  # (B, 3, S, S)
                out.append(model(pixel_values=batch).logits.float().numpy())  # (B, K)
                bar.update(len(pixels))
    finally:  # never leave the thread running: drop queued work, wait for the batch in hand
        pool.shutdown(wait=True, cancel_futures=True)
    return np.concatenate(out)


def quantize_int8(classifier: Classifier) -> Classifier:
    """A copy whose Linear layers use dynamic int8 quantization (``torch.ao.quantization.quantize_dynamic``).

    The fingerprint stays that of the fp32 weights it was made from; results record ``"precision": "int8"``.
    """
    model = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(classifier.model), {torch.nn.Linear}, dtype=torch.qint8
    )
    return dataclasses.replace(classifier, model=model.eval())


def manifest_cases(manifest: pd.DataFrame, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Split name -> cases (path, sha256, group, label) of a validated manifest, in :data:`SPLITS` order.

    Args:
        manifest: a manifest from :func:`~model.data.split.read_manifest`.
        labels: the model's labels.

    Raises:
        LabelMismatchError: the manifest holds labels the model does not know.
    """
    unknown = sorted(set(manifest["label"]) - set(labels))
    if unknown:
        raise LabelMismatchError(
            f"manifest labels {unknown} are not among the model's labels "
            f"{list(labels)}; evaluate a model trained for these classes."
        )
    present = [s for s in SPLITS if (manifest["split"] == s).any()]
    return {s: manifest[manifest["split"] == s].reset_index(drop=True) for s in present}


def folder_cases(data: str | Path, labels: Sequence[str], progress: bool = True) -> pd.DataFrame:
    """Cases of a class-folder data set (``yes/``, ``no/``), grouped into duplicates by :mod:`model.data`.

    Args:
        data: data root holding the class folders.
        labels: the model's labels.
        progress: show a tqdm bar while indexing.

    Returns:
        One row per image: path (relative to ``data``), sha256, label, group.

    Raises:
        DataError: the folder or a class sub-folder is missing, or nothing decodes.
        LabelMismatchError: the folder's labels are not among ``labels``.
    """
    index = index_dataset(data, DEFAULT_CLASS_MAP, progress=progress)
    if unknown := sorted(set(index.labels) - set(labels)):
        raise LabelMismatchError(f"folder labels {unknown} are not among the model's labels {list(labels)}.")
    groups = index.groups()
    return pd.DataFrame(
        {
            "path": index.paths,
            "sha256": index.sha256,
            "label": index.labels,
            "group": [groups.group[p] for p in index.paths],
        }
    )


def listed_cases(path: str | Path, split: str | None, labels: Sequence[str]) -> pd.DataFrame:
    """Cases listed in a CSV with columns path, sha256, label, group (and ``split`` to filter on).

    Labels may be model labels or folder names (``yes``/``no``). The pool manifest (:mod:`model.data.pool`) is
    such a file: its ``holdout`` rows are the pool's held-out part.

    Args:
        path: the CSV (``--cases``).
        split: keep only rows whose ``split`` is this (``--cases-split``); None keeps all.
        labels: the model's labels.

    Returns:
        path, sha256, label (a model label), group; sorted by path.

    Raises:
        EvaluationInputError: the file is missing, lacks a column, or the split selects nothing.
        LabelMismatchError: a label is not among ``labels``.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationInputError(f"--cases {path} not found.")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    needed = ["path", "sha256", "label", "group"] + (["split"] if split else [])
    if missing := [c for c in needed if c not in frame.columns]:
        raise EvaluationInputError(f"--cases {path} lacks column(s) {missing}.")
    if split:
        frame = frame[frame["split"] == split]
    if frame.empty or frame["path"].duplicated().any():
        raise EvaluationInputError(f"--cases {path} selects no cases (split {split!r}) or repeats a path.")
    frame = frame.assign(label=frame["label"].map(lambda v: DEFAULT_CLASS_MAP.get(v, v)))
    if unknown := sorted(set(frame["label"]) - set(labels)):
        raise LabelMismatchError(f"--cases labels {unknown} are not among the model's labels {list(labels)}.")
    return (
        frame[["path", "sha256", "label", "group"]].sort_values("path", kind="stable").reset_index(drop=True)
    )


def _checked_paths(data: Path, cases: pd.DataFrame) -> list[Path]:
    paths = [data / p for p in cases["path"]]
    if missing := [str(p) for p in paths if not p.is_file()]:
        raise EvaluationInputError(
            f"{len(missing)} file(s) are missing under --data {data}, e.g. "
            f"{missing[0]}: pass the data root the cases were listed from."
        )
    return paths


def _logits(
    classifier: Classifier, data: Path, cases: dict[str, pd.DataFrame], cfg: EvaluateConfig
) -> dict[str, NDArray]:
    """Logits of each named set of cases, by ``cfg.engine`` (with Ray: one job for all the sets)."""
    paths = {name: _checked_paths(data, c) for name, c in cases.items()}
    hashes = {name: list(c["sha256"]) for name, c in cases.items()}
    if cfg.engine.kind == "ray":
        engine, options = load_ray_engine(), ray_options(cfg.engine)
        groups = [(paths[name], hashes[name]) for name in cases]
        with engine.ray_session(options, known=(ScanError, EvaluationInputError)):
            found = engine.predict_groups(
                classifier, cfg.model, groups, cfg.batch_size, options, cfg.int8, not cfg.no_progress
            )
        return dict(zip(cases, found, strict=True))
    progress = not cfg.no_progress
    return {
        name: predict_paths(classifier, paths[name], cfg.batch_size, progress, hashes[name], name)
        for name in cases
    }


def save_evaluation(
    out: str | Path,
    name: str,
    cases: pd.DataFrame,
    logits: NDArray,
    classifier: Classifier,
    fit: TemperatureFit | None = None,
    positive: str = POSITIVE_LABEL,
    **results_meta: object,
) -> tuple[Path, pd.DataFrame]:
    """Save one evaluation of ``cases`` from their logits: records, results with intervals, the file pair.

    Args:
        out: evaluation folder (created).
        name: split or external name (``test``, ``pool-holdout``, ...).
        cases: one row per scan with ``path``, ``label`` and ``group`` (:func:`manifest_cases`), in the
            order of ``logits``.
        logits: raw logits, shape ``(len(cases), n_labels)``, float.
        classifier: the model the logits came from (its labels and fingerprint go into the results).
        fit: the validation split's temperature fit, or ``None`` before one is fitted.
        positive: the positive class label.
        **results_meta: more :func:`~model.evaluate.artifacts.build_results` fields (``kind``, ``threshold``,
            ``n_resamples``, ``seed``, ``precision``, ``data``, ``manifest_sha256``).

    Returns:
        The results file's path and the per-case records written beside it.

    Raises:
        ArtifactError: the pair would be inconsistent (checked as the reader checks it).
    """
    records = build_records(cases, logits, classifier.labels, fit.temperature if fit else None, positive)
    results = build_results(
        name,
        records,
        classifier.labels,
        classifier.fingerprint,
        calibration=fit,
        positive=positive,
        **results_meta,
    )
    return write_evaluation(out, name, results, records), records


def _save(
    name: str,
    cases: pd.DataFrame,
    logits: NDArray,
    fit: TemperatureFit | None,
    classifier: Classifier,
    cfg: EvaluateConfig,
    **meta: object,
) -> Path:
    path, _ = save_evaluation(
        cfg.out,
        name,
        cases,
        logits,
        classifier,
        fit,
        cfg.positive,
        precision="int8" if cfg.int8 else "fp32",
        data=Path(cfg.data).resolve().name,
        threshold=cfg.threshold,
        n_resamples=cfg.bootstrap,
        seed=cfg.seed,
        **meta,
    )
    return path


def evaluate_manifest(classifier: Classifier, cfg: EvaluateConfig) -> list[Path]:
    """Evaluate the requested splits (default: all); fit and save the temperature on the validation split.

    Args:
        classifier: the loaded model.
        cfg: the job's config (``manifest``, ``split``, ``data``, ``out``, ...).

    Returns:
        The paths of the ``{split}_results.json`` files written.

    Raises:
        ManifestError: the manifest is invalid.
        EvaluationInputError: a requested split is not in the manifest, or a case's file is missing under
            ``--data`` or differs from the manifest (sha256).
        LabelMismatchError: the manifest holds labels the model does not know.
        ScanError: a case's file does not decode.
    """
    cases = manifest_cases(read_manifest(cfg.manifest), classifier.labels)
    wanted = cfg.split or list(cases)
    if missing := [s for s in wanted if s not in cases]:
        raise EvaluationInputError(f"the manifest has no {missing} split; it holds {list(cases)}.")
    mhash = manifest_sha256(cfg.manifest)
    needed = [s for s in cases if s in wanted or s == "validation"]
    logits = _logits(classifier, Path(cfg.data), {s: cases[s] for s in needed}, cfg)
    fit = None
    if "validation" in logits:
        y = cases["validation"]["label"].map(list(classifier.labels).index).to_numpy()
        fit = fit_temperature(logits["validation"], y, "validation")
        write_calibration(cfg.out, fit, classifier.fingerprint, mhash)
    return [
        _save(s, cases[s], logits[s], fit, classifier, cfg, kind="split", manifest_sha256=mhash)
        for s in wanted
    ]


def evaluate_folder(classifier: Classifier, cfg: EvaluateConfig) -> list[Path]:
    """Evaluate a labelled folder as ``cfg.name``, calibrated with the saved temperature if one exists.

    Args:
        classifier: the loaded model.
        cfg: the job's config (``name``, ``data`` or ``cases``, ``out``, ...).

    Returns:
        The path of the ``{name}_results.json`` written, in a list.

    Raises:
        EvaluationInputError: ``--name`` is a split name or not a file prefix, or ``--cases`` is unusable.
        DataError: the folder cannot be indexed.
        LabelMismatchError: labels the model does not know.
    """
    if cfg.name in SPLITS or not NAME_PATTERN.fullmatch(cfg.name):
        raise EvaluationInputError(
            f"--name '{cfg.name}' must be a file prefix (letters, digits, _ . -) other than {list(SPLITS)}"
        )
    cases = (
        listed_cases(cfg.cases, cfg.cases_split, classifier.labels)
        if cfg.cases
        else folder_cases(cfg.data, classifier.labels, not cfg.no_progress)
    )
    try:
        fit = read_calibration(cfg.out, classifier.fingerprint)
    except ArtifactError as err:
        print(f"note: no calibration used ({err})", file=sys.stderr)
        fit = None
    logits = _logits(classifier, Path(cfg.data), {cfg.name: cases}, cfg)[cfg.name]
    return [_save(cfg.name, cases, logits, fit, classifier, cfg, kind="external")]


SOURCE = "source"  # --manifest or --name: exactly one


@dataclass(frozen=True, kw_only=True)
class EvaluateConfig:
    """One ``python -m model.evaluate`` job: the model, the data, what to score and how (see the module doc).

    Raises:
        EvaluationInputError: options that do not go together, or a value out of range.
        EngineError: invalid engine options.
    """

    model: str = field(metadata={"help": "save_pretrained folder or hub id"})
    data: str = field(metadata={"help": "data root holding the class folders (yes/, no/)"})
    out: str = field(metadata={"help": "evaluation folder to write (e.g. artifacts/eval)"})
    manifest: str | None = field(
        default=None, metadata={"help": "split manifest CSV: evaluate its splits", "one_of": SOURCE}
    )
    name: str | None = field(
        default=None,
        metadata={"help": "evaluate the whole --data folder under this name (no manifest)", "one_of": SOURCE},
    )
    split: tuple[str, ...] | None = field(
        default=None, metadata={"help": "only this split (repeatable)", "action": "append", "choices": SPLITS}
    )
    cases: str | None = field(
        default=None,
        metadata={"help": "with --name: evaluate the cases listed in this CSV (path, sha256, label, group)"},
    )
    cases_split: str | None = field(
        default=None, metadata={"help": "with --cases: only rows whose split column has this value"}
    )
    batch_size: int = DEFAULT_BATCH_SIZE
    int8: bool = field(default=False, metadata={"help": "dynamic int8 quantization of Linear layers"})
    threshold: float = field(default=0.5, metadata={"help": "decision threshold on P(positive)"})
    positive: str = field(default=POSITIVE_LABEL, metadata={"help": "positive class label"})
    bootstrap: int = field(default=N_BOOTSTRAP, metadata={"help": "bootstrap resamples (0: no intervals)"})
    seed: int = field(default=BOOTSTRAP_SEED, metadata={"help": "bootstrap seed"})
    no_progress: bool = field(default=False, metadata={"help": "hide progress bars"})
    engine: EngineConfig = field(default_factory=EngineConfig, metadata={"flatten": True})

    def __post_init__(self) -> None:
        if self.split and not self.manifest:
            raise EvaluationInputError("--split needs --manifest")
        if (self.cases and not self.name) or (self.cases_split and not self.cases):
            raise EvaluationInputError("--cases needs --name, and --cases-split needs --cases")
        if self.batch_size < 1 or self.bootstrap < 0 or not 0 <= self.threshold <= 1:
            raise EvaluationInputError("need --batch-size >= 1, --bootstrap >= 0 and --threshold in [0, 1]")


CLI = ConfigCli(EvaluateConfig, "python -m model.evaluate", __doc__.split("\n\n")[0])
cli_parser, parse_args = CLI.parser, CLI.parse


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI: 0 when every evaluation is written.

    Args:
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status.

    Raises:
        MriExplainError: bad input (model, data, manifest, labels, engine); :func:`~model.cli.run_cli` prints
            it as one line and exits 2.
    """
    cfg = parse_args(argv)
    classifier = load_classifier(cfg.model)
    if cfg.positive not in classifier.labels:
        known = list(classifier.labels)
        raise EvaluationInputError(f"--positive '{cfg.positive}' is not a label of the model: {known}")
    if cfg.int8:
        classifier = quantize_int8(classifier)
    written = (evaluate_manifest if cfg.manifest else evaluate_folder)(classifier, cfg)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
