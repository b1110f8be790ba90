"""Write a model folder's README.md: a Hugging Face style model card built from the files beside the weights.

The card reads ``config.json`` (architecture, labels), ``training_config.json`` (recipe, split identity,
chosen epoch), ``training_log.csv`` (per-epoch table), optional ``experiments.md`` / ``experiments.csv`` (what
was tried, with validation figures) and, when an evaluation folder is given, ``test_results.json`` and
``validation_results.json`` written by ``python -m model.evaluate`` (read through
:func:`model.evaluate.artifacts.read_evaluation`, which checks that they belong to this model's weights).
Test numbers
in the card are therefore exactly the evaluation CLI's numbers.

CLI::

    python -m model.evaluate.card --model artifacts/model --eval artifacts/eval
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model.cli import ConfigCli, raise_as, run_cli
from model.evaluate.artifacts import Evaluation, list_evaluations, read_evaluation
from model.evaluate.card_format import Card, parse_card
from model.evaluate.card_pretrained import LIMITATIONS as PRETRAINED_LIMITATIONS
from model.evaluate.card_pretrained import (
    SOURCES,
    describe_cv,
    describe_finetune,
    describe_pool_holdout,
    flat_run,
    is_finetune_record,
)
from model.io import write_text
from model.labels import POSITIVE_LABEL
from model.loading import RUN_CONFIG_FILE, ModelLoadError, flat_run_record, load_classifier

CARD_FILE = "README.md"
EXPERIMENTS_FILE = "experiments.csv"
NOTES_FILE = "experiments.md"
RECIPE_KEYS = (
    "image_size",
    "patch_size",
    "layers",
    "hidden",
    "heads",
    "mlp",
    "init",
    "epochs",
    "lr",
    "batch_size",
    "eval_batch_size",
    "optimizer",
    "betas",
    "eps",
    "weight_decay",
    "schedule",
    "warmup_ratio",
    "label_smoothing",
    "mixup",
    "class_weights",
    "grad_clip",
    "dropout",
    "attention_dropout",
    "teacher_epochs",
    "distill_alpha",
    "distill_temperature",
    "seed",
    "select_by",
)
LOG_FILE = "training_log.csv"
# (key in results["metrics"], card name); per-class keys are (label, stat).
RESULT_ROWS = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("sensitivity", "Sensitivity (tumour recall)"),
    ("specificity", "Specificity"),
    ((POSITIVE_LABEL, "precision"), "Precision (tumour)"),
    ((POSITIVE_LABEL, "f1"), "F1 (tumour)"),
    ("macro_f1", "Macro F1"),
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC (average precision)"),
    ("brier", "Brier score"),
    ("ece", "ECE (10 bins)"),
)
HF_METRICS = (
    ("accuracy", "accuracy", "Accuracy"),
    ("roc_auc", "roc_auc", "ROC-AUC"),
    ("macro_f1", "f1", "Macro F1"),
)
DISCLAIMER = (
    "> **Research and teaching tool, not a diagnostic device.** Its outputs must not be used to make or "
    "support clinical decisions."
)
DATA_CAVEATS = """\
Trained on the public "Brain MRI Images for Brain Tumor Detection" set (Kaggle, N. Chakrabarty, 2019;
155 `yes` and 98 `no` images, copied from github.com/MohamedAliHabib/Brain-Tumor-Detection). Its licence is
**unknown**; the images look collected from the web and some carry third-party marks, so none is
redistributed here.
Known problems (see the data folder's `SOURCE.md`):

- **Duplicates:** 22 exact-duplicate groups (47 files) and 37 near-duplicate groups (90 files: re-crops,
  rescales, re-encodes), leaving about 200 distinct images. A random image-level split leaks them.
- **Not brain MRI:** `yes/Y248.JPG` is an abdominal CT; `no/N1.JPG` is a contrast brain CT that shows an
  intraventricular mass despite its `no` label.
- **Doubtful labels:** several `no` images show focal abnormalities (`N11`, `N15`-`N17`, `N22`, `15 no`,
  `no 9`).
- **Mixed material:** T1, T1 with contrast, T2 and FLAIR; mostly axial with a few coronal/sagittal views;
  sizes from 150 to 1920 px; borders, arrows, panel letters, watermarks and scale bars.
- **Shortcut cues:** RGBA and palette PNG files and screenshots occur only in `no`. A model can learn such
  cues instead of anatomy; check the explanation heatmaps."""
INTENDED_USE = """\
- **Intended:** research and teaching on explainability (attention rollout and attribution maps of a small
  ViT), and as the dashboard's bundled default model.
- **Not intended:** diagnosis, triage, screening or any clinical use; any use on patients."""
FROM_SCRATCH_LIMITATION = """\
- Trained from scratch (no pretrained weights could be downloaded here): a ViT without pretraining has weak
  inductive biases on so little data, and is less accurate and less robust than a fine-tuned one would be."""
LIMITATIONS = """\
- Trained from about 200 images of unknown provenance, mixed sequences and doubtful labels; the test split
  has about 25 images, so every test figure has a wide interval (see the 95% intervals).
- The model only ever saw 2D slices re-scaled to 8-bit images; DICOM windowing, other sequences, other
  scanners, children, post-operative scans or non-tumour pathology are out of distribution.
- Global intensity is a shortcut in this data: most `no` training scans are dim T1 slices, most `no`
  validation scans bright T2 slices. Training used strong intensity augmentation against it, but the model
  may still rely on sequence or scanner cues rather than on the lesion; check the heatmaps.
- The published near-perfect figures for this data set come from random (leaky) splits and are not
  comparable with the group-aware figures here."""


def _fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _metric(block: dict, key: str | tuple[str, str]) -> object:
    return block["per_class"][key[0]][key[1]] if isinstance(key, tuple) else block[key]


def front_matter(model_name: str, test: Evaluation | None) -> str:
    """YAML front matter (Hugging Face card metadata); ``model-index`` only when test results exist.

    Args:
        model_name: the card's model name (``mri-explain-vit-<arch>``), used in ``model-index``.
        test: the test evaluation whose metrics fill ``model-index``; None leaves it out.

    Returns:
        The front matter, ``---`` lines included.
    """
    tags = (
        "vit",
        "image-classification",
        "brain-mri",
        "explainability",
        "research-only",
        "not-for-diagnosis",
    )
    lines = [
        "---",
        "license: unknown",
        "library_name: transformers",
        "pipeline_tag: image-classification",
        "tags:",
        *[f"- {t}" for t in tags],
        "metrics:",
        *[f"- {m}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc")],
    ]
    if test is not None:
        lines += [
            "model-index:",
            f"- name: {model_name}",
            "  results:",
            "  - task:",
            "      type: image-classification",
            "      name: Image Classification",
            "    dataset:",
            "      name: Brain MRI Images for Brain Tumor Detection (group-aware split)",
            "      type: imagefolder",
            "      split: test",
            "    metrics:",
        ]
        for key, hf_type, name in HF_METRICS:
            value = test.results["metrics"][key]
            if not math.isnan(value):
                lines += [f"    - type: {hf_type}", f"      value: {value:.4f}", f"      name: {name}"]
    return "\n".join([*lines, "---"])


def describe_model(config: dict, run: dict, fingerprint: str) -> str:
    """The "Model description" section from ``config.json`` and ``training_config.json``.

    Args:
        config: the model's ``config.json`` (``image_size``, ``patch_size``, ``id2label``, ...).
        run: the flat run record of ``training_config.json`` (empty when there is none).
        fingerprint: the weights' sha256 prefix (:attr:`~model.loading.Classifier.fingerprint`).

    Returns:
        The section's markdown.
    """
    if run.get("from_scratch"):
        init = run.get("init", "default")
        origin = f"trained **from scratch** (ViT-{run.get('arch', '?')} family, {init} initialisation)"
        if run.get("teacher_epochs"):
            origin += ", distilled from a small CNN teacher trained on the same training scans"
    else:
        origin = f"fine-tuned from `{run.get('base')}` with a new 2-label head"
        if run.get("arch") == "dinov2-s14":
            origin = "fine-tuned from DINOv2 ViT-S/14 (self-supervised, Meta) with a new 2-label head"
    side = int(config["image_size"]) // int(config["patch_size"])
    ordered = sorted(config["id2label"].items(), key=lambda kv: int(kv[0]))
    labels = ", ".join(f"{k}: `{v}`" for k, v in ordered)
    n_params = run.get("n_parameters")
    dtype = "float16" if run.get("half") else "float32"
    return "\n".join(
        [
            "## Model description",
            "",
            "A Vision Transformer (`ViTForImageClassification`) that sorts a brain MRI slice "
            "into *no tumor* or "
            f"*tumor*, {origin}. Eager attention, so attention maps are available for explanations.",
            "",
            "| | |",
            "|---|---|",
            f"| Input | {config['image_size']} x {config['image_size']} RGB, brain-cropped, normalised as in "
            "`preprocessor_config.json` |",
            f"| Patches | {config['patch_size']} px -> {side} x {side} grid + CLS token |",
            f"| Encoder | {config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
            f"{config['num_attention_heads']} heads, MLP {config['intermediate_size']} |",
            f"| Parameters | {n_params:,} ({dtype}) |" if isinstance(n_params, int) else "| Parameters | |",
            f"| Labels (id2label) | {labels} |",
            f"| Weights fingerprint | `{fingerprint}` |",
        ]
    )


def _setting(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_recipe(run: dict, log: pd.DataFrame | None) -> str:
    """The "Split" and "Training recipe" sections from ``training_config.json`` and the epoch log.

    Args:
        run: the flat run record of ``training_config.json``.
        log: the epoch log (``train_log.csv``), or None when there is none.

    Returns:
        The two sections' markdown.
    """
    rows = [f"| {k} | {_setting(run[k])} |" for k in RECIPE_KEYS if run.get(k) is not None]
    best, teacher = run.get("best_validation") or {}, run.get("teacher_validation")
    minutes = _fmt(float(run.get("train_seconds", float("nan"))) / 60, 1)
    lines = [
        "## Split",
        "",
        f"Group-aware split (manifest sha256 `{str(run.get('manifest_sha256', '?'))[:12]}`): exact and near "
        "duplicates form groups, and each group goes wholly to train, validation or test, stratified by "
        f"class (about 80/10/10). Training used {run.get('n_train', '?')} scans; the epoch kept "
        f"was chosen on the {run.get('n_validation', '?')} `validation` scans; `test` scans were never read "
        "in training.",
        "",
        "## Training recipe",
        "",
        "| setting | value |",
        "|---|---|",
        *rows,
        "",
        "Augmentation (pure tensor operations, seeded; `strength` scales all): "
        + ", ".join(f"{k}={v}" for k, v in (run.get("augment") or {}).items())
        + ".",
        "",
        f"Kept epoch: **{run.get('best_epoch', '?')}** (by `{run.get('select_by')}` on validation): "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in best.items())
        + f". Training time: {minutes} min on 2 shared CPU cores.",
    ]
    if teacher:
        lines += [
            "",
            "CNN teacher on validation (not saved): "
            + ", ".join(f"{k} {_fmt(v)}" for k, v in teacher.items())
            + ".",
        ]
    if log is not None:
        lines += [
            "",
            "The per-epoch table (training loss, epoch, step, validation loss, accuracy, "
            f"precision, recall, F1, ROC-AUC) is in `{LOG_FILE}` ({len(log)} epochs).",
        ]
    return "\n".join(lines)


def describe_experiments(notes: str | None, experiments: pd.DataFrame | None) -> str:
    """The "What was tried" section: ``experiments.md`` (narrative) and ``experiments.csv`` (figures).

    Args:
        notes: the text of ``experiments.md``, or None.
        experiments: ``experiments.csv`` as a frame (one row per run tried), or None.

    Returns:
        The section's markdown ("Only the run described above." when there is neither).
    """
    lines = ["## What was tried", ""]
    if notes:
        lines += [notes.strip(), ""]
    if experiments is None or experiments.empty:
        return "\n".join(lines if notes else [*lines, "Only the run described above."])
    lines += ["| " + " | ".join(experiments.columns) + " |", "|" + "---|" * len(experiments.columns)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in experiments.itertuples(index=False)]
    return "\n".join(lines)


def describe_results(test: Evaluation | None, validation: Evaluation | None) -> str:
    """The "Results" section: evaluation-CLI figures with 95% group-bootstrap intervals.

    Args:
        test: the model's test evaluation; None gives the "Not evaluated yet" text with the commands.
        validation: its validation evaluation, shown beside test when given.

    Returns:
        The section's markdown: one table row per metric with its interval.
    """
    lines = ["## Results", ""]
    if test is None:
        return "\n".join(
            [
                *lines,
                "Not evaluated yet. Run `python -m model.evaluate --model artifacts/model --data "
                "DATA --manifest artifacts/split_manifest.csv --out artifacts/eval`, then "
                "`python -m model.evaluate.card --model artifacts/model --eval artifacts/eval`.",
            ]
        )
    views = [(name, ev) for name, ev in (("test", test), ("validation", validation)) if ev is not None]
    header = " | ".join(
        f"{name} (n={ev.results['n']}, {ev.results['n_groups']} groups) | 95% CI" for name, ev in views
    )
    lines += [
        f"From `python -m model.evaluate` (threshold {test.results['threshold']}; intervals: percentile "
        "bootstrap over duplicate groups, "
        f"{test.results['bootstrap']['resamples']} resamples).",
        "",
        f"| metric | {header} |",
        "|---|" + "---|---|" * len(views),
    ]
    for key, name in RESULT_ROWS:
        cells = []
        for _, ev in views:
            low, high = _metric(ev.results["ci95"], key)
            cells += [_fmt(_metric(ev.results["metrics"], key)), f"{_fmt(low)} - {_fmt(high)}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cm = test.confusion()
    labels = test.labels
    lines += [
        "",
        "Test confusion matrix (rows = true label, columns = predicted label):",
        "",
        "| true \\ predicted | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
        *[f"| {labels[i]} | " + " | ".join(str(v) for v in cm[i]) + " |" for i in range(len(labels))],
    ]
    return "\n".join(lines)


def _read_optional_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def _evaluations(eval_dir: Path | None, fingerprint: str, labels: tuple[str, ...]) -> dict[str, Evaluation]:
    if eval_dir is None:
        return {}
    names = [n for n in list_evaluations(eval_dir) if n in ("test", "validation")]
    return {
        n: read_evaluation(eval_dir, n, expected_fingerprint=fingerprint, expected_labels=labels)
        for n in names
    }


def write_card(
    model_dir: str | Path,
    eval_dir: str | Path | None = None,
    pool_manifest: str | Path = "artifacts/pool_manifest.csv",
) -> Path:
    """(Re)write ``README.md`` in a model folder: :meth:`Card.markdown` of :func:`build_card`.

    Args:
        model_dir, eval_dir, pool_manifest: as for :func:`build_card`.

    Returns:
        The card's path.

    Raises:
        ModelLoadError: ``model_dir`` is not a model folder.
        ArtifactError: the evaluation is unreadable or belongs to other weights (re-run the evaluation).
    """
    card = build_card(model_dir, eval_dir, pool_manifest)
    return write_text(Path(model_dir) / CARD_FILE, card.markdown())


def build_card(
    model_dir: str | Path,
    eval_dir: str | Path | None = None,
    pool_manifest: str | Path = "artifacts/pool_manifest.csv",
) -> Card:
    """The model card of a model folder as a preamble and ``## `` sections.

    Args:
        model_dir: a folder written by ``python -m model.train`` (``save_classifier`` output + run files).
        eval_dir: an evaluation folder of this model; its ``test``/``validation`` results fill "Results".
        pool_manifest: the pool manifest, for per-source results of a pool-trained model.

    Returns:
        The :class:`~model.evaluate.card_format.Card` (front matter, title and disclaimer as its preamble).

    Raises:
        ModelLoadError: ``model_dir`` is not a model folder.
        ArtifactError: the evaluation is unreadable or belongs to other weights (re-run the evaluation).
    """
    model_dir = Path(model_dir)
    classifier = load_classifier(model_dir)
    run_path = model_dir / RUN_CONFIG_FILE
    record = json.loads(run_path.read_text()) if run_path.exists() else {}
    pretrained = is_finetune_record(record)
    run = flat_run(record) if pretrained else flat_run_record(record)
    config = json.loads((model_dir / "config.json").read_text())
    evals = _evaluations(Path(eval_dir) if eval_dir else None, classifier.fingerprint, classifier.labels)
    if "validation" in evals and "test" not in evals:
        evals.pop("validation")  # the results table is anchored on test
    name = f"mri-explain-vit-{run.get('arch', 'custom')}"
    notes = model_dir / NOTES_FILE
    sections = [
        front_matter(name, evals.get("test")),
        f"# {name}: brain MRI tumour / no tumour (ViT)",
        DISCLAIMER,
        describe_model(config, run, classifier.fingerprint),
        *(["## Data sources and licences", SOURCES] if pretrained else []),
        "## Training data and its caveats",
        DATA_CAVEATS,
        describe_recipe(run, _read_optional_csv(model_dir / LOG_FILE)),
        *([describe_finetune(record)] if pretrained else []),
        describe_experiments(
            notes.read_text() if notes.exists() else None, _read_optional_csv(model_dir / EXPERIMENTS_FILE)
        ),
        describe_results(evals.get("test"), evals.get("validation")),
        *(
            [
                describe_pool_holdout(
                    Path(eval_dir) if eval_dir else None, Path(pool_manifest), classifier.fingerprint
                ),
                describe_cv(model_dir),
            ]
            if pretrained
            else []
        ),
        "## Intended use",
        INTENDED_USE,
        "## Limitations",
        PRETRAINED_LIMITATIONS
        if pretrained
        else LIMITATIONS + ("\n" + FROM_SCRATCH_LIMITATION if run.get("from_scratch") else ""),
        "## How to use",
        "```python\nfrom model.loading import load_classifier\n\n"
        'clf = load_classifier("artifacts/model")  # eval mode, eager attention\n```',
    ]
    return parse_card("\n\n".join(sections))


@dataclass(frozen=True, kw_only=True)
class CardConfig:
    """``python -m model.evaluate.card``: the model folder whose card is rewritten, and its evaluation."""

    model: str = field(default="artifacts/model", metadata={"help": "model folder (default: %(default)s)"})
    eval: str | None = field(
        default=None, metadata={"help": "evaluation folder of this model, e.g. artifacts/eval"}
    )


CLI = ConfigCli(CardConfig, "python -m model.evaluate.card", __doc__.split("\n\n")[0])
cli_parser, parse_args = CLI.parser, CLI.parse


def main(argv: list[str] | None = None) -> int:
    """CLI: rewrite the card of ``--model`` with the results in ``--eval``.

    Args:
        argv: ``--model`` and ``--eval`` options (``None``: the process's own).

    Returns:
        0 once ``README.md`` is rewritten.

    Raises:
        ModelLoadError: ``--model`` is not a model folder, or one of its run files is unreadable.
        ArtifactError: the evaluation is unreadable or of other weights (``run_cli``: one line, exit 2).
    """
    args = parse_args(argv)
    with raise_as(ModelLoadError, FileNotFoundError, ValueError):
        path = write_card(args.model, args.eval)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
