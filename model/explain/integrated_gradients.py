"""Integrated Gradients (Sundararajan, Taly & Yan 2017), via ``captum.attr.IntegratedGradients``.

IG integrates the gradient of the target logit along the straight path from a baseline image to the scan
and multiplies by (scan - baseline). Its attributions add up to ``f(scan) - f(baseline)`` ("completeness");
the gap left by the finite number of steps is the **convergence delta**, returned in
``extras["convergence_delta"]`` (and relative to the logit change in ``extras["relative_delta"]``): a large
relative delta means ``n_steps`` is too small for this scan.
"""

from __future__ import annotations

import torch
from captum.attr import IntegratedGradients
from transformers import ViTForImageClassification

from model.explain.baselines import make_baseline
from model.explain.captum_common import logits_forward, target_logits
from model.explain.heatmap import Heatmap, heatmap_from_raw
from model.explain.state import gradients_enabled, patch_size_of, prepare_input, resolve_params

NAME = "integrated_gradients"
DEFAULTS: dict[str, object] = {
    "n_steps": 16,
    "baseline": "min",
    "integration": "gausslegendre",
    "internal_batch_size": 8,
    "sign": "positive",
}
PARAM_HELP = {
    "n_steps": "Points on the path from baseline to scan. More = smaller convergence delta, linearly slower "
    "(16 takes ~11 s for ViT-Base on 2 CPU cores).",
    "baseline": "The 'absence of signal' the path starts from: min (black background), mean, zero or blur.",
    "integration": "Quadrature rule: gausslegendre (accurate with few steps) or riemann_trapezoid etc.",
    "internal_batch_size": "Path points per forward/backward pass (memory vs speed; same result).",
    "sign": "positive: show evidence for the class; absolute: show magnitude in either direction.",
}
# Below this logit change the relative delta is meaningless (dividing by ~0); report the absolute delta only.
MIN_LOGIT_CHANGE = 1e-6


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """Integrated-Gradients map for one scan (channels summed).

    Args:
        model: ViT classifier (not modified; gradients w.r.t. inputs only).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        target: class index to explain.
        **params: see :data:`PARAM_HELP`.

    Returns:
        Input-grid :class:`Heatmap`; ``raw_stats["raw_sum"]`` ~ ``f(x) - f(baseline)``; extras hold
        ``convergence_delta``, ``relative_delta``, ``logit``, ``baseline_logit``.
    """
    used = resolve_params(NAME, DEFAULTS, params)
    x = prepare_input(model, pixel_values, target)
    base = make_baseline(x, str(used["baseline"]), patch_size_of(model))
    ig = IntegratedGradients(logits_forward(model))
    with gradients_enabled():
        attr, delta = ig.attribute(
            x,
            baselines=base,
            target=target,
            n_steps=int(used["n_steps"]),
            method=str(used["integration"]),
            internal_batch_size=int(used["internal_batch_size"]),
            return_convergence_delta=True,
        )
    fx, fb = (float(v) for v in target_logits(model, torch.cat([x, base]), target))
    change = fx - fb
    extras = {
        "convergence_delta": float(delta.reshape(-1)[0]),
        "relative_delta": abs(float(delta.reshape(-1)[0])) / abs(change)
        if abs(change) > MIN_LOGIT_CHANGE
        else None,
        "logit": fx,
        "baseline_logit": fb,
    }
    raw = attr.detach()[0].sum(dim=0).to(torch.float64).numpy()  # (S, S)
    return heatmap_from_raw(
        raw,
        grid="input",
        method=NAME,
        target=target,
        input_size=tuple(x.shape[-2:]),
        params=used,
        extras=extras,
        sign=str(used["sign"]),
    )
