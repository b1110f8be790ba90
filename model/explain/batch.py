"""Compute explanation maps and their quality scores for a split of a saved evaluation (issue #5).

Usage::

    python -m model.explain --model artifacts/model --data ../shared/data/brain_tumor_dataset \\
        --eval artifacts/eval --split test --out artifacts/eval/explanations [--methods gradcam occlusion] \\
        [--limit 10] [--masks DIR] [--sanity-cases 6] [--steps 28] [--seed 0] \\
        [--engine ray [--address auto] [--actors 4] [--batch-size 1]]

For every scan of the split (from ``{split}_predictions.csv``; with ``--manifest`` and no saved evaluation,
from the split manifest) and every method: the map for the predicted class, its deletion/insertion curves
(:mod:`model.explain.quality`), the pointing game and mask share for scans with a tumour mask (map for the
tumour class), and on ``--sanity-cases`` scans spread over the split the model-randomisation check
(:mod:`model.explain.sanity`). Results are written by :func:`model.explain.summary.write_explanations`.
Research and teaching tool, not a diagnosis.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from model.cli import ConfigCli, raise_as, run_cli
from model.data.masks import MaskIndex, load_mask, read_mask_index
from model.data.scan import load_scan
from model.data.split import read_manifest
from model.errors import MriExplainError
from model.evaluate.artifacts import ArtifactError, read_evaluation
from model.evaluate.engine import EngineConfig, load_ray_engine, ray_options
from model.evaluate.metrics import BOOTSTRAP_SEED, CI_LEVEL, N_BOOTSTRAP
from model.explain import quality, sanity, summary
from model.explain.heatmap import Heatmap
from model.explain.registry import EXPLAINERS, safe_explain
from model.labels import POSITIVE_LABEL, positive_index
from model.loading import Classifier, load_classifier
from model.preprocess import Geometry, PreprocessConfig, preprocess

# Methods whose params take the run's seed: those with a "seed" parameter (gradient_shap, smoothgrad).
SEEDED = tuple(name for name, entry in EXPLAINERS.items() if "seed" in entry.defaults)
DEFAULT_SANITY_CASES = 6
LOCALISATION_COLUMNS = ("pointing_hit", "mask_share", "area_share", "chance_hit")


class BatchInputError(MriExplainError, ValueError):
    """Bad command-line input; printed as one line, exit code 2."""


@dataclass
class Run:
    """Everything one batch run needs (built once by :func:`prepare`)."""

    classifier: Classifier
    cases: pd.DataFrame
    methods: dict[str, dict]
    masks: MaskIndex | None
    copies: list[tuple[str, torch.nn.Module]]
    sanity_indices: frozenset[int]
    args: ExplainConfig

    @property
    def tumour_index(self) -> int | None:
        """The tumour class, whose map is scored against the masks; None without masks (nothing to score)."""
        return positive_index(self.classifier.labels) if self.masks is not None else None


@dataclass(frozen=True, kw_only=True)
class ExplainConfig:
    """One ``python -m model.explain`` job: model, cases, methods, scoring and engine (see the module doc).

    Raises:
        BatchInputError: ``batch_size`` < 1.
        EngineError: invalid engine options.
    """

    model: str = field(metadata={"help": "save_pretrained model folder"})
    data: Path = field(metadata={"help": "data root (yes/, no/)"})
    eval: Path = field(metadata={"help": "evaluation folder with {split}_predictions.csv"})
    split: str = "test"
    out: Path
    methods: tuple[str, ...] = field(default=tuple(EXPLAINERS), metadata={"metavar": "METHOD"})
    limit: int | None = field(default=None, metadata={"help": "explain only the first N cases (by path)"})
    manifest: Path | None = field(
        default=None, metadata={"help": "split manifest, used when no evaluation exists"}
    )
    masks: Path | None = field(
        default=None, metadata={"help": "tumour-mask folder (default: DATA + '_masks')"}
    )
    sanity_cases: int = DEFAULT_SANITY_CASES
    steps: int = field(
        default=quality.DEFAULT_STEPS, metadata={"help": "points per deletion/insertion curve"}
    )
    seed: int = 0
    batch_size: int = field(default=1, metadata={"help": "cases per Ray actor call (--engine ray)"})
    engine: EngineConfig = field(default_factory=EngineConfig, metadata={"flatten": True})

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise BatchInputError("--batch-size must be >= 1")


CLI = ConfigCli(ExplainConfig, "python -m model.explain", __doc__.split("\n")[0])
cli_parser, parse_args = CLI.parser, CLI.parse


def load_cases(args: ExplainConfig, fingerprint: str, labels: tuple[str, ...]) -> pd.DataFrame:
    """The split's cases (path, sha256, group, label) from the saved evaluation, else from ``--manifest``.

    Args:
        args: the job's config (``eval``, ``split``, ``manifest``, ``limit``).
        fingerprint: the model's weights fingerprint; the saved evaluation must match it.
        labels: the model's labels; the saved evaluation must match them.

    Returns:
        path, sha256, group, label per case; the first ``--limit`` when one is set.

    Raises:
        BatchInputError: the saved evaluation is unreadable or of another model, it is missing and no
            ``--manifest`` is given, or the split has no cases.
        ManifestError: the ``--manifest`` fallback is invalid.
    """
    try:
        records = read_evaluation(args.eval, args.split, fingerprint, labels).records
    except ArtifactError as err:
        missing = not (args.eval / f"{args.split}_results.json").exists()
        if not missing:
            raise BatchInputError(str(err)) from err
        if args.manifest is None:
            raise BatchInputError(f"{err} (or pass --manifest to take the split from a manifest)") from err
        frame = read_manifest(args.manifest)
        records = frame[frame["split"] == args.split].sort_values("path")
    cases = records.loc[:, ["path", "sha256", "group", "label"]].reset_index(drop=True)
    if cases.empty:
        raise BatchInputError(f"Split '{args.split}' has no cases; choose one of train, validation, test.")
    return cases.head(args.limit) if args.limit else cases


def prepare(args: ExplainConfig) -> Run:
    """Validate the inputs and load model, cases, masks and the randomised copies for the sanity check."""
    if unknown := [m for m in args.methods if m not in EXPLAINERS]:
        raise BatchInputError(f"Unknown method(s) {unknown}; choose from {list(EXPLAINERS)}.")
    if args.steps < 1 or args.sanity_cases < 0 or (args.limit is not None and args.limit < 1):
        raise BatchInputError("--steps and --limit must be >= 1 and --sanity-cases >= 0.")
    if not args.data.is_dir():
        raise BatchInputError(f"Data folder {args.data} not found; pass the folder holding yes/ and no/.")
    classifier = load_classifier(args.model)
    masks_dir = args.masks or args.data.parent / f"{args.data.name}_masks"
    masks = read_mask_index(masks_dir) if (masks_dir / "masks.csv").exists() else None
    if args.masks is not None and masks is None:
        raise BatchInputError(f"No masks.csv in {args.masks}; pass the brain_tumor_dataset_masks folder.")
    if masks is not None and POSITIVE_LABEL not in classifier.labels:  # localisation scores that class's map
        raise BatchInputError(
            f"The tumour masks in {masks_dir} need a model with a '{POSITIVE_LABEL}' class; "
            f"{args.model} has {list(classifier.labels)}. Choose that model, or move the masks folder away."
        )
    cases = load_cases(args, classifier.fingerprint, classifier.labels)
    methods = {
        m: {**EXPLAINERS[m].defaults, **({"seed": args.seed} if m in SEEDED else {})} for m in args.methods
    }
    copies = sanity.randomised_models(classifier.model, seed=args.seed) if args.sanity_cases > 0 else []
    return Run(classifier, cases, methods, masks, copies, sanity_cases(len(cases), args.sanity_cases), args)


def sanity_cases(n_cases: int, n_checked: int) -> frozenset[int]:
    """Indices of the cases that get the (costly) randomisation check: evenly spread over the sorted split,
    so both classes (``no/`` paths sort before ``yes/``) are checked.

    Args:
        n_cases: number of cases in the split (>= 1 when ``n_checked`` > 0).
        n_checked: how many to check (``--sanity-cases``); <= 0 checks none.

    Returns:
        Case indices in [0, n_cases).
    """
    if n_checked <= 0:
        return frozenset()
    return frozenset(np.linspace(0, n_cases - 1, min(n_checked, n_cases)).round().astype(int).tolist())


def load_case(
    data: Path, row: Mapping, cfg: PreprocessConfig, masks: MaskIndex | None
) -> tuple[torch.Tensor, Geometry, np.ndarray | None]:
    """Decode, check and preprocess one case, with its tumour mask when it has one.

    Args:
        data: data root. row: the case (``path``, ``sha256``). cfg: the model's preprocessing.
        masks: the mask index, or None.

    Returns:
        (1, 3, S, S) model input, its :class:`Geometry`, and the (H, W) bool mask or None.

    Raises:
        BatchInputError: the file differs from the evaluated one.
    """
    scan = load_scan(data / row["path"])
    if scan.sha256 != row["sha256"]:
        raise BatchInputError(
            f"{row['path']} differs from the evaluated file (sha256); pass the data folder "
            "the evaluation used."
        )
    x, geom = preprocess(scan.image, cfg)
    record = masks.find(row["path"], row["sha256"]) if masks is not None else None
    return x[None], geom, (load_mask(record) if record is not None else None)


def _localise(
    run: Run, name: str, x: torch.Tensor, heat: Heatmap, geom: Geometry, mask: np.ndarray | None
) -> tuple[dict, Heatmap | None]:
    """Localisation scores of the tumour-class map (made here when the prediction was another class)."""
    t = run.tumour_index
    if mask is None or t is None:
        return dict.fromkeys(LOCALISATION_COLUMNS, np.nan), None
    extra = None
    if heat.target != t:
        heat = extra = safe_explain(name, run.classifier.model, x, t, **run.methods[name])
    loc = quality.localisation(heat, geom, mask)
    values = (float(loc.hit), loc.mask_share, loc.area_share, loc.chance)
    return dict(zip(LOCALISATION_COLUMNS, values, strict=True)), extra


def _sanity(run: Run, name: str, x: torch.Tensor, heat: Heatmap) -> dict:
    model, params = run.classifier.model, run.methods[name]
    check = sanity.parameter_randomisation(
        EXPLAINERS[name].explain, model, x, heat.target, params, copies=run.copies, reference=heat
    )
    stages = {f"sanity_stage_{i}": c for i, c in enumerate(check.correlations)}
    return {"sanity_spearman": check.final, **stages}


def _explain_method(
    run: Run, name: str, case: dict, x: torch.Tensor, geom: Geometry, mask: np.ndarray | None, store: dict
) -> dict:
    """One method on one case: its row of ``cases.csv``; maps and curves go into ``store``."""
    start = time.perf_counter()
    heat = safe_explain(name, run.classifier.model, x, case["target"], **run.methods[name])
    seconds = time.perf_counter() - start
    fc = quality.deletion_insertion(run.classifier.model, x, heat, case["target"], n_steps=run.args.steps)
    store["curves"].setdefault(name, []).append((fc.deletion, fc.insertion))
    store["fractions"] = fc.fractions
    loc, extra = _localise(run, name, x, heat, geom, mask)
    for h in (heat, extra) if extra is not None else (heat,):
        store["maps"][summary.map_key(name, h.target, case["sha256"])] = h.on_patch_grid(_patch(run))
    row = {
        **case,
        "method": name,
        "seconds": seconds,
        "deletion_auc": fc.deletion_auc,
        "insertion_auc": fc.insertion_auc,
        "empty": heat.is_empty,
        **loc,
        "convergence_delta": heat.extras.get("convergence_delta", np.nan),
    }
    if case["index"] in run.sanity_indices and run.copies:
        row.update(_sanity(run, name, x, heat))
    return row


def _patch(run: Run) -> int:
    p = run.classifier.model.config.patch_size
    return int(p[0] if isinstance(p, (tuple, list)) else p)


def explain_case(run: Run, index: int, row: pd.Series, store: dict) -> list[dict]:
    """Every method on one case, plus the random-ranking reference: rows for ``cases.csv``.

    Args:
        run: the prepared job (:func:`prepare`).
        index: the case's position in the split (seeds its random reference).
        row: the case (path, sha256, group, label).
        store: ``maps``, ``curves`` and ``fractions`` collected across cases; updated in place.

    Returns:
        One row per method plus the random reference (rows of ``cases.csv``).

    Raises:
        BatchInputError: the file differs from the evaluated one (:func:`load_case`).
        ScanError: the file does not decode.
    """
    x, geom, mask = load_case(run.args.data, row, run.classifier.preprocess, run.masks)
    return explain_loaded(run, index, row, x, geom, mask, store)


def explain_loaded(
    run: Run,
    index: int,
    row: pd.Series,
    x: torch.Tensor,
    geom: Geometry,
    mask: np.ndarray | None,
    store: dict,
) -> list[dict]:
    """:func:`explain_case` on a case already loaded by :func:`load_case` (the Ray engine decodes apart).

    Args:
        run: the prepared job (:func:`prepare`).
        index: the case's position in the split (seeds its random reference).
        row: the case (path, sha256, group, label).
        x: (1, 3, S, S) model input from :func:`load_case`.
        geom: how the scan was cropped and resized into ``x``.
        mask: (H, W) bool tumour mask of the scan, or None.
        store: ``maps``, ``curves`` and ``fractions`` collected across cases; updated in place.

    Returns:
        One row per method plus the random reference: case fields, seconds and the scores.
    """
    with torch.no_grad():
        target = int(run.classifier.model(pixel_values=x).logits.argmax(-1))
    case = {**row.to_dict(), "index": index, "predicted": run.classifier.labels[target], "target": target}
    random_map = np.random.default_rng([run.args.seed, index]).random(run.classifier.patch_grid)
    ref = quality.deletion_insertion(run.classifier.model, x, random_map, target, n_steps=run.args.steps)
    store["curves"].setdefault(summary.RANDOM_REFERENCE, []).append((ref.deletion, ref.insertion))
    store["fractions"] = ref.fractions
    rows = [
        {
            **case,
            "method": summary.RANDOM_REFERENCE,
            "seconds": 0.0,
            "deletion_auc": ref.deletion_auc,
            "insertion_auc": ref.insertion_auc,
        }
    ]
    return rows + [_explain_method(run, name, case, x, geom, mask, store) for name in run.methods]


def explain_cases(run: Run) -> tuple[list[dict], dict]:
    """The local engine: every case in this process, in order; the ``cases.csv`` rows and the store."""
    store: dict = {"maps": {}, "curves": {}}
    rows: list[dict] = []
    for index, row in tqdm(list(run.cases.iterrows()), desc=f"explaining {run.args.split}", unit="scan"):
        rows.extend(explain_case(run, int(index), row, store))
    return rows, store


def _settings(run: Run) -> dict:
    bootstrap = {
        "unit": "duplicate group",
        "level": CI_LEVEL,
        "resamples": N_BOOTSTRAP,
        "seed": BOOTSTRAP_SEED,
    }
    return {
        "steps": run.args.steps,
        "deletion_baseline": quality.DELETION_BASELINE,
        "insertion_baseline": quality.INSERTION_BASELINE,
        "seed": run.args.seed,
        "sanity_cases": run.args.sanity_cases,
        "sanity_stages": [label for label, _ in run.copies],
        "sanity_threshold": sanity.SANITY_MAX_SPEARMAN,
        "pointing_tolerance_fraction": quality.POINTING_TOLERANCE_FRACTION,
        "bootstrap": bootstrap,
    }


def build_summary(run: Run, cases: pd.DataFrame, curves: dict, fractions: np.ndarray) -> dict:
    """The ``summary.json`` dict (see :mod:`model.explain.summary`).

    Args:
        run: the prepared job.
        cases: one row per case and method (``cases.csv``); missing score columns are added as NaN.
        curves: method -> [(deletion, insertion) curve per case].
        fractions: (S,) the removed fractions the curves are sampled at.

    Returns:
        The summary dict, ready for :func:`model.explain.summary.write_explanations`.
    """
    for col in (*LOCALISATION_COLUMNS, "sanity_spearman"):
        cases[col] = cases[col] if col in cases else np.nan
    settings = _settings(run)
    methods = {}
    for name in [summary.RANDOM_REFERENCE, *run.methods]:
        rows = cases[cases["method"] == name]
        entry = summary.method_summary(rows, np.asarray(curves.get(name, [])), fractions, settings)
        label = "Random ranking (reference)" if name == summary.RANDOM_REFERENCE else EXPLAINERS[name].label
        methods[name] = {"label": label, "params": run.methods.get(name, {}), **entry}
    return {
        "schema_version": summary.SCHEMA_VERSION,
        "checkpoint": run.classifier.fingerprint,
        "split": run.args.split,
        "n_cases": int(cases["path"].nunique()),
        "labels": list(run.classifier.labels),
        "settings": settings,
        "versions": _versions(),
        "note": summary.NOTE,
        "methods": methods,
    }


def _versions() -> dict[str, str]:
    import captum
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "captum": captum.__version__,
    }


def run_batch(args: ExplainConfig) -> Path:
    """Explain and score every case, then write the summary; returns the path of ``summary.json``."""
    run = prepare(args)
    if args.engine.kind == "ray":
        engine = load_ray_engine("model.explain.engine_ray")
        rows, store = engine.explain_cases_ray(run, ray_options(args.engine))
    else:
        rows, store = explain_cases(run)
    cases = pd.DataFrame(rows)
    result = build_summary(run, cases, store["curves"], store["fractions"])
    return summary.write_explanations(args.out, result, cases, store["maps"])


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 when the summary is written.

    Args:
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status.

    Raises:
        MriExplainError: bad input (a missing file becomes a :class:`BatchInputError`);
            :func:`~model.cli.run_cli` prints it as one line and exits 2.
    """
    args = parse_args(argv)
    with raise_as(BatchInputError, FileNotFoundError):
        path = run_batch(args)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
