"""A toy task for the explanation tests and a ViT whose weights are SET by hand to solve it.

Images are 32x32 (4x4 grid of 8 px patches) of noise with exactly two bright patches. In class 1 ("tumor")
one of them is at KEY_PATCH; in class 0 both are elsewhere. Brightness and count are the same in both
classes, so the model has to read the key *position*.

The model is not trained: :func:`toy_vit` writes its weights analytically (nothing is learnt, so nothing
depends on a CPU's floating-point rounding). It is a real ``ViTForImageClassification`` (the
:data:`~tests.conftest.TINY_VIT` shape), built so that its logit depends on the key patch alone:

- the patch embedding writes each patch's mean brightness ``b`` into ``BRIGHT`` and the position
  embedding marks the key token in ``KEY``, the CLS token in ``CLS`` and every token with a large constant
  ``ANCHOR`` (which keeps each LayerNorm's scale nearly constant, so LayerNorm is close to linear);
- layer 0 is the identity (zero output projections), so its attention gets zero gradient;
- in layer 1, head 0 makes the CLS token attend to the key token with logit ~``ATTENTION_LOGIT``
  (every other token gets ``exp(-ATTENTION_LOGIT)`` ~ 1e-9 of the attention) and copies its brightness
  into ``EVIDENCE``; head 1 and both MLPs add nothing;
- the classifier reads ``EVIDENCE`` of the CLS token: ``logit_1 - logit_0`` rises with the key patch's
  brightness and crosses 0 at a brightness of about ``THRESHOLD_BRIGHTNESS``.

So a faithful explanation of class 1 must put (nearly) all its relevance on the key patch, and every
other patch's share is ~1e-9, far from any rounding effect.
"""

from __future__ import annotations

import functools

import pytest
import torch
from transformers import ViTForImageClassification

from tests.conftest import TINY_VIT, make_tiny_vit

KEY_PATCH = (1, 2)  # (row, col) on the 4x4 patch grid
PATCH = 8
GRID = 4
# Brightness of the key/distractor patches in normalised units (noise elsewhere has std NOISE_STD).
SIGNAL = 1.5
NOISE_STD = 0.3

# Hidden dimensions of the hand-built model, as (+, -) pairs so that every token's mean over the hidden
# dimensions is 0 and LayerNorm only rescales.
BRIGHT, KEY, CLS, EVIDENCE, ANCHOR = (0, 1), (2, 3), (4, 5), (6, 7), (8, 9)
ANCHOR_SIZE = 4.0  # dominates every token's norm: LayerNorm divides by a nearly constant std
KEY_SIZE = 4.0
CLS_SIZE = 4.0
# CLS-to-key attention logit: exp(-20) ~ 2e-9 of the CLS token's attention is left for all other tokens.
ATTENTION_LOGIT = 20.0
# Key-patch brightness at which the two logits are equal: above the scan mean that replaces a deleted
# patch (~0.2) and the blurred key patch (~0.4), well below a bright patch (1.5 +- 0.1).
THRESHOLD_BRIGHTNESS = 0.8
LOGIT_GAIN = 12.0  # logit_1 - logit_0 ~ +-3.7 for a bright / deleted key patch


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


def _pair(vector: torch.Tensor, dims: tuple[int, int], value: float) -> None:
    vector[..., dims[0]] = value
    vector[..., dims[1]] = -value


def _token_scale(*sizes: float) -> float:
    """LayerNorm's std of a token holding (+s, -s) pairs of the given sizes (hidden size 32)."""
    return (2 * sum(s * s for s in sizes) / TINY_VIT["hidden_size"]) ** 0.5


def _set_embeddings(model: ViTForImageClassification) -> None:
    emb = model.vit.embeddings
    per_pixel = 1.0 / (3 * PATCH * PATCH)  # the projection's output is the patch's mean value
    emb.patch_embeddings.projection.weight[BRIGHT[0]] = per_pixel
    emb.patch_embeddings.projection.weight[BRIGHT[1]] = -per_pixel
    _pair(emb.position_embeddings, ANCHOR, ANCHOR_SIZE)  # every token, CLS included
    _pair(emb.position_embeddings[0, 1 + key_patch_index()], KEY, KEY_SIZE)
    _pair(emb.cls_token, CLS, CLS_SIZE)


def _set_reading_head(model: ViTForImageClassification) -> None:
    """Layer 1, head 0 (head dims 0..15): CLS attends to the key token and copies its brightness."""
    attention = model.vit.layers[1].attention
    head_dim = TINY_VIT["hidden_size"] // TINY_VIT["num_attention_heads"]
    # score = q.k / sqrt(head_dim); LayerNorm divides the CLS and key tokens by these stds.
    cls_std = _token_scale(CLS_SIZE, ANCHOR_SIZE)
    key_std = _token_scale(KEY_SIZE, ANCHOR_SIZE, SIGNAL)
    query_gain = ATTENTION_LOGIT * head_dim**0.5 * cls_std * key_std / (CLS_SIZE * KEY_SIZE)
    attention.q_proj.weight[0, CLS[0]] = query_gain
    attention.k_proj.weight[0, KEY[0]] = 1.0
    attention.v_proj.weight[0, BRIGHT[0]] = 1.0
    attention.o_proj.weight[EVIDENCE[0], 0] = 1.0
    attention.o_proj.weight[EVIDENCE[1], 0] = -1.0


def _set_classifier(model: ViTForImageClassification) -> None:
    # The evidence at the threshold brightness, after layer 1's and the final LayerNorm's scaling.
    key_std = _token_scale(KEY_SIZE, ANCHOR_SIZE, THRESHOLD_BRIGHTNESS)
    evidence = THRESHOLD_BRIGHTNESS / key_std
    threshold = evidence / _token_scale(CLS_SIZE, ANCHOR_SIZE, evidence)
    half = LOGIT_GAIN / 2
    model.classifier.weight[1, EVIDENCE[0]] = half
    model.classifier.weight[0, EVIDENCE[0]] = -half
    model.classifier.bias[1] = -half * threshold
    model.classifier.bias[0] = half * threshold


@functools.lru_cache(maxsize=1)
def toy_vit() -> ViTForImageClassification:
    """The hand-built tiny ViT described in the module docstring (cached; callers must not modify it)."""
    model = make_tiny_vit(seed=0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.fill_(1.0 if "layernorm" in name and name.endswith("weight") else 0.0)
        _set_embeddings(model)
        _set_reading_head(model)
        _set_classifier(model)
    return model.eval()


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
