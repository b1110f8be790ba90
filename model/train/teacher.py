"""A small CNN teacher, trained on the training split, whose predictions a from-scratch ViT learns from.

Why: on ~200 scans a ViT trained from scratch finds no lesion signal under strong intensity augmentation (its
training loss stays at the class prior), while a small CNN, with the locality bias of convolutions, does.
Distilling the CNN's soft predictions on every augmented view into the ViT (Hinton et al. 2015; DeiT, Touvron
et al. 2021) gives the ViT a target for each view. The teacher is used during training only and is not saved;
the saved model is a plain ``ViTForImageClassification``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model.train.augment import augment_batch
from model.train.config import AugmentConfig

TEACHER_WIDTHS = (16, 32, 64, 128)  # channels per conv block; each block halves the resolution
TEACHER_LR = 2e-3
TEACHER_WEIGHT_DECAY = 0.05
TEACHER_BATCH = 16
TEACHER_DROPOUT = 0.3


class SmallCNN(nn.Module):
    """Conv-BN-ReLU-MaxPool blocks, global average pooling, dropout and a linear head.

    Args:
        num_labels: output classes.
        widths: channels of each block.
    """

    def __init__(self, num_labels: int = 2, widths: tuple[int, ...] = TEACHER_WIDTHS) -> None:
        super().__init__()
        blocks, channels = [], 3
        for width in widths:
            blocks += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(TEACHER_DROPOUT), nn.Linear(channels, num_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised pixels -> (B, num_labels) logits."""
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1))


def train_teacher(
    pixels: torch.Tensor,
    labels: torch.Tensor,
    normalise: Callable[[torch.Tensor], torch.Tensor],
    augment: AugmentConfig,
    epochs: int,
    g: torch.Generator,
    num_labels: int = 2,
) -> SmallCNN:
    """Train the teacher on the training split with the run's augmentation (fixed epochs, no selection).

    Args:
        pixels: (N, 3, S, S) uint8 training scans.
        labels: (N,) int64 class indices.
        normalise: maps (B, 3, S, S) float pixels in [0, 1] to model input.
        augment: augmentation magnitudes (the student's).
        epochs: passes over the data (>= 1).
        g: random generator (shuffling and augmentation).
        num_labels: output classes.

    Returns:
        The teacher in eval mode.
    """
    teacher = SmallCNN(num_labels)
    opt = torch.optim.AdamW(teacher.parameters(), lr=TEACHER_LR, weight_decay=TEACHER_WEIGHT_DECAY)
    steps = -(-len(labels) // TEACHER_BATCH) * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, TEACHER_LR, total_steps=steps)
    teacher.train()
    for _ in tqdm(range(epochs), desc="teacher", leave=False):
        order = torch.randperm(len(labels), generator=g)
        for start in range(0, len(order), TEACHER_BATCH):
            idx = order[start : start + TEACHER_BATCH]
            x = normalise(augment_batch(pixels[idx].float() / 255, augment, g))
            loss = F.cross_entropy(teacher(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return recalibrate_batchnorm(teacher, pixels, normalise)


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, pixels: torch.Tensor, normalise: Callable[[torch.Tensor], torch.Tensor]
) -> nn.Module:
    """Re-estimate BatchNorm statistics as exact averages over the (unaugmented) training scans.

    The running averages kept during a short training lag behind the weights; the eval-mode teacher would then
    see wrongly normalised features.

    Args:
        model: network with BatchNorm layers (changed in place).
        pixels: (N, 3, S, S) uint8 scans.
        normalise: maps float pixels in [0, 1] to model input.

    Returns:
        ``model`` in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    model.train()
    for start in range(0, len(pixels), TEACHER_BATCH):
        model(normalise(pixels[start : start + TEACHER_BATCH].float() / 255))
    return model.eval()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened distributions, times T^2 (Hinton et al. 2015).

    Args:
        student: (B, K) student logits.
        teacher: (B, K) teacher logits (no gradient needed).
        temperature: softening temperature > 0.

    Returns:
        Scalar loss; 0 when the two distributions agree.
    """
    log_p_student = F.log_softmax(student / temperature, dim=-1)
    p_teacher = F.softmax(teacher.detach() / temperature, dim=-1)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature**2
