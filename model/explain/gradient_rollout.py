"""Gradient-weighted attention rollout: class-specific relevance (Chefer, Gur & Wolf 2021).

Chefer et al., "Generic Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder
Transformers" (ICCV 2021), rule for self-attention: starting from ``R = I``, for each layer
``Abar = mean_heads((dlogit_target/dA * A)^+)`` and ``R <- R + Abar R``. The CLS row of ``R`` over the
patch columns is the map. Because the attention is weighted by the gradient of the chosen class's logit,
"why tumour" and "why no tumour" give different maps (plain rollout cannot).

Gradients are taken with ``torch.autograd.grad(logit, outputs.attentions)``: the attention probabilities
returned by an eager-attention ViT are the very tensors multiplied with the values, so they are nodes of the
graph. No hooks are registered and nothing accumulates in ``param.grad``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from transformers import ViTForImageClassification

from model.explain.explainer import Explainer, method_heatmap
from model.explain.heatmap import Heatmap
from model.explain.rollout import cls_to_grid
from model.explain.state import gradients_enabled, patch_grid_of, prepare_input, resolve_params

NAME = "gradient_rollout"
DEFAULTS: dict[str, object] = {"start_layer": 0}
PARAM_HELP = {
    "start_layer": "First encoder layer included (0 = all). Later start layers ignore early, low-level "
    "mixing.",
}


def attention_gradients(
    model: ViTForImageClassification, x: torch.Tensor, target: int
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...], torch.Tensor]:
    """Attention maps and the gradient of the target logit with respect to each of them.

    Args:
        model: eager-attention ViT classifier (unchanged; no hooks, no ``param.grad``).
        x: (1, 3, S, S) private input copy (see :func:`~model.explain.state.prepare_input`).
        target: class index.

    Returns:
        (attentions, gradients, logits): L detached (1, heads, T, T) tensors each, and (1, classes) logits.
    """
    with gradients_enabled():
        x = x.detach().requires_grad_()
        out = model(pixel_values=x, output_attentions=True)
        if not out.attentions or not out.attentions[0].requires_grad:
            raise RuntimeError(
                "The model returned no differentiable attentions; load it with attn_implementation='eager' "
                "(model.loading.load_classifier does)."
            )
        grads = torch.autograd.grad(out.logits[0, target], out.attentions)
    return (tuple(a.detach() for a in out.attentions), tuple(g.detach() for g in grads), out.logits.detach())


def gradient_rollout(
    attentions: Sequence[torch.Tensor],
    gradients: Sequence[torch.Tensor],
    grid: tuple[int, int] | None = None,
    start_layer: int = 0,
) -> NDArray[np.float64]:
    """Roll out gradient-weighted attention (Chefer et al. 2021, self-attention rule).

    Args:
        attentions: L tensors (1, heads, T, T), T = 1 + patches; not mutated.
        gradients: the target logit's gradient with respect to each attention, same shapes.
        grid: (rows, cols) of the patch grid; square when None.
        start_layer: index of the first layer used.

    Returns:
        (rows, cols) float64 relevance of each patch for the CLS token (nonnegative).
    """
    if len(attentions) != len(gradients) or not attentions:
        raise ValueError("Need one gradient per attention layer (and at least one layer).")
    if not 0 <= start_layer < len(attentions):
        raise ValueError(f"start_layer must be in [0, {len(attentions) - 1}], got {start_layer}.")
    t = attentions[0].shape[-1]
    relevance = torch.eye(t, dtype=torch.float64)
    for attn, grad in list(zip(attentions, gradients, strict=True))[start_layer:]:
        a = attn.detach().to(torch.float64)[0]  # (heads, T, T)
        g = grad.detach().to(torch.float64)[0]
        weighted = (g * a).clamp(min=0).mean(dim=0)  # (T, T)
        relevance = relevance + weighted @ relevance
    return cls_to_grid(relevance[0], grid)


def relevance_map(
    attentions: Sequence[torch.Tensor],
    gradients: Sequence[torch.Tensor],
    logits: torch.Tensor,
    target: int,
    grid: tuple[int, int],
    input_size: tuple[int, int],
    start_layer: int = 0,
) -> Heatmap:
    """The patch-grid :class:`Heatmap` of :func:`gradient_rollout`, as :func:`explain` returns it.

    Args:
        attentions, gradients: as for :func:`gradient_rollout`. logits: (1, classes) of the same pass.
        target: class the gradients are of. grid: (rows, cols) patch grid. input_size: (S0, S1) of the input.
        start_layer: first layer used.

    Returns:
        Patch-grid :class:`Heatmap`; ``extras["target_logit"]`` is the explained logit.
    """
    raw = gradient_rollout(attentions, gradients, grid, start_layer)
    extras = {"class_specific": True, "target_logit": float(logits[0, target])}
    return method_heatmap(
        raw, NAME, target, {"start_layer": start_layer}, input_size, grid="patch", extras=extras
    )


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """Class-specific relevance map for one scan.

    Args:
        model: eager-attention ViT classifier (not modified).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        target: class index to explain.
        **params: ``start_layer`` (see :data:`PARAM_HELP`).

    Returns:
        Patch-grid :class:`Heatmap`; ``extras["target_logit"]`` is the explained logit.
    """
    used = resolve_params(NAME, DEFAULTS, params)
    x = prepare_input(model, pixel_values, target)
    attentions, grads, logits = attention_gradients(model, x, target)
    grid, size = patch_grid_of(model, x), tuple(x.shape[-2:])
    return relevance_map(attentions, grads, logits, target, grid, size, int(used["start_layer"]))


EXPLAINER = Explainer(
    NAME,
    "Gradient-weighted rollout",
    explain,
    DEFAULTS,
    PARAM_HELP,
    "Attention weighted by how much it raises the chosen class's score, rolled out over layers. "
    "Class-specific: 'why tumour' and 'why no tumour' differ.",
    "fast",
    reference="Chefer, Gur & Wolf 2021, Generic Attention-model Explainability (ICCV)",
)
