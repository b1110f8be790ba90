"""Occlusion (Zeiler & Fergus 2014), via ``captum.attr.Occlusion``.

Slide a window over the scan, replace it with the baseline, and record how much the target logit drops.
By default the window and stride equal the model's patch size, so each window is exactly one ViT patch
(196 forward passes for ViT-Base at 224 px, ~64 s on 2 CPU cores) and the map is on the patch grid.
A positive value means hiding that region lowers the class score (evidence for the class).
"""

from __future__ import annotations

import torch
from captum.attr import Occlusion
from transformers import ViTForImageClassification

from model.explain.baselines import make_baseline
from model.explain.captum_common import logits_forward
from model.explain.heatmap import Heatmap, heatmap_from_raw
from model.explain.state import patch_size_of, prepare_input, resolve_params

NAME = "occlusion"
DEFAULTS: dict[str, object] = {
    "window": None,
    "stride": None,
    "baseline": "min",
    "perturbations_per_eval": 16,
}
PARAM_HELP = {
    "window": "Side of the square hidden at a time, in pixels (None = one ViT patch).",
    "stride": "Step between windows in pixels (None = window, i.e. no overlap). Smaller = finer, "
    "much slower.",
    "baseline": "What hides the window: min (black background), mean, zero or blur.",
    "perturbations_per_eval": "Occluded copies per forward pass (memory vs speed; same result).",
}


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """Occlusion map for one scan.

    Args:
        model: ViT classifier (not modified; forward passes only).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        target: class index to explain.
        **params: see :data:`PARAM_HELP`.

    Returns:
        Patch-grid :class:`Heatmap` when window = stride = patch size, else input-grid (pixels covered
        by several windows get their mean drop; pixels no window reaches get 0).
    """
    used = resolve_params(NAME, DEFAULTS, params)
    p = patch_size_of(model)
    window = int(used["window"] or p)
    stride = int(used["stride"] or window)
    used = {**used, "window": window, "stride": stride}
    x = prepare_input(model, pixel_values, target)
    s0, s1 = x.shape[-2:]
    if not (0 < window <= min(s0, s1) and 0 < stride):
        raise ValueError(f"window must be in 1..{min(s0, s1)} and stride >= 1; got {window}, {stride}.")
    base = make_baseline(x, str(used["baseline"]), p)
    with torch.no_grad():
        attr = Occlusion(logits_forward(model)).attribute(
            x,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=base,
            target=target,
            perturbations_per_eval=int(used["perturbations_per_eval"]),
        )
    per_pixel = attr.detach()[0, 0].to(torch.float64)  # windows span all channels: channels are equal
    if window == stride == p and s0 % p == 0 and s1 % p == 0:
        raw = per_pixel.reshape(s0 // p, p, s1 // p, p).mean(dim=(1, 3)).numpy()
        grid = "patch"
    else:
        raw, grid = per_pixel.numpy(), "input"
    return heatmap_from_raw(
        raw, grid=grid, method=NAME, target=target, input_size=(int(s0), int(s1)), params=used, extras={}
    )
