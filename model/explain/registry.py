"""The one registry of explanation methods (feeds the dashboard's method selectbox and the Learn page).

Every method has the same signature, ``explain(model, pixel_values, target, **params) -> Heatmap``, and
none of them registers hooks, touches ``param.grad``, switches train mode or edits the config of the shared
model. :func:`safe_explain` runs a method and proves that: it snapshots the model's state and verifies it
afterwards, also when the method fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from transformers import ViTForImageClassification

from model.explain import (
    gradcam,
    gradient_rollout,
    gradient_shap,
    integrated_gradients,
    occlusion,
    rollout,
    smoothgrad,
)
from model.explain.heatmap import Heatmap
from model.explain.state import snapshot, verify

ExplainFn = Callable[..., Heatmap]
SPEEDS = ("fast", "slow")


@dataclass(frozen=True)
class Explainer:
    """One explanation method as the dashboard shows it.

    Attributes:
        name: registry key (also ``Heatmap.method``).
        label: short human name for the selectbox.
        explain: ``explain(model, pixel_values, target, **params) -> Heatmap``.
        defaults: default parameters (read-only).
        param_help: one sentence per parameter, for the Learn page.
        description: what the method shows and how far to trust it, for the Learn page.
        speed: ``"fast"`` (about a second for ViT-Base on 2 CPU cores) or ``"slow"`` (tens of seconds).
        class_specific: whether "why tumour" and "why no tumour" give different maps.
    """

    name: str
    label: str
    explain: ExplainFn
    defaults: Mapping[str, Any]
    param_help: Mapping[str, str]
    description: str
    speed: str
    class_specific: bool = True
    reference: str = ""
    extras_help: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}, got {self.speed!r}.")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "param_help", MappingProxyType(dict(self.param_help)))
        object.__setattr__(self, "extras_help", MappingProxyType(dict(self.extras_help)))


def _entry(module: Any, label: str, speed: str, description: str, reference: str, **kw: Any) -> Explainer:
    return Explainer(
        module.NAME,
        label,
        module.explain,
        module.DEFAULTS,
        module.PARAM_HELP,
        description,
        speed,
        reference=reference,
        **kw,
    )


EXPLAINERS: dict[str, Explainer] = {
    e.name: e
    for e in (
        _entry(
            rollout,
            "Attention rollout",
            "fast",
            "Follows how much each patch can flow into the CLS token through all attention layers. Shows "
            "where the model looks, not why: the map is the same for every class.",
            "Abnar & Zuidema 2020, Quantifying Attention Flow in Transformers",
            class_specific=False,
        ),
        _entry(
            gradient_rollout,
            "Gradient-weighted rollout",
            "fast",
            "Attention weighted by how much it raises the chosen class's score, rolled out over layers. "
            "Class-specific: 'why tumour' and 'why no tumour' differ.",
            "Chefer, Gur & Wolf 2021, Generic Attention-model Explainability (ICCV)",
        ),
        _entry(
            gradcam,
            "Grad-CAM (last block)",
            "fast",
            "Features entering the last block, weighted by their average gradient for the class. Coarse "
            "(one value per patch) and cheap.",
            "Selvaraju et al. 2017, Grad-CAM",
        ),
        _entry(
            integrated_gradients,
            "Integrated Gradients",
            "slow",
            "Sums gradients along a path from a black image to the scan; the pixel attributions add up to "
            "the score change (the convergence delta says how well; path points are added until it is "
            "within 5 %, or the page says it is not).",
            "Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep Networks",
            extras_help={
                "convergence_delta": "sum of attributions minus (f(scan) - f(baseline))",
                "steps": "path points used to meet (or try to meet) delta_target",
                "target_met": "whether |convergence delta| <= delta_target x |f(scan) - f(baseline)|",
            },
        ),
        _entry(
            gradient_shap,
            "GradientSHAP",
            "slow",
            "Averages gradient x (scan - baseline) over random baselines, noise and path points: "
            "an approximation of SHAP values.",
            "Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
        ),
        _entry(
            smoothgrad,
            "Saliency (SmoothGrad)",
            "slow",
            "How sensitive the class score is to each pixel, averaged over noisy copies. Sensitivity is "
            "not evidence: it often traces edges whatever the model learned.",
            "Smilkov et al. 2017, SmoothGrad",
        ),
        _entry(
            occlusion,
            "Occlusion",
            "slow",
            "Hides one patch at a time and measures how much the class score drops. Direct and easy to "
            "read, but one forward pass per patch.",
            "Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks",
        ),
    )
}


def get_explainer(name: str) -> Explainer:
    """Look a method up by name; ``KeyError`` lists the valid names."""
    try:
        return EXPLAINERS[name]
    except KeyError:
        raise KeyError(f"Unknown explanation method {name!r}; choose one of {sorted(EXPLAINERS)}.") from None


def safe_explain(
    name: str, model: ViTForImageClassification, pixel_values: torch.Tensor, target: int, **params: Any
) -> Heatmap:
    """Run a registered method and verify the shared model is exactly as before, even if the method fails.

    Args:
        name: registry key (see :data:`EXPLAINERS`).
        model: the shared eager-attention ViT classifier.
        pixel_values: (1, 3, S, S) float32 model input.
        target: class index to explain.
        **params: method parameters (unknown names raise ``ValueError``).

    Returns:
        The :class:`Heatmap`.

    Raises:
        ModelStateError: the method changed the model (hooks, grads, train mode, weights, config).
        ValueError: bad input, target or parameter.
    """
    explainer = get_explainer(name)
    before = snapshot(model)
    try:
        return explainer.explain(model, pixel_values, target, **params)
    finally:
        verify(model, before)
