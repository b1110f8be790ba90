"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Rollout follows how much each input patch can reach the CLS token through the stack of attention layers:
each layer's head-fused attention ``A`` gets the residual connection as ``0.5 (A + I)``, its rows are
renormalised (``keepdim=True``) and the layers are multiplied, ``R = A_L ... A_1``. The CLS row of ``R``
(patch columns) is the map. It is a pure function of ``outputs.attentions`` and is **class-agnostic**:
"why tumour" and "why no tumour" give the same map (use ``gradient_rollout`` for class-specific relevance).

Also exposed for the Learn page: per-layer cumulative rollouts (:func:`rollout_layers`) and the raw CLS
attention of every head (:func:`cls_attention`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from transformers import ViTForImageClassification

from model.explain.explainer import Explainer, method_heatmap
from model.explain.heatmap import Heatmap
from model.explain.state import patch_grid_of, prepare_input, resolve_params

NAME = "attention_rollout"
HEAD_FUSIONS = ("mean", "max", "min")
DEFAULTS = {"head_fusion": "mean", "discard_ratio": 0.0}
PARAM_HELP = {
    "head_fusion": "How the heads of a layer are combined: mean (the paper), max (sharper) or min.",
    "discard_ratio": "Share of the weakest attention links per row set to 0 before rolling out (0 = none; "
    "0.9 keeps only the strongest 10 %). Links to CLS and to the token itself are never dropped.",
}


def _layer_matrix(attention: torch.Tensor) -> torch.Tensor:
    """(1, H, T, T) or (H, T, T) -> (H, T, T), detached, in its own dtype (a view: never written to)."""
    a = attention.detach()
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"Rollout explains one scan at a time; got a batch of {a.shape[0]} attentions.")
        a = a[0]
    if a.ndim != 3 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Attention must be (1, heads, T, T); got {tuple(attention.shape)}.")
    return a


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """Combine the heads of one layer: (H, T, T) -> (T, T) float64 (a new tensor).

    The mean is accumulated in float64 and max/min are exact, so fusing before the cast gives the map of
    casting every head first, without a float64 copy of every head of every layer (8-15 % of a ViT-Base
    pass, the ``predict_rollout`` benchmark row).

    Args:
        attention: (H, T, T) attention of one layer (rows = queries, each row sums to 1); not modified.
        head_fusion: ``"mean"``, ``"max"`` or ``"min"`` over the heads.

    Returns:
        (T, T) float64 new tensor.

    Raises:
        ValueError: ``head_fusion`` is not one of :data:`HEAD_FUSIONS`.
    """
    if head_fusion == "mean":
        return attention.mean(dim=0, dtype=torch.float64)
    if head_fusion == "max":
        return attention.amax(dim=0).to(torch.float64, copy=True)
    if head_fusion == "min":
        return attention.amin(dim=0).to(torch.float64, copy=True)
    raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}.")


def discard_lowest(fused: torch.Tensor, discard_ratio: float) -> torch.Tensor:
    """Zero the weakest ``discard_ratio`` share of links in each row, never the CLS column or the diagonal.

    Args:
        fused: (T, T) nonnegative attention (rows = queries).
        discard_ratio: in [0, 1).

    Returns:
        (T, T) new tensor; the input is not modified.
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}.")
    t = fused.shape[-1]
    k = int(discard_ratio * (t - 2))
    if k == 0:
        return fused.clone()
    protected = torch.eye(t, dtype=torch.bool)
    protected[:, 0] = True
    ranked = fused.masked_fill(protected, float("inf"))  # protected links are never among the lowest
    lowest = ranked.topk(k, dim=-1, largest=False).indices  # (T, k)
    return fused.scatter(-1, lowest, 0.0)


def rollout_step(fused: torch.Tensor) -> torch.Tensor:
    """Add the residual path and renormalise: ``0.5 (A + I)`` with rows summing to 1. (T, T) -> (T, T)."""
    a = 0.5 * (fused + torch.eye(fused.shape[-1], dtype=fused.dtype))
    return a / a.sum(dim=-1, keepdim=True)


def rollout_matrices(
    attentions: Sequence[torch.Tensor], head_fusion: str = "mean", discard_ratio: float = 0.0
) -> list[torch.Tensor]:
    """Cumulative rollout after each layer (Abnar & Zuidema 2020): ``[A_1, A_2 A_1, ..., A_L ... A_1]``.

    Args:
        attentions: ``outputs.attentions``: L tensors of shape (1, heads, T, T), T = 1 + patches; not mutated.
        head_fusion: ``mean``, ``max`` or ``min`` over heads.
        discard_ratio: share in [0, 1) of the weakest links dropped per row (CLS and self links kept).

    Returns:
        L (T, T) float64 tensors, each ``0.5 (A + I)``-renormalised step multiplied onto the previous ones.

    Raises:
        ValueError: no attentions, a batch of more than one scan, a bad shape, fusion or ratio.
    """
    if len(attentions) == 0:
        raise ValueError("No attentions given; call the model with output_attentions=True (eager attention).")
    result: list[torch.Tensor] = []
    joint = None
    for layer in attentions:
        step = rollout_step(discard_lowest(fuse_heads(_layer_matrix(layer), head_fusion), discard_ratio))
        joint = step if joint is None else step @ joint
        result.append(joint)
    return result


def cls_to_grid(row: torch.Tensor, grid: tuple[int, int] | None) -> NDArray[np.float64]:
    """The patch columns of a CLS row on the patch grid (grad-cam's ``reshape_transform``).

    Args:
        row: (T,) CLS row of a (T, T) matrix, T = 1 + rows x cols; column 0 (CLS itself) is dropped.
        grid: (rows, cols) of the patch grid; square when None.

    Returns:
        (rows, cols) array of ``row``'s dtype (a view of its patch columns).

    Raises:
        ValueError: the patch tokens do not fill the grid.
    """
    patches = row[1:].numpy()
    if grid is None:
        side = int(round(patches.size**0.5))
        grid = (side, side)
    if grid[0] * grid[1] != patches.size:
        raise ValueError(f"{patches.size} patch tokens do not fill a {grid[0]}x{grid[1]} grid.")
    return patches.reshape(grid)


def attention_rollout(
    attentions: Sequence[torch.Tensor],
    grid: tuple[int, int] | None = None,
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
) -> NDArray[np.float64]:
    """Roll out attention to the CLS token.

    Args:
        attentions: ``outputs.attentions``: L tensors of shape (1, heads, T, T), T = 1 + patches; not mutated.
        grid: (rows, cols) of the patch grid; square when None.
        head_fusion: ``mean``, ``max`` or ``min`` over heads.
        discard_ratio: share of weakest links dropped per row (CLS and self links kept).

    Returns:
        (rows, cols) float64: how much each patch flows into the CLS token (nonnegative, sums to <= 1).
    """
    return cls_to_grid(rollout_matrices(attentions, head_fusion, discard_ratio)[-1][0], grid)


def rollout_layers(
    attentions: Sequence[torch.Tensor],
    grid: tuple[int, int] | None = None,
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
) -> list[NDArray[np.float64]]:
    """Cumulative rollout up to each layer (how attention builds up), one grid per layer.

    Args:
        attentions: ``outputs.attentions``: L tensors of shape (1, heads, T, T), T = 1 + patches; not mutated.
        grid: (rows, cols) of the patch grid; square when None.
        head_fusion: ``mean``, ``max`` or ``min`` over heads.
        discard_ratio: share in [0, 1) of the weakest links dropped per row (CLS and self links kept).

    Returns:
        L (rows, cols) float64 arrays; the last one is :func:`attention_rollout`'s map.

    Raises:
        ValueError: see :func:`rollout_matrices` and :func:`cls_to_grid`.
    """
    return [cls_to_grid(m[0], grid) for m in rollout_matrices(attentions, head_fusion, discard_ratio)]


def cls_attention(
    attentions: Sequence[torch.Tensor], grid: tuple[int, int] | None = None
) -> NDArray[np.float32]:
    """Raw attention from CLS to every patch, per layer and head.

    Args:
        attentions: ``outputs.attentions``: L tensors of shape (1, heads, T, T), T = 1 + patches; not mutated.
        grid: (rows, cols) of the patch grid; square when None.

    Returns:
        (L, heads, rows, cols) float32: row 0 of each head's attention matrix without the CLS column.

    Raises:
        ValueError: a batch of more than one scan, a bad shape, or patch tokens that do not fill ``grid``.
    """
    maps = [[cls_to_grid(head[0], grid) for head in _layer_matrix(layer)] for layer in attentions]
    return np.asarray(maps, dtype=np.float32)


def rollout_map(
    attentions: Sequence[torch.Tensor],
    grid: tuple[int, int],
    input_size: tuple[int, int],
    target: int,
    params: Mapping[str, object] = DEFAULTS,
) -> Heatmap:
    """The patch-grid :class:`Heatmap` of :func:`attention_rollout`, as :func:`explain` returns it.

    Args:
        attentions: ``outputs.attentions`` of one pass (see :func:`attention_rollout`).
        grid: (rows, cols) patch grid. input_size: (S0, S1) of the input.
        target: class recorded (rollout is class-agnostic).
        params: resolved ``head_fusion`` and ``discard_ratio``.

    Returns:
        Patch-grid :class:`Heatmap`, ``extras["class_specific"]`` False.
    """
    raw = attention_rollout(attentions, grid, str(params["head_fusion"]), float(params["discard_ratio"]))
    return method_heatmap(
        raw, NAME, target, params, input_size, grid="patch", extras={"class_specific": False}
    )


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """Attention-rollout map for one scan (the target is recorded but does not change the map).

    Args:
        model: eager-attention ViT classifier (not modified).
        pixel_values: (1, 3, S, S) float32 model input.
        target: class index (rollout is class-agnostic).
        **params: ``head_fusion``, ``discard_ratio`` (see :data:`PARAM_HELP`).

    Returns:
        Patch-grid :class:`Heatmap`.
    """
    used = resolve_params(NAME, DEFAULTS, params)
    x = prepare_input(model, pixel_values, target)
    with torch.no_grad():
        out = model(pixel_values=x, output_attentions=True)
    return rollout_map(out.attentions, patch_grid_of(model, x), tuple(x.shape[-2:]), target, used)


EXPLAINER = Explainer(
    NAME,
    "Attention rollout",
    explain,
    DEFAULTS,
    PARAM_HELP,
    "Follows how much each patch can flow into the CLS token through all attention layers. Shows "
    "where the model looks, not why: the map is the same for every class.",
    "fast",
    class_specific=False,
    reference="Abnar & Zuidema 2020, Quantifying Attention Flow in Transformers",
)
