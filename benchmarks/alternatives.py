"""The obvious alternatives the project's explainers are compared with: each library's defaults.

Each function returns a :class:`~model.explain.heatmap.Heatmap` reduced exactly as the project reduces the
same method (channels summed, positive part, shares), so maps can be rank-correlated cell for cell. Only the
numerical settings are the library's; the baseline image is the project's (``min``: the scan's black
background), because Captum's zero baseline would be a different explanation, not a cheaper one.
"""

from __future__ import annotations

import torch
from captum.attr import GradientShap, IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from transformers import ViTForImageClassification

from model.explain import gradcam, gradient_shap, integrated_gradients, occlusion, smoothgrad
from model.explain.baselines import make_baseline
from model.explain.captum_common import logits_forward
from model.explain.heatmap import Heatmap, heatmap_from_raw
from model.explain.state import gradients_enabled, patch_grid_of, patch_size_of

# Captum draws GradientShap / NoiseTunnel noise from the global RNG: seed it so runs repeat.
LIBRARY_SEED = 0


def _heat(raw: torch.Tensor, x: torch.Tensor, method: str, target: int, grid: str, params: dict) -> Heatmap:
    return heatmap_from_raw(
        raw.detach().to(torch.float64).numpy(),
        grid=grid,
        method=method,
        target=target,
        input_size=tuple(x.shape[-2:]),
        params=params,
    )


def captum_ig(model: ViTForImageClassification, x: torch.Tensor, target: int) -> Heatmap:
    """Captum ``IntegratedGradients`` defaults: 50 steps in ONE batch (no internal batching)."""
    base = make_baseline(x, "min", patch_size_of(model))
    with gradients_enabled():
        attr = IntegratedGradients(logits_forward(model)).attribute(x, baselines=base, target=target)
    return _heat(attr[0].sum(0), x, integrated_gradients.NAME, target, "input", {"n_steps": 50})


def captum_gradient_shap(model: ViTForImageClassification, x: torch.Tensor, target: int) -> Heatmap:
    """Captum ``GradientShap`` defaults: 5 draws, no input noise (``stdevs=0``), the project's baselines."""
    p = patch_size_of(model)
    bases = torch.cat([make_baseline(x, k, p) for k in gradient_shap.BASELINE_SETS["min_blur"]])
    torch.manual_seed(LIBRARY_SEED)
    with gradients_enabled():
        attr = GradientShap(logits_forward(model)).attribute(x, baselines=bases, target=target)
    return _heat(attr[0].sum(0), x, gradient_shap.NAME, target, "input", {"n_samples": 5, "stdevs": 0.0})


def captum_smoothgrad(model: ViTForImageClassification, x: torch.Tensor, target: int) -> Heatmap:
    """Captum ``NoiseTunnel(Saliency)`` defaults: 5 noisy copies, sigma 1.0 (normalised units), one batch."""
    torch.manual_seed(LIBRARY_SEED)
    with gradients_enabled():
        attr = NoiseTunnel(Saliency(logits_forward(model))).attribute(x, nt_type="smoothgrad", target=target)
    return _heat(attr[0].sum(0), x, smoothgrad.NAME, target, "input", {"nt_samples": 5, "stdevs": 1.0})


def library_occlusion_stride(model: ViTForImageClassification) -> int:
    """The sliding window's stride: half a patch (8 px for 16 px patches)."""
    return max(1, patch_size_of(model) // 2)


def captum_occlusion(model: ViTForImageClassification, x: torch.Tensor, target: int) -> Heatmap:
    """Captum ``Occlusion`` with a patch-sized window sliding at half a patch, one window per forward pass."""
    p = patch_size_of(model)
    stride = library_occlusion_stride(model)
    with torch.no_grad():
        attr = Occlusion(logits_forward(model)).attribute(
            x,
            sliding_window_shapes=(3, p, p),
            strides=(3, stride, stride),
            target=target,
            baselines=make_baseline(x, "min", p),
        )
    return _heat(attr[0, 0], x, occlusion.NAME, target, "input", {"window": p, "stride": stride})


def hooked_gradcam(model: ViTForImageClassification, x: torch.Tensor, target: int) -> Heatmap:
    """The pytorch-grad-cam ViT recipe: a forward hook on ``layers[-1].layernorm_before`` during a full
    forward pass with autograd on, then the gradient of the logit there (hook removed in ``finally``)."""
    captured: list[torch.Tensor] = []
    layer = model.vit.layers[-1].layernorm_before
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with gradients_enabled():
            logits = model(pixel_values=x).logits
            (grad,) = torch.autograd.grad(logits[0, target], captured[-1])
    finally:
        handle.remove()
    acts, grads = captured[-1].detach()[0, 1:], grad[0, 1:]  # (P, D) without CLS
    cam = (acts * grads.mean(dim=0)).sum(dim=-1).reshape(patch_grid_of(model, x))
    return _heat(cam, x, gradcam.NAME, target, "patch", {"layer": "layers[-1].layernorm_before (hook)"})
