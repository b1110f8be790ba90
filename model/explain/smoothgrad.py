"""Saliency with SmoothGrad (Simonyan et al. 2014; Smilkov et al. 2017), as ``NoiseTunnel(Saliency)``.

Saliency is the magnitude of the gradient of the target logit with respect to each pixel: how much a tiny
change there would move the score. Raw gradients are noisy; SmoothGrad averages ``|gradient|`` over
``n_samples`` copies of the scan with Gaussian noise added (sigma = ``noise_level`` x the scan's value
range, the paper's 10-20 %). With ``n_samples=1, noise_level=0`` it is plain Saliency.

Same as Captum's ``NoiseTunnel(Saliency(f)).attribute(x, nt_type="smoothgrad")`` except that the noise comes
from a private seeded generator (reproducible, thread-safe) instead of the global RNG.
"""

from __future__ import annotations

import torch
from transformers import ViTForImageClassification

from model.explain.captum_common import input_gradients, seeded_generator
from model.explain.explainer import Explainer, at_least_one, method_heatmap
from model.explain.heatmap import Heatmap
from model.explain.state import prepare_input, resolve_params

NAME = "smoothgrad"
DEFAULTS: dict[str, object] = {"n_samples": 8, "noise_level": 0.15, "seed": 0, "internal_batch_size": 8}
PARAM_HELP = {
    "n_samples": "Noisy copies averaged (1 = plain Saliency). More = smoother, linearly slower.",
    "noise_level": "Noise sigma as a share of the scan's value range (Smilkov et al. suggest 0.1-0.2).",
    "seed": "Seed of the private random generator (same seed, same map).",
    "internal_batch_size": "Noisy copies per forward/backward pass (memory vs speed; same result).",
}


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """SmoothGrad saliency map for one scan (|gradient| summed over channels).

    Args:
        model: ViT classifier (not modified; gradients w.r.t. inputs only).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        target: class index to explain.
        **params: see :data:`PARAM_HELP`.

    Returns:
        Input-grid :class:`Heatmap` (gradient magnitudes are nonnegative, so no sign choice).
    """
    used = resolve_params(NAME, DEFAULTS, params)
    n = at_least_one(used, "n_samples")
    x = prepare_input(model, pixel_values, target)
    sigma = float(used["noise_level"]) * float(x.max() - x.min())
    gen = seeded_generator(int(used["seed"]))
    noisy = x + sigma * torch.randn((n, *x.shape[1:]), generator=gen, dtype=x.dtype)  # (n, 3, S, S)
    grads = input_gradients(model, noisy, target, int(used["internal_batch_size"]), absolute=True)
    raw = grads.mean(dim=0).sum(dim=0).to(torch.float64).numpy()  # (S, S)
    return method_heatmap(raw, NAME, target, used, x.shape[-2:], grid="input", extras={"noise_sigma": sigma})


EXPLAINER = Explainer(
    NAME,
    "Saliency (SmoothGrad)",
    explain,
    DEFAULTS,
    PARAM_HELP,
    "How sensitive the class score is to each pixel, averaged over noisy copies. Sensitivity is "
    "not evidence: it often traces edges whatever the model learned.",
    "slow",
    reference="Smilkov et al. 2017, SmoothGrad",
)
