"""Grad-CAM on the patch tokens entering the last encoder block (Selvaraju et al. 2017, ViT variant).

Grad-CAM weights each feature channel by the mean gradient of the target logit over the spatial positions
and sums: ``cam = ReLU(sum_d alpha_d A_d)``, ``alpha_d = mean_tokens(dlogit/dA_d)``. In a ViT the classifier
reads only the CLS token, so the gradient at the last block's *output* is zero for every patch token; the
activations used here are the last block's normalised *input* (``layers[-1].layernorm_before``), where patch
tokens still reach CLS through the last attention (as pytorch-grad-cam does with ``blocks[-1].norm1``).

No hooks: the hidden state entering the last block is returned by the model (``output_hidden_states``), the
layer norm is applied to a private leaf tensor and the rest of the last block is re-run from the model's own
submodules; the re-run is checked to reproduce the model's logits, so a change inside ``ViTLayer`` in a
future transformers release fails loudly instead of giving a wrong map.
"""

from __future__ import annotations

import torch
from transformers import ViTForImageClassification

from model.explain.explainer import Explainer, method_heatmap
from model.explain.heatmap import Heatmap
from model.explain.state import gradients_enabled, patch_grid_of, prepare_input, resolve_params

NAME = "gradcam"
DEFAULTS: dict[str, object] = {}
PARAM_HELP: dict[str, str] = {}
# Re-running the last block from its own submodules does the same float32 operations in the same order;
# anything beyond float32 rounding on logits of order 10 means the block's structure has changed.
TAIL_TOLERANCE = 1e-3


def last_block_tail(
    model: ViTForImageClassification, hidden_in: torch.Tensor, normed: torch.Tensor
) -> torch.Tensor:
    """Logits computed from the last block's input, with its ``layernorm_before`` output given separately.

    Args:
        model: eager ViT classifier.
        hidden_in: (B, T, D) hidden state entering the last block (the residual path).
        normed: (B, T, D) ``layernorm_before(hidden_in)`` (the attention path; gradients are taken here).

    Returns:
        (B, classes) logits, equal to the model's own.
    """
    layer = model.vit.layers[-1]
    attn_out, _ = layer.attention(normed)  # (B, T, D)
    h = layer.dropout(attn_out) + hidden_in
    h = layer.dropout(layer.mlp(layer.layernorm_after(h))) + h
    return model.classifier(model.vit.layernorm(h)[:, 0, :])


def token_gradients(
    model: ViTForImageClassification, x: torch.Tensor, target: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Activations of ``layers[-1].layernorm_before`` and the target logit's gradient there.

    Args:
        model: ViT classifier (not modified; gradients w.r.t. the activations only).
        x: (1, 3, S, S) float model input in the model's dtype; not modified.
        target: class index in ``[0, num_labels)``.

    Returns:
        (activations, gradients, logits): (1, T, D), (1, T, D) detached, and (1, classes) logits.

    Raises:
        RuntimeError: the re-run last block does not reproduce the model's logits (see module docstring).
    """
    with (
        torch.inference_mode(False),
        torch.no_grad(),
    ):  # a normal tensor even inside a caller's inference mode
        out = model(pixel_values=x, output_hidden_states=True)
    hidden_in = out.hidden_states[-2].detach()  # input of the last block, (1, T, D)
    layer = model.vit.layers[-1]
    with gradients_enabled():
        normed = layer.layernorm_before(hidden_in).detach().requires_grad_()
        logits = last_block_tail(model, hidden_in, normed)
        (grad,) = torch.autograd.grad(logits[0, target], normed)
    if not torch.allclose(logits.detach(), out.logits, atol=TAIL_TOLERANCE, rtol=TAIL_TOLERANCE):
        raise RuntimeError(
            "Re-running ViT's last block did not reproduce the logits; transformers' ViTLayer has changed. "
            "Update model/explain/gradcam.py:last_block_tail to the new layer structure."
        )
    return normed.detach(), grad.detach(), out.logits.detach()


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """Grad-CAM map for one scan.

    Args:
        model: eager-attention ViT classifier (not modified).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        target: class index to explain.
        **params: none.

    Returns:
        Patch-grid :class:`Heatmap` (ReLU of the class activation map, as shares).
    """
    used = resolve_params(NAME, DEFAULTS, params)
    x = prepare_input(model, pixel_values, target)
    acts, grads, logits = token_gradients(model, x, target)
    patches_a, patches_g = acts[0, 1:], grads[0, 1:]  # drop CLS: (P, D)
    weights = patches_g.mean(dim=0)  # alpha_d, (D,)
    cam = (patches_a * weights).sum(dim=-1).to(torch.float64)  # (P,)
    raw = cam.reshape(patch_grid_of(model, x)).numpy()
    extras = {"class_specific": True, "target_logit": float(logits[0, target])}
    return method_heatmap(raw, NAME, target, used, x.shape[-2:], grid="patch", extras=extras)


EXPLAINER = Explainer(
    NAME,
    "Grad-CAM (last block)",
    explain,
    DEFAULTS,
    PARAM_HELP,
    "Features entering the last block, weighted by their average gradient for the class. Coarse "
    "(one value per patch) and cheap.",
    "fast",
    reference="Selvaraju et al. 2017, Grad-CAM",
)
