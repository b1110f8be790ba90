"""A toy task for the explanation tests: the class is written in ONE known patch of a tiny ViT's input.

Images are 32x32 (4x4 grid of 8 px patches) of noise with exactly two bright patches. In class 1 ("tumor")
one of them is at KEY_PATCH; in class 0 both are elsewhere. Brightness and count are the same in both
classes, so the model has to read the key *position*. A tiny ViT trained
on this for a few hundred steps (deterministic, ~2 s on CPU) relies on that patch alone, so a faithful
explanation of class 1 must light it.
"""

from __future__ import annotations

import functools

import pytest
import torch

from tests.conftest import make_tiny_vit

KEY_PATCH = (1, 2)  # (row, col) on the 4x4 patch grid
PATCH = 8
GRID = 4
# Brightness of the key/distractor patches in normalised units (noise elsewhere has std NOISE_STD).
SIGNAL = 1.5
NOISE_STD = 0.3
TRAIN_STEPS = 300
# The toy must be learnt almost perfectly, or the "lights the key patch" tests would test nothing.
MIN_TOY_ACCURACY = 0.97


def _brighten(x: torch.Tensor, index: int) -> None:
    r, c = divmod(index, GRID)
    x[:, r * PATCH : (r + 1) * PATCH, c * PATCH : (c + 1) * PATCH] += SIGNAL


def toy_batch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, 32, 32) float32 images and (n,) int64 labels (alternating 0, 1)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = NOISE_STD * torch.randn((n, 3, GRID * PATCH, GRID * PATCH), generator=g)
    others = [i for i in range(GRID * GRID) if i != key_patch_index()]
    for i in range(n):
        # Every image has exactly two bright patches: class 1 = the key patch + one elsewhere,
        # class 0 = two elsewhere. Only the key position tells the classes apart.
        picks = torch.randperm(len(others), generator=g)[:2]
        _brighten(x[i], key_patch_index() if y[i] == 1 else others[int(picks[1])])
        _brighten(x[i], others[int(picks[0])])
    return x, y


@functools.lru_cache(maxsize=1)
def trained_toy_vit():
    """The tiny ViT trained on :func:`toy_batch` (cached per process; callers must not modify it)."""
    torch.manual_seed(0)
    model = make_tiny_vit(seed=0)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 32 px model trains ~4x faster on one thread than on two busy ones
    try:
        for step in range(TRAIN_STEPS):
            x, y = toy_batch(64, seed=1000 + step)
            loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    for p in model.parameters():
        p.grad = None
    x, y = toy_batch(200, seed=7)
    with torch.no_grad():
        accuracy = (model(pixel_values=x).logits.argmax(-1) == y).float().mean().item()
    if accuracy < MIN_TOY_ACCURACY:
        raise RuntimeError(f"toy ViT reached only {accuracy:.2f} accuracy; the toy task needs more steps")
    return model


def key_patch_index() -> int:
    """Raster index of the key patch on the patch grid."""
    return KEY_PATCH[0] * GRID + KEY_PATCH[1]


@pytest.fixture
def one_torch_thread():
    """Run a test with one intra-op thread: tiny models are several times faster so on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
