"""Fine-tune a pretrained ViT's top blocks on the 253-scan training split plus the extra pool, on 2 CPU cores.

A full fine-tune of ViT-S/14 at 224 px costs ~3 forward passes per image and step; here the first
``frozen_blocks`` blocks stay as pretrained, so their output tokens are computed once per image and view
(``views``: view 0 unaugmented, the others augmented with :mod:`model.train.augment`) and cached, and only the
top blocks, the final norm and the head are trained on them. Each epoch draws ``samples_per_epoch`` cases
with replacement, weighted so that

- the two labels weigh the same (the pool is 15 : 1 tumour), and
- within a label, each source weighs ``n_source ** source_power`` (figshare, 70 % of the tumours and no
  normal scan, must not make "figshare-looking" mean "tumour");

then a random cached view of each. The epoch kept is the one with the lowest loss on the 253-set's
``validation`` split; its ``test`` split is never read. :func:`cross_validate` runs the same recipe as a
5-fold group cross-validation over the whole 253-scan set (the pool always in training).

CLI::

    python -m model.train.finetune train --base runs/dinov2-vits14-224 --out artifacts/model
    python -m model.train.finetune cv --base runs/dinov2-vits14-224  # artifacts/model/cross_validation.csv
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from tqdm import tqdm
from transformers import ViTForImageClassification

from model.cli import add_config_file, build_parser, parse_config, run_cli
from model.data.pool import read_pool_manifest
from model.data.scan import load_scan
from model.data.split import manifest_sha256, read_manifest
from model.evaluate.metrics import point_metrics
from model.labels import LABELS, POSITIVE_LABEL
from model.loading import ModelLoadError, load_for_finetuning, save_classifier, weights_fingerprint
from model.preprocess import PreprocessConfig, crop_and_resize
from model.train.augment import augment_batch
from model.train.config import AugmentConfig, recorded_config

SOURCE_253 = "brain_tumor_dataset"
CASE_COLUMNS = ("root", "path", "sha256", "label", "group", "source")
# Intensity augmentation strong enough to hide a scan's global brightness and contrast: in the 253 set the
# sequence (dim T1 vs bright T2) predicts the label in train but not in validation (see the model card).
CONFIG_HELP = "re-run the run recorded in this training_config.json (options given as well override it)"
DEFAULT_AUGMENT = AugmentConfig(brightness=0.25, contrast=0.5, gamma=0.6, autocontrast_p=0.5)


@dataclass(frozen=True)
class FinetuneConfig:
    """One top-block fine-tuning run (see the module docstring).

    Attributes:
        base: pretrained ``save_pretrained`` ViT folder (e.g. from :mod:`model.train.pretrained`) or hub id.
        data, manifest: the 253-scan set and its split manifest.
        pool, pool_manifest: the extra pool and its manifest (:mod:`model.data.pool`); its ``train`` part is
        used.
        pool_cap: at most this many pool images per (source, label) cell (the caching compute budget).
        out: output model folder.
        cache: folder for cached frozen-block tokens (re-used when the inputs are the same).
        frozen_blocks: blocks kept frozen (the rest, the final norm and the head are trained).
        views: cached views per training image (view 0 unaugmented).
        epochs, samples_per_epoch, batch_size: optimisation length.
        lr, head_lr: AdamW peak learning rates of the top blocks and of the new head.
        weight_decay, warmup_ratio, label_smoothing, grad_clip: as usual (cosine decay after warmup).
        source_power: within a label, a source weighs ``n_source ** source_power`` (0: sources equal,
            1: images equal).
        seed: seeds the head, the augmentation and the sampling.
        threads: torch CPU threads (0: default).
        augment: augmentation magnitudes of views 1..views-1.
    """

    base: str = "runs/dinov2-vits14-224"
    data: str = "../shared/data/brain_tumor_dataset"
    manifest: str = "artifacts/split_manifest.csv"
    pool: str = "../shared/data/brain_mri_pool"
    pool_manifest: str = "artifacts/pool_manifest.csv"
    out: str = "artifacts/model"
    cache: str = "runs/cache"
    frozen_blocks: int = 11
    views: int = 2
    pool_cap: int = 400
    epochs: int = 10
    samples_per_epoch: int = 384
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.1
    grad_clip: float = 1.0
    source_power: float = 0.5
    seed: int = 42
    threads: int = 0
    augment: AugmentConfig = field(default_factory=lambda: DEFAULT_AUGMENT, metadata={"cli": False})

    def __post_init__(self) -> None:
        if self.frozen_blocks < 0 or self.views < 1 or self.epochs < 1 or self.samples_per_epoch < 1:
            raise ValueError("need frozen_blocks >= 0, views >= 1, epochs >= 1 and samples_per_epoch >= 1.")
        if self.lr <= 0 or self.head_lr <= 0 or not 0 <= self.label_smoothing < 1:
            raise ValueError("learning rates must be > 0 and label_smoothing in [0, 1).")


@dataclass
class Cached:
    """Frozen-block output tokens of a set of cases: (V, N, T, D) float16, labels (N,), sources, paths."""

    tokens: torch.Tensor
    labels: torch.Tensor
    sources: tuple[str, ...]
    paths: tuple[str, ...]
    groups: tuple[str, ...]


def own_cases(cfg: FinetuneConfig, split: str) -> pd.DataFrame:
    """The 253 set's rows of one split: root, path, sha256, label, group, source.

    Args:
        cfg: the run (``manifest`` is read, ``data`` becomes each row's ``root``).
        split: ``train``, ``validation`` or ``test`` (only :func:`cross_validate` reads ``test``).

    Returns:
        The split's rows with :data:`CASE_COLUMNS`, ``source`` :data:`SOURCE_253`, index 0..n-1.

    Raises:
        ManifestError: the manifest is missing or invalid (:func:`model.data.split.read_manifest`).
    """
    own = read_manifest(cfg.manifest)
    own = own[own["split"] == split].assign(source=SOURCE_253, root=cfg.data)
    return own[list(CASE_COLUMNS)].reset_index(drop=True)


def pool_cases(cfg: FinetuneConfig) -> pd.DataFrame:
    """The pool's ``train`` rows, at most ``pool_cap`` per (source, label) cell (a seeded choice)."""
    pool = read_pool_manifest(cfg.pool_manifest)
    pool = pool[pool["split"] == "train"].assign(root=cfg.pool)
    rng = np.random.default_rng(cfg.seed)
    keep = []
    for _, cell in pool.groupby(["source", "label"], sort=True):
        idx = cell.index.to_numpy()
        keep.extend(sorted(rng.permutation(idx)[: cfg.pool_cap]))
    return pool.loc[sorted(keep), list(CASE_COLUMNS)].reset_index(drop=True)


def sample_weights(labels: NDArray[np.int64], sources: list[str], power: float) -> NDArray[np.float64]:
    """Per-case sampling probabilities: labels equal, sources within a label ``n ** power``, cases equal.

    Args:
        labels: (N,) int64 class indices.
        sources: N source names, in the same order.
        power: a (label, source) cell of n cases weighs ``n ** power`` within its label (0: sources equal,
            1: cases equal).

    Returns:
        (N,) non-negative weights summing to 1.
    """
    frame = pd.DataFrame({"label": labels, "source": sources})
    n_cell = frame.groupby(["label", "source"])["label"].transform("size").to_numpy(float)
    cell_mass = n_cell**power
    frame["mass"] = cell_mass / n_cell  # per case: cell mass spread over its cases
    per_label = frame.groupby("label")["mass"].transform("sum").to_numpy()
    w = frame["mass"].to_numpy() / per_label / frame["label"].nunique()
    return w / w.sum()


def _decode(cases: pd.DataFrame, pre: PreprocessConfig) -> torch.Tensor:
    images = [
        crop_and_resize(load_scan(Path(r) / p).image, pre)[0]
        for r, p in tqdm(zip(cases["root"], cases["path"], strict=True), total=len(cases), desc="decode")
    ]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S) uint8


def _normalise(pixels01: torch.Tensor, pre: PreprocessConfig) -> torch.Tensor:
    mean, std = torch.tensor(pre.mean).view(1, 3, 1, 1), torch.tensor(pre.std).view(1, 3, 1, 1)
    return (pixels01 - mean) / std


@torch.inference_mode()
def frozen_tokens(model: ViTForImageClassification, x: torch.Tensor, blocks: int) -> torch.Tensor:
    """(B, 3, S, S) model input -> (B, T, D) tokens after the embeddings and the first ``blocks`` blocks.

    Args:
        model: the ViT (its ``vit.embeddings`` and ``vit.layers`` are used; gradients are off).
        x: (B, 3, S, S) float32 normalised pixels.
        blocks: how many of the first transformer blocks to run (0: the embeddings only).

    Returns:
        (B, T, D) float32 tokens, T = 1 + (S / patch)^2 (CLS first), D the hidden size.
    """
    h = model.vit.embeddings(x)
    for layer in model.vit.layers[:blocks]:
        h = layer(h)
    return h


def top_logits(model: ViTForImageClassification, tokens: torch.Tensor, blocks: int) -> torch.Tensor:
    """(B, T, D) frozen-block tokens -> (B, K) logits through the remaining blocks, norm and head.

    Args:
        model: the ViT being fine-tuned.
        tokens: (B, T, D) float32 output of :func:`frozen_tokens` with the same ``blocks``.
        blocks: the number of frozen blocks the tokens have passed through.

    Returns:
        (B, K) float32 logits from the CLS token (with gradients when the model's parameters need them).
    """
    h = tokens
    for layer in model.vit.layers[blocks:]:
        h = layer(h)
    return model.classifier(model.vit.layernorm(h)[:, 0])


def cache_tokens(
    model: ViTForImageClassification,
    cases: pd.DataFrame,
    pre: PreprocessConfig,
    cfg: FinetuneConfig,
    name: str,
) -> Cached:
    """Compute (or read back) the frozen-block tokens of ``cases`` for ``cfg.views`` views.

    The cache file is named by a hash of the weights, the cases, the preprocessing, the augmentation and
    the seed, so a changed input never reads stale tokens.

    Args:
        model: the ViT whose first ``cfg.frozen_blocks`` blocks compute the tokens.
        cases: rows with ``root``, ``path``, ``sha256``, ``label``, ``group`` and ``source``.
        pre: preprocessing (brain crop, size, normalisation).
        cfg: the run (``frozen_blocks``, ``views``, ``augment``, ``seed`` and the ``cache`` folder).
        name: cache file prefix (``"253-train"``), also part of the hash.

    Returns:
        :class:`Cached` with (V, N, T, D) float16 tokens, V = ``cfg.views`` (view 0 unaugmented).

    Raises:
        ScanError: a case's file is not a readable scan (:func:`model.data.scan.load_scan`).
    """
    key = hashlib.sha256(
        json.dumps(
            [
                weights_fingerprint(model),
                cfg.frozen_blocks,
                cfg.views,
                list(cases["sha256"]),
                asdict(pre),
                asdict(cfg.augment),
                cfg.seed,
                name,
            ],
            default=str,
        ).encode()
    ).hexdigest()[:16]
    path = Path(cfg.cache) / f"{name}-{key}.pt"
    labels = torch.tensor([LABELS.index(v) for v in cases["label"]], dtype=torch.long)
    meta = (tuple(cases["source"]), tuple(cases["path"]), tuple(cases["group"]))
    if path.is_file():
        return Cached(torch.load(path), labels, *meta)
    pixels = _decode(cases, pre)
    g = torch.Generator().manual_seed(cfg.seed)
    out, views = [], cfg.views
    for v in range(views):
        chunks = []
        for i in tqdm(range(0, len(pixels), 32), desc=f"{name} view {v + 1}/{views}"):
            x = pixels[i : i + 32].float() / 255
            x = augment_batch(x, cfg.augment, g) if v > 0 else x
            chunks.append(frozen_tokens(model, _normalise(x, pre), cfg.frozen_blocks).half())
        out.append(torch.cat(chunks))
    tokens = torch.stack(out)  # (V, N, T, D) float16
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tokens, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return Cached(tokens, labels, *meta)


def _trainable(model: ViTForImageClassification, blocks: int) -> list[dict]:
    for p in model.parameters():
        p.requires_grad_(False)
    top = [p for layer in model.vit.layers[blocks:] for p in layer.parameters()]
    top += list(model.vit.layernorm.parameters())
    head = list(model.classifier.parameters())
    for p in top + head:
        p.requires_grad_(True)
    return [{"params": top, "kind": "top"}, {"params": head, "kind": "head"}]


@torch.inference_mode()
def score(model: ViTForImageClassification, data: Cached, blocks: int, view: int = 0) -> NDArray[np.float64]:
    """(N, K) float64 logits of view ``view`` of cached cases.

    Args:
        model: the ViT being fine-tuned (put it in eval mode first).
        data: the cached cases.
        blocks: the number of frozen blocks the cached tokens have passed through.
        view: which cached view to score, in 0..V-1 (0: unaugmented).

    Returns:
        (N, K) float64 logits in the cases' order.
    """
    chunks = [
        top_logits(model, data.tokens[view, i : i + 64].float(), blocks)
        for i in range(0, len(data.labels), 64)
    ]
    return torch.cat(chunks).double().numpy()


def validation_row(logits: NDArray[np.float64], labels: torch.Tensor) -> dict[str, float]:
    """Validation loss (plain cross-entropy), accuracy and ROC-AUC from logits.

    Args:
        logits: (N, K) float64 logits.
        labels: (N,) int64 true class indices.

    Returns:
        ``{"validation_loss", "accuracy", "roc_auc"}`` (ROC-AUC NaN when one class is missing).
    """
    y = labels.numpy()
    loss = float(F.cross_entropy(torch.from_numpy(logits), labels.long()))
    probs = torch.from_numpy(logits).softmax(-1).numpy()
    m = point_metrics(y, probs, LABELS, LABELS.index(POSITIVE_LABEL), 0.5)[0]
    return {"validation_loss": loss, "accuracy": m["accuracy"], "roc_auc": m["roc_auc"]}


def _top_step(
    model: ViTForImageClassification,
    train: Cached,
    idx: torch.Tensor,
    view: torch.Tensor,
    step: int,
    optim: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, list[torch.nn.Parameter]],
    cfg: FinetuneConfig,
) -> float:
    """One optimizer step on batch ``step`` of the epoch's draw (cases ``idx``, cached views ``view``)."""
    opt, sched, params = optim
    b = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
    x = train.tokens[view[b], idx[b]].float()  # (B, T, D)
    loss = F.cross_entropy(
        top_logits(model, x, cfg.frozen_blocks), train.labels[idx[b]], label_smoothing=cfg.label_smoothing
    )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    opt.step()
    sched.step()
    return loss.item()


def fit_top(
    model: ViTForImageClassification, train: Cached, val: Cached | None, cfg: FinetuneConfig
) -> tuple[list[dict], int]:
    """Train the top blocks and head on cached tokens; keep the epoch with the lowest validation loss
    (the last epoch when ``val`` is None). The model is left in eval mode holding the kept weights.

    Args:
        model: the ViT; its top blocks, final norm and head are trained in place, then all parameters are
            frozen again.
        train: cached training cases (sampled by :func:`sample_weights`, a random view each).
        val: cached validation cases (view 0 is scored each epoch), or None to keep the last epoch.
        cfg: the run's optimisation settings and seed.

    Returns:
        (per-epoch log rows, kept epoch).
    """
    torch.manual_seed(cfg.seed)
    groups = _trainable(model, cfg.frozen_blocks)
    opt = torch.optim.AdamW(
        [{"params": g["params"], "lr": cfg.head_lr if g["kind"] == "head" else cfg.lr} for g in groups],
        weight_decay=cfg.weight_decay,
    )
    steps_per_epoch = math.ceil(cfg.samples_per_epoch / cfg.batch_size)
    total, warm = steps_per_epoch * cfg.epochs, int(cfg.warmup_ratio * steps_per_epoch * cfg.epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))
        ),
    )
    w = torch.from_numpy(sample_weights(train.labels.numpy(), list(train.sources), cfg.source_power))
    g = torch.Generator().manual_seed(cfg.seed + 1)
    log, best, best_state, start = [], None, None, time.perf_counter()
    params = [p for gr in groups for p in gr["params"]]
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        idx = torch.multinomial(w, steps_per_epoch * cfg.batch_size, replacement=True, generator=g)
        view = torch.randint(0, train.tokens.shape[0], (len(idx),), generator=g)
        steps = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
        losses = [_top_step(model, train, idx, view, s, (opt, sched, params), cfg) for s in steps]
        model.eval()
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "training_loss": float(np.mean(losses)), "seconds": seconds}
        if val is not None:
            row.update(validation_row(score(model, val, cfg.frozen_blocks), val.labels))
        log.append(row)
        tqdm.write("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        if val is None or best is None or row["validation_loss"] < best["validation_loss"]:
            best, best_state = row, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    for p in model.parameters():
        p.requires_grad_(False)
    return log, int(best["epoch"])


def _base(cfg: FinetuneConfig) -> tuple[ViTForImageClassification, PreprocessConfig]:
    torch.manual_seed(cfg.seed)  # the new head
    return load_for_finetuning(cfg.base, LABELS)


def train(cfg: FinetuneConfig) -> tuple[ViTForImageClassification, PreprocessConfig, dict]:
    """Fine-tune on the 253 set's train split + the pool's train part; select on validation.

    Returns:
        (the model in eval mode, its preprocessing, the run record for ``training_config.json``).
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model, pre = _base(cfg)
    base_fp = weights_fingerprint(model)
    pool = pool_cases(cfg)
    own = own_cases(cfg, "train")
    train_set = _join(
        cache_tokens(model, own, pre, cfg, "253-train"), cache_tokens(model, pool, pre, cfg, "pool-train")
    )
    val_set = cache_tokens(model, own_cases(cfg, "validation"), pre, cfg, "253-validation")
    cases = pd.concat([own, pool], ignore_index=True)
    start = time.perf_counter()
    log, best_epoch = fit_top(model, train_set, val_set, cfg)
    record = {
        "schema_version": 1,
        "recipe": "model.train.finetune",
        "config": {**asdict(cfg), "augment": asdict(cfg.augment)},
        "outcome": {
            "base_fingerprint": base_fp,
            "manifest_sha256": manifest_sha256(cfg.manifest),
            "pool_manifest_sha256": manifest_sha256(cfg.pool_manifest),
            "n_train": int(len(train_set.labels)),
            "n_train_by_source_label": _counts(cases),
            "n_validation": int(len(val_set.labels)),
            "best_epoch": best_epoch,
            "best_validation": {k: v for k, v in log[best_epoch - 1].items() if k != "epoch"},
            "train_seconds": round(time.perf_counter() - start, 1),
            "torch_version": torch.__version__,
        },
        "log": log,
    }
    return model, pre, record


def _counts(cases: pd.DataFrame) -> dict[str, int]:
    return {f"{s}/{lab}": int(n) for (s, lab), n in cases.groupby(["source", "label"]).size().items()}


def cv_folds(own: pd.DataFrame, k: int, seed: int) -> NDArray[np.int64]:
    """Fold index per 253-set row: whole duplicate groups, stratified by label, sizes as even as possible.

    Args:
        own: rows with ``label`` and ``group``.
        k: number of folds.
        seed: seeds the shuffle that breaks ties between groups of the same size.

    Returns:
        (N,) int64 fold index in 0..k-1 per row, in the rows' order.
    """
    rng = np.random.default_rng(seed)
    fold_of_group: dict[str, int] = {}
    for _, rows in own.groupby("label", sort=True):
        groups = rows.groupby("group").size()
        order = list(groups.index)
        rng.shuffle(order)
        load = np.zeros(k)
        for gname in sorted(order, key=lambda gname: -groups[gname]):  # largest first onto the lightest fold
            f = int(np.argmin(load))
            fold_of_group[gname], load[f] = f, load[f] + groups[gname]
    return own["group"].map(fold_of_group).to_numpy()


def cross_validate(cfg: FinetuneConfig, k: int = 5) -> pd.DataFrame:
    """k-fold group cross-validation over the whole 253-scan set, the pool's train part always in training.

    Each fold trains ``cfg.epochs`` epochs and keeps the last (no fold's held-out scans choose anything).

    Args:
        cfg: the run (the same recipe as :func:`train`).
        k: number of folds (:func:`cv_folds`).

    Returns:
        Out-of-fold records: path, sha256, group, label, fold, p_<label> per class.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model, pre = _base(cfg)
    start_state = copy.deepcopy(model.state_dict())
    parts = [own_cases(cfg, split) for split in ("train", "validation", "test")]
    own = pd.concat(parts, ignore_index=True)
    own_set = _join(
        *[
            cache_tokens(model, c, pre, cfg, f"253-{s}")
            for c, s in zip(parts, ("train", "validation", "test"), strict=True)
        ]
    )
    pool_set = cache_tokens(model, pool_cases(cfg), pre, cfg, "pool-train")
    folds = cv_folds(own, k, cfg.seed)
    probs = np.zeros((len(own), len(LABELS)))
    for f in range(k):
        model.load_state_dict(start_state)
        inside, held = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        fit_top(model, _join(_take(own_set, inside), pool_set), None, cfg)
        probs[held] = (
            torch.from_numpy(score(model, _take(own_set, held), cfg.frozen_blocks)).softmax(-1).numpy()
        )
    out = own[["path", "sha256", "group", "label"]].assign(fold=folds)
    for j, lab in enumerate(LABELS):
        out[f"p_{lab}"] = probs[:, j]
    return out


def _take(c: Cached, idx: NDArray[np.int64]) -> Cached:
    t = torch.from_numpy(idx)
    pick = lambda seq: tuple(seq[i] for i in idx)  # noqa: E731
    return Cached(c.tokens[:, t], c.labels[t], pick(c.sources), pick(c.paths), pick(c.groups))


def _join(*parts: Cached) -> Cached:
    return Cached(
        torch.cat([c.tokens for c in parts], dim=1),
        torch.cat([c.labels for c in parts]),
        sum((c.sources for c in parts), ()),
        sum((c.paths for c in parts), ()),
        sum((c.groups for c in parts), ()),
    )


def read_finetune_config(path: str | Path) -> FinetuneConfig:
    """The :class:`FinetuneConfig` recorded in a fine-tuning run's ``training_config.json``.

    Args:
        path: the run record (``{schema_version, recipe, config, outcome, log}``).

    Returns:
        The recorded config (other keys of ``config`` are ignored).

    Raises:
        ValueError: the file is unreadable or its values are invalid.
    """
    values = recorded_config(path)
    kw = {f: values[f] for f in FinetuneConfig.__dataclass_fields__ if f in values}
    if "augment" in kw:
        kw["augment"] = AugmentConfig(**kw["augment"])
    return FinetuneConfig(**kw)


@dataclass(frozen=True, kw_only=True)
class FinetuneCommand:
    """``python -m model.train.finetune {train,cv}``: the command, the cv options and the run's config."""

    command: Literal["train", "cv"] = field(metadata={"positional": True})
    folds: int = field(default=5, metadata={"help": "cv: number of folds"})
    cv_out: str | None = field(
        default=None, metadata={"help": "cv: out-of-fold predictions CSV (default: in --out)"}
    )
    run: FinetuneConfig = field(default_factory=FinetuneConfig, metadata={"flatten": True})


def cli_parser() -> argparse.ArgumentParser:
    """The parser: the command, ``--folds``/``--cv-out``, one option per :class:`FinetuneConfig` field."""
    parser = build_parser(
        FinetuneCommand, prog="python -m model.train.finetune", description=__doc__.split("\n\n")[0]
    )
    add_config_file(parser, read_finetune_config, CONFIG_HELP)
    return parser


def _write_cv(args: FinetuneCommand) -> Path:
    out = Path(args.cv_out or Path(args.run.out) / "cross_validation.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    cross_validate(args.run, args.folds).to_csv(out, index=False, lineterminator="\n", float_format="%.17g")
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; bad input prints one line and returns 2."""
    try:
        args: FinetuneCommand = parse_config(cli_parser(), argv)
        cfg = args.run
        if args.command == "cv":
            print(f"wrote {_write_cv(args)}")
            return 0
        model, pre, record = train(cfg)
    except (ModelLoadError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = save_classifier(model, pre, cfg.out, record, half=True)
    print(f"wrote {out} (kept epoch {record['outcome']['best_epoch']})")
    return 0


if __name__ == "__main__":
    run_cli(main)
