"""GradientSHAP (Lundberg & Lee 2017; Erion et al. 2021), as in ``captum.attr.GradientShap``.

For each of ``n_samples`` draws: pick a baseline from a small distribution, add Gaussian noise to the scan,
pick a random point on the straight line between them, take the gradient of the target logit there and
multiply by (noisy scan - baseline). The map is the mean over draws; in expectation it adds up to
``f(scan) - E[f(baseline)]`` (``extras["expected_delta"]`` is the gap for this finite sample).

This is Captum's ``GradientShap`` algorithm step for step, with the random draws taken from a private seeded
generator (Captum's uses the global NumPy/torch RNGs, which is neither reproducible nor thread-safe) and the
gradients from ``captum.attr.Saliency``.
"""

from __future__ import annotations

import torch
from transformers import ViTForImageClassification

from model.explain.baselines import make_baseline
from model.explain.captum_common import input_gradients, seeded_generator, target_logits
from model.explain.explainer import Explainer, at_least_one, method_heatmap
from model.explain.heatmap import Heatmap
from model.explain.state import patch_size_of, prepare_input, resolve_params

NAME = "gradient_shap"
BASELINE_SETS = {"min_blur": ("min", "blur"), "min": ("min",), "blur": ("blur",), "zero": ("zero",)}
DEFAULTS: dict[str, object] = {
    "n_samples": 12,
    "stdev": 0.1,
    "baselines": "min_blur",
    "seed": 0,
    "internal_batch_size": 12,
    "sign": "positive",
}
PARAM_HELP = {
    "n_samples": "Random draws averaged. More = smoother and closer to the expectation, linearly slower.",
    "stdev": "Standard deviation of the Gaussian noise added to the scan, in normalised input units.",
    "baselines": "Baseline distribution: min_blur (black background or blurred scan, 50/50), min, blur "
    "or zero.",
    "seed": "Seed of the private random generator (same seed, same map).",
    "internal_batch_size": "Draws per forward/backward pass (memory vs speed; same result).",
    "sign": "positive: show evidence for the class; absolute: show magnitude in either direction.",
}


def explain(
    model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: object
) -> Heatmap:
    """GradientSHAP map for one scan (channels summed).

    Args:
        model: ViT classifier (not modified; gradients w.r.t. inputs only).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        target: class index to explain.
        **params: see :data:`PARAM_HELP`.

    Returns:
        Input-grid :class:`Heatmap`; extras hold ``expected_delta`` (sum of attributions minus
        ``f(x) - mean f(baselines)``).
    """
    used = resolve_params(NAME, DEFAULTS, params)
    kinds = BASELINE_SETS.get(str(used["baselines"]))
    if kinds is None:
        raise ValueError(f"baselines must be one of {sorted(BASELINE_SETS)}, got {used['baselines']!r}.")
    n = at_least_one(used, "n_samples")
    x = prepare_input(model, pixel_values, target)
    bases = torch.cat([make_baseline(x, k, patch_size_of(model)) for k in kinds])  # (K, 3, S, S)
    gen = seeded_generator(int(used["seed"]))
    pick = torch.randint(len(kinds), (n,), generator=gen)
    noise = torch.randn((n, *x.shape[1:]), generator=gen, dtype=x.dtype) * float(used["stdev"])
    alpha = torch.rand((n, 1, 1, 1), generator=gen, dtype=x.dtype)
    noisy = x + noise  # (n, 3, S, S)
    chosen = bases[pick]
    grads = input_gradients(
        model, chosen + alpha * (noisy - chosen), target, int(used["internal_batch_size"]), absolute=False
    )
    attr = (grads * (noisy - chosen)).mean(dim=0)  # (3, S, S)
    base_logits = target_logits(model, torch.cat([x, bases]), target)  # (1 + K,): one pass, not n
    expected_change = float(base_logits[0] - base_logits[1:][pick].mean())
    raw = attr.sum(dim=0).to(torch.float64).numpy()
    extras = {"expected_delta": float(raw.sum()) - expected_change}
    return method_heatmap(raw, NAME, target, used, x.shape[-2:], grid="input", extras=extras)


EXPLAINER = Explainer(
    NAME,
    "GradientSHAP",
    explain,
    DEFAULTS,
    PARAM_HELP,
    "Averages gradient x (scan - baseline) over random baselines, noise and path points: "
    "an approximation of SHAP values.",
    "slow",
    reference="Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
)
