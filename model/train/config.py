"""Frozen run configurations saved next to the artifacts they produce.

:class:`TrainConfig` defaults are the seed recipe (``google/vit-base-patch16-224`` fine-tuned for 4 epochs
with Adam, lr 3e-4, batch 20/8, linear schedule, seed 42, augmentation on). :class:`AugmentConfig` holds the
magnitudes of the training-time tensor augmentations (see :mod:`model.train.augment`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

SEED_BASE = "google/vit-base-patch16-224"
Arch = Literal["tiny", "small", "base"]
Optimizer = Literal["adam", "adamw"]
Schedule = Literal["linear", "cosine", "constant"]
SelectBy = Literal["val_loss", "f1", "last"]
Init = Literal["default", "mimetic"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
SCHEDULES: tuple[str, ...] = get_args(Schedule)
SELECT_BY: tuple[str, ...] = get_args(SelectBy)
INITS: tuple[str, ...] = get_args(Init)
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AugmentConfig:
    """Magnitudes of the training augmentations at ``strength == 1``; every one scales with ``strength``.

    Attributes:
        strength: global multiplier in [0, inf); 0 turns every augmentation into the identity.
        min_crop_scale: smallest area share kept by the random resized crop, in (0, 1].
        max_aspect: largest aspect-ratio change of the crop (>= 1; e.g. 1.2 means 1/1.2 .. 1.2).
        max_rotation_deg: rotations are uniform in +-this many degrees.
        max_shift: largest translation, as a share of the image side.
        hflip_p: probability of a left-right flip (brains are roughly symmetric).
        vflip_p: probability of an up-down flip.
        brightness: additive shift uniform in +-this (pixel scale [0, 1]).
        contrast: contrast factor uniform in 1 +- this, around each image's mean.
        gamma: log-gamma uniform in +-this (gamma = exp(u)).
        blur_p: probability of a Gaussian blur.
        max_blur_sigma: blur sigma uniform in (0, this] pixels.
        sharpen_p: probability of an unsharp-mask enhancement.
        max_sharpen: unsharp amount uniform in (0, this].
        noise_std: Gaussian noise standard deviation uniform in [0, this].
        autocontrast_p: probability of stretching the 1st..99th intensity percentiles to [0, 1] (enhancement;
            with strong contrast/gamma changes it hides the global brightness of a scan, a sequence cue).
        erase_p: probability of erasing one random rectangle (random erasing, Zhong et al. 2020).
        max_erase_area: largest erased share of the image.
    """

    strength: float = 1.0
    min_crop_scale: float = 0.7
    max_aspect: float = 1.2
    max_rotation_deg: float = 15.0
    max_shift: float = 0.05
    hflip_p: float = 0.5
    vflip_p: float = 0.0
    brightness: float = 0.1
    contrast: float = 0.2
    gamma: float = 0.2
    blur_p: float = 0.2
    max_blur_sigma: float = 1.0
    sharpen_p: float = 0.2
    max_sharpen: float = 1.0
    noise_std: float = 0.02
    autocontrast_p: float = 0.0
    erase_p: float = 0.0
    max_erase_area: float = 0.1

    def __post_init__(self) -> None:
        if self.strength < 0:
            raise ValueError(f"augment strength must be >= 0, got {self.strength}; use 0 to switch it off.")
        if not 0 < self.min_crop_scale <= 1:
            raise ValueError(f"min_crop_scale must be in (0, 1], got {self.min_crop_scale}.")
        if self.max_aspect < 1:
            raise ValueError(f"max_aspect must be >= 1, got {self.max_aspect}.")
        for name in ("hflip_p", "vflip_p", "blur_p", "sharpen_p", "erase_p", "autocontrast_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability and must be in [0, 1], got {getattr(self, name)}.")


def augment_from_pairs(pairs: list[str]) -> AugmentConfig:
    """The :class:`AugmentConfig` of ``--aug KEY=VALUE`` options (unset fields keep their defaults).

    Args:
        pairs: ``["strength=0", "erase_p=0.25"]``.

    Returns:
        The augmentation settings.

    Raises:
        ValueError: a pair is not ``KEY=VALUE`` with KEY an :class:`AugmentConfig` field and VALUE a number.
    """
    names = {f.name for f in fields(AugmentConfig)}
    values: dict[str, float] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in names:
            raise ValueError(f"--aug '{pair}' is not KEY=VALUE with KEY one of {sorted(names)}.")
        try:
            values[key] = float(value)
        except ValueError as err:
            raise ValueError(f"--aug {key} needs a number, got '{value}'.") from err
    return AugmentConfig(**values)


AUG_OPTION = {
    "flag": "--aug",
    "action": "append",
    "cli_default": [],
    "metavar": "KEY=VALUE",
    "convert": augment_from_pairs,
    "help": "augmentation setting, e.g. --aug strength=0 --aug erase_p=0.25 (fields of AugmentConfig)",
}


@dataclass(frozen=True)
class TrainConfig:
    """One training run: data, model, optimisation and augmentation settings.

    Attributes:
        data: data root holding the class folders (``yes/``, ``no/``).
        manifest: split manifest CSV (path, sha256, label, group, split).
        out: output model folder.
        base: hub id or local ``save_pretrained`` folder to fine-tune (ignored when ``from_scratch``).
        from_scratch: build a randomly initialised ViT of size ``arch`` instead of fine-tuning ``base``.
        arch: ``tiny`` | ``small`` | ``base`` (only with ``from_scratch``).
        image_size: input side in pixels (from-scratch only; a fine-tuned base keeps its own size).
        patch_size: patch side in pixels (from-scratch only).
        layers, hidden, heads, mlp: ViT size overrides (None keeps the ``arch`` value).
        init: ``default`` (ViTConfig's truncated normal) or ``mimetic`` attention initialisation (from-scratch
            only; see :mod:`model.train.vit_init`).
        dropout: hidden dropout probability.
        attention_dropout: attention-probability dropout.
        epochs: passes over the training split.
        lr: peak learning rate.
        batch_size: training batch size.
        eval_batch_size: validation batch size.
        seed: seeds the weights, shuffling and augmentation.
        optimizer: ``adam`` (seed recipe) or ``adamw`` (decoupled weight decay).
        betas, eps: Adam settings.
        weight_decay: weight decay (AdamW: not applied to biases, norms, embeddings).
        schedule: ``linear`` | ``cosine`` | ``constant`` decay after warmup.
        warmup_ratio: share of the steps spent warming up linearly from 0.
        label_smoothing: cross-entropy label smoothing.
        class_weights: weight the loss by inverse class frequency in the training split.
        grad_clip: clip the gradient norm to this (0: no clipping).
        select_by: ``val_loss`` (lowest), ``f1`` (highest, ties by lower loss) or ``last`` epoch.
        mixup: share of training images blended with another (see :func:`model.train.augment.mixup`).
        teacher_epochs: > 0 first trains a small CNN teacher on the training split for this many epochs and
            distils it into the ViT (see :mod:`model.train.teacher`); 0 trains on the labels only.
        distill_alpha: weight of the distillation loss (the label loss gets ``1 - distill_alpha``).
        distill_temperature: softening temperature of the distillation loss.
        crop_brain: crop black borders before resizing (saved in the preprocessor config).
        augment: augmentation magnitudes.
        half: save the weights as float16.
        threads: torch CPU threads (0: torch default).
    """

    data: str = field(
        default="../shared/data/brain_tumor_dataset",
        metadata={"help": "data root with yes/ and no/ (default: %(default)s)"},
    )
    manifest: str = field(
        default="artifacts/split_manifest.csv", metadata={"help": "split manifest CSV (default: %(default)s)"}
    )
    out: str = field(
        default="artifacts/model", metadata={"help": "output model folder (default: %(default)s)"}
    )
    base: str = field(
        default=SEED_BASE, metadata={"help": "hub id or local folder to fine-tune (default: %(default)s)"}
    )
    from_scratch: bool = field(
        default=False, metadata={"help": "train a randomly initialised ViT of size --arch instead"}
    )
    arch: Arch = field(default="base", metadata={"help": "from-scratch size (default: %(default)s)"})
    image_size: int = 224
    patch_size: int = 16
    layers: int | None = field(default=None, metadata={"help": "override the architecture's layers"})
    hidden: int | None = field(default=None, metadata={"help": "override the architecture's hidden"})
    heads: int | None = field(default=None, metadata={"help": "override the architecture's heads"})
    mlp: int | None = field(default=None, metadata={"help": "override the architecture's mlp"})
    init: Init = field(
        default="default", metadata={"help": "attention initialisation when training from scratch"}
    )
    dropout: float = 0.0
    attention_dropout: float = 0.0
    epochs: int = 4
    lr: float = 3e-4
    batch_size: int = 20
    eval_batch_size: int = 8
    seed: int = 42
    optimizer: Optimizer = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: Schedule = "linear"
    warmup_ratio: float = 0.0
    label_smoothing: float = 0.0
    class_weights: bool = field(
        default=False, metadata={"help": "weight the loss by inverse class frequency"}
    )
    grad_clip: float = 0.0
    select_by: SelectBy = field(
        default="val_loss", metadata={"help": "how the kept epoch is chosen on validation"}
    )
    mixup: float = 0.0
    teacher_epochs: int = 0
    distill_alpha: float = 0.5
    distill_temperature: float = 1.0
    crop_brain: bool = field(
        default=True,
        metadata={"flag": "--no-crop-brain", "help": "do not crop black borders before resizing"},
    )
    augment: AugmentConfig = field(default_factory=AugmentConfig, metadata=AUG_OPTION)
    half: bool = field(default=False, metadata={"help": "save float16 weights"})
    threads: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got '{self.optimizer}'."),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got '{self.schedule}'."),
            (self.select_by in SELECT_BY, f"select_by must be one of {SELECT_BY}, got '{self.select_by}'."),
            (self.init in INITS, f"init must be one of {INITS}, got '{self.init}'."),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}."),
            (self.lr > 0, f"lr must be > 0, got {self.lr}."),
            (self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be >= 1."),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}."),
            (0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1): {self.label_smoothing}."),
            (0 <= self.mixup <= 1, f"mixup is a share of images and must be in [0, 1], got {self.mixup}."),
            (
                self.teacher_epochs >= 0 and 0 <= self.distill_alpha <= 1 and self.distill_temperature > 0,
                "need --teacher-epochs >= 0, --distill-alpha in [0, 1] and --distill-temperature > 0.",
            ),
            (
                self.image_size % self.patch_size == 0,
                f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict (nested augmentation settings under ``augment``)."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    def vit_overrides(self) -> dict[str, float]:
        """Return the ``ViTConfig`` fields this run sets on top of the ``arch`` defaults."""
        sizes = {
            "num_hidden_layers": self.layers,
            "hidden_size": self.hidden,
            "num_attention_heads": self.heads,
            "intermediate_size": self.mlp,
        }
        out: dict[str, float] = {k: v for k, v in sizes.items() if v is not None}
        out["hidden_dropout_prob"] = self.dropout
        out["attention_probs_dropout_prob"] = self.attention_dropout
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config of a :meth:`to_dict` (or an old flat ``training_config.json``; other keys are ignored).

        Args:
            values: field name -> JSON value (``augment`` nested, ``betas`` a list).

        Returns:
            The validated config.

        Raises:
            ValueError: a value is invalid.
        """
        kw = {f.name: values[f.name] for f in fields(cls) if f.name in values}
        if "betas" in kw:
            kw["betas"] = tuple(kw["betas"])
        if "augment" in kw:
            kw["augment"] = AugmentConfig(**kw["augment"])
        return cls(**kw)

    def with_base_arch(self) -> TrainConfig:
        """This config, with ``arch`` set to ``base`` unless training from scratch (a base keeps its size)."""
        return self if self.from_scratch else replace(self, arch="base")


def recorded_config(path: str | Path) -> dict[str, Any]:
    """The ``config`` part of a ``training_config.json``: ``{schema_version, config, outcome}`` or old flat.

    Args:
        path: the ``training_config.json`` of a :mod:`model.train.run` or :mod:`model.train.finetune` run.

    Returns:
        Field name -> recorded JSON value (an old flat record also holds its outcome keys).

    Raises:
        ValueError: the file is missing or not a run record; the message names the file.
    """
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"--config {path} is not a readable training_config.json ({err}).") from err
    if not isinstance(record, dict):
        raise ValueError(f"--config {path} is not a run record: pass a model folder's training_config.json.")
    return record["config"] if isinstance(record.get("config"), dict) else record


def read_train_config(path: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` recorded in a ``training_config.json`` (either shape).

    Args:
        path: the run record.

    Returns:
        The recorded config.

    Raises:
        ValueError: the file is unreadable or its values are invalid.
    """
    return TrainConfig.from_dict(recorded_config(path))
