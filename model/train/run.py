"""Train the tumour / no-tumour ViT on the split manifest: fine-tune a pretrained ViT, or train from scratch.

Defaults are the seed recipe (``google/vit-base-patch16-224``, 4 epochs, Adam lr 3e-4, batch 20/8, linear
schedule, seed 42, augmentation on). Only ``train`` rows are trained on; the epoch kept is chosen on
``validation`` rows (``--select-by``); ``test`` rows are never read. Scans are decoded, brain-cropped and
resized once (:func:`model.preprocess.crop_and_resize`, the inference preprocessing), then augmented as
tensors every epoch. From scratch, a small CNN teacher can be distilled into the ViT
(:mod:`model.train.teacher`).

CLI::

    python -m model.train --base google/vit-base-patch16-224            # seed recipe (needs the hub or cache)
    python -m model.train --from-scratch --arch tiny --image-size 112 --patch-size 8 --layers 6 --epochs 200
    python -m model.train --config runs/scratch/training_config.json   # re-run a recorded run
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import ViTForImageClassification

from model.cli import add_config_file, build_parser, parse_config, run_cli
from model.data.scan import ScanError, load_scan
from model.data.split import manifest_sha256, read_manifest
from model.evaluate.metrics import point_metrics
from model.io import write_text
from model.labels import DEFAULT_CLASS_MAP, LABELS, POSITIVE_LABEL
from model.loading import ModelLoadError, build_classifier, load_for_finetuning, save_classifier
from model.preprocess import PreprocessConfig, crop_and_resize
from model.train.augment import augment_batch, mixup
from model.train.config import SCHEMA_VERSION, TrainConfig, read_train_config
from model.train.teacher import distillation_loss, train_teacher
from model.train.vit_init import mimetic_init

LOG_FILE = "training_log.csv"
CONFIG_HELP = "re-run the run recorded in this training_config.json (options given as well override it)"
LOG_COLUMNS = (
    "epoch",
    "step",
    "training_loss",
    "validation_loss",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "lr",
    "seconds",
)
TRAIN_SPLITS = ("train", "validation")  # the only manifest rows this module ever reads
Forward = Callable[[torch.Tensor], torch.Tensor]  # (B, 3, S, S) model input -> (B, K) logits


@dataclass(frozen=True)
class Split:
    """Preloaded scans of one split: (N, 3, S, S) uint8 pixels, (N,) int64 labels, and their paths."""

    pixels: torch.Tensor
    labels: torch.Tensor
    paths: tuple[str, ...]


@dataclass
class TrainResult:
    """What a run produced: the kept model, its preprocessing, the per-epoch log, the kept epoch, and the
    teacher's validation scores when one was distilled."""

    model: ViTForImageClassification
    preprocess: PreprocessConfig
    log: list[dict[str, float]]
    best_epoch: int
    seconds: float
    n_train: int
    n_validation: int
    teacher_validation: dict | None = None


def _label_index(label: str) -> int:
    name = DEFAULT_CLASS_MAP.get(label, label)  # accept folder names ("yes") or labels ("tumor")
    if name not in LABELS:
        raise ValueError(f"Manifest label '{label}' is not one of {list(LABELS)}; regenerate the manifest.")
    return LABELS.index(name)


def load_split(data: str | Path, manifest: str | Path, split: str, pre: PreprocessConfig) -> Split:
    """Decode, brain-crop and resize every scan of one split, once.

    Args:
        data: data root (manifest paths are relative to it).
        manifest: split manifest CSV.
        split: ``train`` or ``validation`` (reading ``test`` is refused).
        pre: preprocessing (its ``image_size`` and ``crop_brain`` are used).

    Returns:
        The preloaded :class:`Split`.

    Raises:
        ValueError: ``split`` is not a training split, the split is empty, or a label is unknown.
        ManifestError: the manifest is missing or invalid (:func:`model.data.split.read_manifest`).
        ScanError: a file is not a readable scan (:func:`model.data.scan.load_scan`).
    """
    if split not in TRAIN_SPLITS:
        raise ValueError(f"Training reads only {TRAIN_SPLITS}, not '{split}'; evaluate with model.evaluate.")
    frame = read_manifest(manifest)
    rows = frame[frame["split"] == split]
    if rows.empty:
        raise ValueError(f"Manifest {manifest} has no '{split}' rows; regenerate it with model.data split.")
    images = [
        crop_and_resize(load_scan(Path(data) / p).image, pre)[0]
        for p in tqdm(rows["path"], desc=f"load {split}", leave=False)
    ]
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S) uint8
    labels = torch.tensor([_label_index(v) for v in rows["label"]], dtype=torch.long)
    return Split(pixels, labels, tuple(rows["path"]))


def build_model(cfg: TrainConfig) -> tuple[ViTForImageClassification, PreprocessConfig]:
    """Make the model to train: a fresh ViT (``from_scratch``) or ``cfg.base`` with a new 2-label head."""
    torch.manual_seed(cfg.seed)  # the new weights (all of them, or the head) depend on the seed only
    if cfg.from_scratch:
        model = build_classifier(cfg.arch, LABELS, cfg.image_size, cfg.patch_size, **cfg.vit_overrides())
        if cfg.init == "mimetic":
            mimetic_init(model, cfg.seed)
        return model, PreprocessConfig(image_size=cfg.image_size, crop_brain=cfg.crop_brain)
    model, base_pre = load_for_finetuning(
        cfg.base, LABELS, hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.attention_dropout
    )
    return model, replace(base_pre, image_size=int(model.config.image_size), crop_brain=cfg.crop_brain)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (seed recipe) or AdamW; AdamW does not decay biases, norms or the embedding layer.

    Args:
        model: the model to train (all its parameters are optimised).
        cfg: ``optimizer`` (``"adam"`` or ``"adamw"``), ``lr``, ``betas``, ``eps`` and ``weight_decay``.

    Returns:
        The optimizer; Adam applies ``weight_decay`` to every parameter (L2), AdamW only to weights with
        2 or more dimensions outside the embeddings.
    """
    if cfg.optimizer == "adam":
        return torch.optim.Adam(
            model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "embeddings" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)


def make_scheduler(
    opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup_ratio`` of the steps, then linear / cosine decay to 0 (or constant).

    Args:
        opt: the optimizer whose learning rates are scaled.
        cfg: ``warmup_ratio`` in [0, 1] and ``schedule`` (``"linear"``, ``"cosine"`` or constant).
        total_steps: optimizer steps of the whole run (steps per epoch x epochs).

    Returns:
        A per-step ``LambdaLR`` (call ``step()`` after every optimizer step); factors lie in [0, 1].
    """
    warmup = int(cfg.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        if cfg.schedule == "linear":
            return max(0.0, 1.0 - progress)
        if cfg.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _normalise(pixels01: torch.Tensor, pre: PreprocessConfig) -> torch.Tensor:
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    return (pixels01 - mean) / std


@torch.inference_mode()
def evaluate_split(forward: Forward, split: Split, pre: PreprocessConfig, batch: int) -> dict:
    """Validation loss (plain cross-entropy), accuracy, ROC-AUC and the tumour class's precision, recall
    and F1 (NaN where undefined) on a preloaded split, via :func:`model.evaluate.metrics.point_metrics`.

    Args:
        forward: maps (B, 3, S, S) model input to (B, 2) logits; the model must be in eval mode.
        split: the preloaded scans.
        pre: preprocessing (normalisation constants).
        batch: scans per forward pass.

    Returns:
        ``{"validation_loss", "accuracy", "precision", "recall", "f1", "roc_auc"}`` as floats.
    """
    logits = torch.cat(
        [
            forward(_normalise(split.pixels[i : i + batch].float() / 255, pre))
            for i in range(0, len(split.labels), batch)
        ]
    )  # (N, 2)
    loss = F.cross_entropy(logits, split.labels).item()
    probs = logits.softmax(-1).double().numpy()
    metrics = point_metrics(split.labels.numpy(), probs, LABELS, LABELS.index(POSITIVE_LABEL), 0.5)[0]
    positive = metrics["per_class"][POSITIVE_LABEL]  # the seed reports binary scores of the tumour class
    return {
        "validation_loss": loss,
        "accuracy": metrics["accuracy"],
        "precision": positive["precision"],
        "recall": positive["recall"],
        "f1": positive["f1"],
        "roc_auc": metrics["roc_auc"],
    }


def _loss_fn(cfg: TrainConfig, labels: torch.Tensor) -> torch.nn.CrossEntropyLoss:
    weight = None
    if cfg.class_weights:  # inverse class frequency, mean weight 1
        counts = torch.bincount(labels, minlength=len(LABELS)).float().clamp(min=1)
        weight = counts.sum() / (len(LABELS) * counts)
    return torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)


def train_epoch(
    model: ViTForImageClassification,
    data: Split,
    cfg: TrainConfig,
    pre: PreprocessConfig,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LambdaLR,
    loss_fn: torch.nn.Module,
    g: torch.Generator,
    desc: str,
    teacher: torch.nn.Module | None = None,
) -> float:
    """One shuffled pass over the training split with augmentation; returns the mean training loss.

    With a ``teacher`` the loss is ``(1 - alpha) * label loss + alpha * distillation loss`` on each view.

    Args:
        model: the ViT, put in train mode and updated in place.
        data: the preloaded training split.
        cfg: ``batch_size``, ``augment``, ``mixup``, ``grad_clip`` and the distillation settings.
        pre: preprocessing (normalisation constants).
        opt: the optimizer (:func:`make_optimizer`).
        sched: the per-step schedule (:func:`make_scheduler`), stepped once per batch.
        loss_fn: label loss on (B, K) logits and (B,) int64 or, with mixup, (B, K) soft targets.
        g: the generator for the shuffle, the augmentation and mixup (the run's only randomness).
        desc: progress-bar label.
        teacher: a frozen model giving (B, K) logits for distillation, or None.

    Returns:
        The mean loss per scan over the epoch.
    """
    model.train()
    order = torch.randperm(len(data.labels), generator=g)
    total, seen = 0.0, 0
    for start in tqdm(range(0, len(order), cfg.batch_size), desc=desc, leave=False):
        idx = order[start : start + cfg.batch_size]
        x = _normalise(augment_batch(data.pixels[idx].float() / 255, cfg.augment, g), pre)  # (B, 3, S, S)
        target = data.labels[idx]
        if cfg.mixup > 0:  # soft (B, K) targets
            x, target = mixup(x, target, cfg.mixup, len(LABELS), g)
        logits = model(pixel_values=x).logits
        loss = loss_fn(logits, target)
        if teacher is not None:
            with torch.no_grad():
                target = teacher(x)
            distill = distillation_loss(logits, target, cfg.distill_temperature)
            loss = (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * distill
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        total, seen = total + loss.item() * len(idx), seen + len(idx)
    return total / seen


def _is_better(row: dict, best: dict | None, select_by: str) -> bool:
    if best is None or select_by == "last":
        return True
    if select_by == "f1":  # an undefined F1 (no tumour predicted) counts as 0
        f1, best_f1 = np.nan_to_num(row["f1"]), np.nan_to_num(best["f1"])
        return (f1, -row["validation_loss"]) > (best_f1, -best["validation_loss"])
    return row["validation_loss"] < best["validation_loss"]


def train(cfg: TrainConfig) -> TrainResult:
    """Run the training loop: preload, train ``cfg.epochs`` epochs, keep the epoch chosen on validation.

    Returns:
        A :class:`TrainResult` whose model holds the selected epoch's weights (rounded through float16 when
        ``cfg.half``, so the logged validation figures are those of the saved file).
    """
    previous_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg)
    finally:
        torch.set_num_threads(previous_threads)


def _teacher(
    cfg: TrainConfig, data: Split, val: Split, pre: PreprocessConfig, g: torch.Generator
) -> tuple[torch.nn.Module | None, dict | None]:
    if not cfg.teacher_epochs:
        return None, None
    torch.manual_seed(cfg.seed)
    teacher = train_teacher(
        data.pixels,
        data.labels,
        lambda x: _normalise(x, pre),
        cfg.augment,
        cfg.teacher_epochs,
        g,
        len(LABELS),
    )
    scores = evaluate_split(teacher, val, pre, cfg.eval_batch_size)
    tqdm.write("teacher on validation: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    return teacher, scores


def _train(cfg: TrainConfig) -> TrainResult:
    model, pre = build_model(cfg)
    train_set = load_split(cfg.data, cfg.manifest, "train", pre)
    val_set = load_split(cfg.data, cfg.manifest, "validation", pre)
    g = torch.Generator().manual_seed(cfg.seed)
    start = time.perf_counter()
    teacher, teacher_scores = _teacher(cfg, train_set, val_set, pre, g)
    steps = math.ceil(len(train_set.labels) / cfg.batch_size)
    opt, loss_fn = make_optimizer(model, cfg), _loss_fn(cfg, train_set.labels)
    sched = make_scheduler(opt, cfg, steps * cfg.epochs)
    log, best, best_state = [], None, None
    print_row(None)
    for epoch in range(1, cfg.epochs + 1):
        lr = opt.param_groups[0]["lr"]
        desc = f"epoch {epoch}/{cfg.epochs}"
        train_loss = train_epoch(model, train_set, cfg, pre, opt, sched, loss_fn, g, desc, teacher)
        model.eval()
        row = {
            "epoch": epoch,
            "step": epoch * steps,
            "training_loss": train_loss,
            **evaluate_split(lambda x: model(pixel_values=x).logits, val_set, pre, cfg.eval_batch_size),
            "lr": lr,
            "seconds": time.perf_counter() - start,
        }
        log.append(row)
        print_row(row)
        if _is_better(row, best, cfg.select_by):
            best, best_state = row, copy.deepcopy(model.state_dict())
    if cfg.half:  # the kept weights as they will be stored, so the logged figures are the saved file's
        best_state = {k: v.half().float() for k, v in best_state.items()}
    model.load_state_dict(best_state)
    return TrainResult(
        model.eval(),
        pre,
        log,
        int(best["epoch"]),
        time.perf_counter() - start,
        len(train_set.labels),
        len(val_set.labels),
        teacher_scores,
    )


def print_row(row: dict | None) -> None:
    """Print the seed's per-epoch table: a header for ``None``, else one row."""
    if row is None:
        tqdm.write(
            f"{'Training Loss':>13} {'Epoch':>5} {'Step':>6} {'Validation Loss':>15} {'Accuracy':>8} "
            f"{'Precision':>9} {'Recall':>6} {'F1':>6} {'ROC-AUC':>7}"
        )
        return
    tqdm.write(
        f"{row['training_loss']:13.4f} {row['epoch']:5d} {row['step']:6d} "
        f"{row['validation_loss']:15.4f} {row['accuracy']:8.4f} {row['precision']:9.4f} "
        f"{row['recall']:6.4f} {row['f1']:6.4f} {row['roc_auc']:7.4f}"
    )


def write_log(log: list[dict], path: str | Path) -> Path:
    """Write the per-epoch table as CSV (columns :data:`LOG_COLUMNS`).

    Args:
        log: one dict per epoch (extra keys are left out).
        path: the CSV file, replaced atomically.

    Returns:
        ``path`` as a Path.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(log)
    return write_text(path, buf.getvalue())


def run_record(cfg: TrainConfig, result: TrainResult) -> dict:
    """The ``training_config.json`` content: ``{schema_version, config, outcome}``.

    ``config`` is :meth:`TrainConfig.to_dict` (``python -m model.train --config`` re-reads it); ``outcome``
    is what identifies the data and what the run found. Undefined scores (NaN) are written as null, so the
    file is strict JSON.

    Args:
        cfg: the run's config.
        result: what :func:`train` returned for it.

    Returns:
        ``{"schema_version", "config", "outcome"}``.

    Raises:
        OSError: ``cfg.manifest`` cannot be read (its bytes are hashed).
    """
    best = result.log[result.best_epoch - 1]
    teacher = result.teacher_validation
    outcome = {
        "manifest_sha256": manifest_sha256(cfg.manifest),
        "data_root_name": Path(cfg.data).name,
        "input_size": result.preprocess.image_size,
        "n_train": result.n_train,
        "n_validation": result.n_validation,
        "best_epoch": result.best_epoch,
        "best_validation": _nan_to_none({k: best[k] for k in LOG_COLUMNS[3:9]}),
        "teacher_validation": _nan_to_none(teacher) if teacher else None,
        "train_seconds": round(result.seconds, 1),
        "torch_version": torch.__version__,
        "n_parameters": sum(p.numel() for p in result.model.parameters()),
    }
    return {"schema_version": SCHEMA_VERSION, "config": cfg.to_dict(), "outcome": outcome}


def _nan_to_none(scores: dict[str, float]) -> dict[str, float | None]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in scores.items()}


def save_run(cfg: TrainConfig, result: TrainResult) -> Path:
    """Write the model folder: weights and configs (:func:`save_classifier`), the epoch log and the card.

    Args:
        cfg: the run's config (``out`` is the folder, ``half`` stores float16 weights).
        result: what :func:`train` returned for it.

    Returns:
        The model folder.
    """
    from model.evaluate.card import write_card

    out = save_classifier(result.model, result.preprocess, cfg.out, run_record(cfg, result), half=cfg.half)
    write_log(result.log, out / LOG_FILE)
    write_card(out)
    return out


def cli_parser() -> argparse.ArgumentParser:
    """The ``python -m model.train`` parser: one option per :class:`TrainConfig` field, plus ``--config``."""
    parser = build_parser(TrainConfig, prog="python -m model.train", description=__doc__.split("\n\n")[0])
    add_config_file(parser, read_train_config, CONFIG_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: parse options, train, save; bad input prints one line and returns 2.

    Args:
        argv: the options (``sys.argv[1:]`` when None), as for ``python -m model.train``.

    Returns:
        The exit status: 0 after writing the model folder, 2 for bad options, data or base model.

    Example::

        import tempfile
        from pathlib import Path

        from model.train.run import main

        out = Path(tempfile.mkdtemp()) / "model"  # e.g. runs/tiny
        status = main(  # a 1-layer ViT at 32 px for one epoch: under a minute on 2 CPU cores
            ["--from-scratch", "--arch", "tiny", "--image-size", "32", "--patch-size", "8", "--layers", "1"]
            + ["--epochs", "1", "--data", "../shared/data/brain_tumor_dataset", "--out", str(out)]
        )
        print(status, sorted(p.name for p in out.iterdir()))  # 0 ['README.md', 'config.json', ...]
    """
    parser = cli_parser()
    try:
        cfg = parse_config(parser, argv).with_base_arch()
        result = train(cfg)
    except (ValueError, FileNotFoundError, ModelLoadError, ScanError) as err:
        hint = (
            " To train offline, pass --from-scratch (or --base LOCAL_FOLDER)."
            if isinstance(err, ModelLoadError)
            else ""
        )
        print(f"error: {err}{hint}", file=sys.stderr)
        return 2
    out = save_run(cfg, result)
    print(f"kept epoch {result.best_epoch} (by {cfg.select_by}); {result.seconds / 60:.1f} min; wrote {out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
