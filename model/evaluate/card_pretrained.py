"""Model-card sections of a pretrained, pool-trained model (:mod:`~model.train.finetune`): sources, licences,
results per source on the pool's held-out part, the cross-validation, and the recipe.

:func:`model.evaluate.card.write_card` adds these sections when ``training_config.json`` was written by
:mod:`model.train.finetune`; every number is read from saved files (evaluations, the pool manifest, the
cross-validation records), none is typed in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.data.pool import read_pool_manifest
from model.evaluate.artifacts import ArtifactError, Evaluation, read_evaluation
from model.evaluate.metrics import compute_metrics
from model.labels import LABELS, POSITIVE_LABEL

POOL_EVALUATION = "pool-holdout"
CV_FILE = "cross_validation.csv"
RECIPE = "model.train.finetune"

# (data set, what it holds, what it is used for, licence)
SOURCE_ROWS = (
    (
        "Brain MRI Images for Brain Tumor Detection (N. Chakrabarty, Kaggle 2019; 253 images)",
        "mixed web images, T1/T2/FLAIR",
        "train / validation / test (group-aware split)",
        "unknown",
    ),
    (
        "figshare brain tumour data set: J. Cheng et al., PLoS ONE 10(10): e0140381, 2015; figshare 2017",
        "512 x 512 T1 contrast-enhanced slices, glioma / meningioma / pituitary; tumour only",
        "pool (training and held-out part)",
        "**CC BY 4.0**, attribution: Jun Cheng, figshare, doi:10.6084/m9.figshare.1512427",
    ),
    (
        "Brain Tumor MRI Dataset (M. Nickparvar, Kaggle), Training split",
        "a compilation of figshare, SARTAJ and Br35H images",
        "pool",
        "reportedly CC0; its parts' licences differ",
    ),
    (
        'Brain Tumor Classification (MRI) (S. Bhuvaji et al., "SARTAJ")',
        "web images; glioma labels reported unreliable",
        "pool",
        "none found",
    ),
)
SOURCES = "\n".join(
    [
        "| data | what | used for | licence |",
        "|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in SOURCE_ROWS),
        "",
        "The pool (`../shared/data/brain_mri_pool`, 2,730 images) was deduplicated against every one "
        "of the 253 images and within itself by four independent measures; its `cluster` column is the "
        "group for every split here. **No image is redistributed in this repository**: it holds only "
        "file names, hashes, weights and metrics.",
    ]
)

SHORTCUTS = """\
Source and label are confounded in the pool: figshare gives 70 % of its tumour images and no normal scan;
every pool normal scan is a web image of another source. Against that shortcut:

- every scan is cropped to the head and resized to one square size (no size or border cue);
- each label weighs half of every training batch, and within a label a source weighs `n_source ** 0.5`
  (figshare cannot dominate);
- strong brightness / contrast / gamma augmentation hides the sequence's global intensity (the 253 set's
  own shortcut: dim T1 normals in train, bright T2 normals in validation);
- the held-out part of the pool is reported per source below: a model that had learnt "figshare means
  tumour" would fail on the normal scans of the other sources."""


LIMITATIONS = """\
- Fine-tuned on about 1,200 public slices of mixed provenance, sequences, planes and licences, with
  source-folder labels nobody reviewed; the 253-set's test split has 26 images, so every test figure has a
  wide interval (see the 95% intervals and the cross-validation).
- The held-out pool shows a source effect on tumour scans: figshare slices are recognised more often than
  Nickparvar or SARTAJ ones (table above), so part of what the model uses may be the look of a source.
- The model only ever saw 2D slices re-scaled to 8-bit images; DICOM windowing, other sequences, other
  scanners, children, post-operative scans or non-tumour pathology are out of distribution.
- The DINOv2 backbone came from a saliency model's ONNX file; whether that saliency training changed it is
  not known.
- The published near-perfect figures for these data sets come from random (leaky) splits and are not
  comparable with the group-aware figures here."""


def is_finetune_record(run: dict) -> bool:
    """True when ``training_config.json`` was written by :mod:`model.train.finetune`."""
    return run.get("recipe") == RECIPE


def flat_run(run: dict) -> dict:
    """The keys :mod:`model.evaluate.card` reads, from a :mod:`model.train.finetune` record."""
    cfg, out = run["config"], run["outcome"]
    return {
        "base": cfg["base"],
        "from_scratch": False,
        "half": True,
        "manifest_sha256": out["manifest_sha256"],
        "n_train": _train_note(out),
        "n_validation": out["n_validation"],
        "best_epoch": out["best_epoch"],
        "best_validation": {k: v for k, v in out["best_validation"].items() if k not in ("seconds",)},
        "train_seconds": out["train_seconds"],
        "augment": cfg["augment"],
        "select_by": "val_loss",
        **{
            k: cfg[k]
            for k in ("epochs", "lr", "batch_size", "weight_decay", "warmup_ratio", "label_smoothing")
        },
        "seed": cfg["seed"],
        "arch": "dinov2-s14",
    }


def _train_note(out: dict) -> str:
    own = sum(v for k, v in out["n_train_by_source_label"].items() if k.startswith("brain_tumor_dataset/"))
    return f"{out['n_train']:,} ({own} of this set's `train` split + {out['n_train'] - own:,} pool images)"


def describe_finetune(run: dict) -> str:
    """The recipe specific to top-block fine-tuning, with the training counts per source and label."""
    cfg, out = run["config"], run["outcome"]
    counts = "\n".join(f"| {k} | {v} |" for k, v in sorted(out["n_train_by_source_label"].items()))
    return "\n".join(
        [
            "## Fine-tuning recipe (pretrained backbone, 2 CPU cores)",
            "",
            f"Start: DINOv2 ViT-S/14 converted by `python -m model.train.pretrained` (`{cfg['base']}`). "
            "Blocks "
            f"1-{cfg['frozen_blocks']} stay frozen; their output tokens were computed once for "
            f"{cfg['views']} views of each training scan (one plain, the others augmented) and cached, and "
            f"the remaining {12 - cfg['frozen_blocks']} block(s), the final norm and a new head were trained "
            f"for {cfg['epochs']} epochs of {cfg['samples_per_epoch']} weighted draws (AdamW, lr "
            f"{cfg['lr']:g} / head {cfg['head_lr']:g}, cosine, label smoothing {cfg['label_smoothing']:g}). "
            f"At most {cfg['pool_cap']} pool images per source and label were used, to fit the caching "
            "into the compute budget.",
            "",
            "| training scans (source / label) | n |",
            "|---|---|",
            counts,
            "",
            SHORTCUTS,
        ]
    )


def _by_source(ev: Evaluation, pool_manifest: Path) -> pd.DataFrame:
    """Per-source counts and accuracy on the held-out pool (sensitivity / specificity where defined)."""
    src = read_pool_manifest(pool_manifest).set_index("path")["source"]
    rec = ev.records.assign(source=ev.records["path"].map(src))
    rows = []
    for source, part in rec.groupby("source", sort=True):
        correct = part["label"] == part["predicted"]
        row = {"source": source, "n": len(part)}
        for label in LABELS:
            mine = part["label"] == label
            row[f"{label} (n)"] = int(mine.sum())
            row[f"correct on {label}"] = float(correct[mine].mean()) if mine.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def describe_pool_holdout(eval_dir: Path | None, pool_manifest: Path, fingerprint: str) -> str:
    """Results on the pool's held-out part, overall and per source, as a markdown section.

    Args:
        eval_dir: evaluation folder holding the ``pool-holdout`` evaluation, or None (not evaluated).
        pool_manifest: the pool manifest CSV that gives each held-out case its source.
        fingerprint: weights fingerprint of the model the card describes; an evaluation of another model
            (or a missing or invalid one) counts as not evaluated.

    Returns:
        The section: a heading, n with its cluster count, accuracy / ROC-AUC / sensitivity / specificity
        with 95 % intervals, and a per-source table; or the heading and "Not evaluated ...".

    Raises:
        PoolError: the pool manifest exists but is invalid (:func:`model.data.pool.read_pool_manifest`).
    """
    lines = ["## Results on the held-out part of the pool (other sources)", ""]
    try:
        ev = (
            read_evaluation(eval_dir, POOL_EVALUATION, expected_fingerprint=fingerprint) if eval_dir else None
        )
    except ArtifactError:
        ev = None
    if ev is None or not pool_manifest.is_file():
        return "\n".join([*lines, "Not evaluated (see README, Saved evaluations)."])
    m, ci = ev.results["metrics"], ev.results["ci95"] or {}
    lines.append(
        f"n = {ev.results['n']} ({ev.results['n_groups']} clusters), never used in training or selection. "
        + ", ".join(
            f"{k} {_f(m[k])} [{_f(ci.get(k, [np.nan])[0])} - {_f(ci.get(k, [0, np.nan])[1])}]"
            for k in ("accuracy", "roc_auc", "sensitivity", "specificity")
        )
        + "."
    )
    table = _by_source(ev, pool_manifest)
    lines += ["", "| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_f(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def describe_cv(model_dir: Path) -> str:
    """5-fold group cross-validation over the whole 253-scan set (out-of-fold records in ``CV_FILE``)."""
    path = model_dir / CV_FILE
    lines = ["## Cross-validation (5 folds over all 253 scans, the pool always in training)", ""]
    if not path.is_file():
        return "\n".join([*lines, "Not run: `python -m model.train.finetune cv` writes it."])
    rec = pd.read_csv(path, dtype={"path": str, "group": str, "label": str})
    res = compute_metrics(rec, LABELS, POSITIVE_LABEL, 0.5)
    m, ci = res["metrics"], res["ci95"]
    lines.append(
        f"Out-of-fold predictions of {res['n']} scans ({res['n_groups']} duplicate groups; each fold trained "
        "without its scans, last epoch kept, no selection on held-out scans); 95% intervals by bootstrap "
        "over groups:"
    )
    lines += ["", "| metric | value | 95% CI |", "|---|---|---|"]
    for k in ("accuracy", "roc_auc", "sensitivity", "specificity", "balanced_accuracy"):
        lines.append(f"| {k} | {_f(m[k])} | {_f(ci[k][0])} - {_f(ci[k][1])} |")
    per_fold = [
        compute_metrics(part, LABELS, POSITIVE_LABEL, 0.5, n_resamples=0)["metrics"]["roc_auc"]
        for _, part in rec.groupby("fold")
    ]
    lines += ["", "ROC-AUC per fold: " + ", ".join(_f(v) for v in per_fold) + "."]
    return "\n".join(lines)


def _f(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if np.isnan(value) else f"{value:.3f}"
    return str(value)
