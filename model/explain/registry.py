"""The one registry of explanation methods (feeds the dashboard's method selectbox and the Learn page).

Each method module declares its own entry (``EXPLAINER``, an :class:`~model.explain.explainer.Explainer`);
this module collects them in the order of :data:`METHOD_MODULES`.

Every method has the same signature, ``explain(model, pixel_values, target, **params) -> Heatmap``, and
none of them registers hooks, touches ``param.grad``, switches train mode or edits the config of the shared
model. :func:`safe_explain` runs a method and proves that: it snapshots the model's state and verifies it
afterwards, also when the method fails.

Example::

    >>> from model.data.scan import load_scan
    >>> from model.explain.registry import EXPLAINERS, safe_explain
    >>> from model.loading import load_classifier
    >>> from model.preprocess import preprocess
    >>> classifier = load_classifier("artifacts/model")
    >>> image = load_scan("../shared/data/brain_tumor_dataset/yes/Y1.jpg").image
    >>> pixel_values, _ = preprocess(image, classifier.preprocess)
    >>> heat = EXPLAINERS["gradcam"].explain(classifier.model, pixel_values[None], target=1)
    >>> heat = safe_explain("gradcam", classifier.model, pixel_values[None], 1)  # also checks the model
    >>> heat.grid, heat.values.shape, round(float(heat.values.sum()), 3)
    ('patch', (16, 16), 1.0)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import torch
from transformers import ViTForImageClassification

from model.explain.explainer import SPEEDS, Explainer, ExplainFn
from model.explain.heatmap import Heatmap
from model.explain.state import snapshot, verify

__all__ = [
    "EXPLAINERS",
    "METHOD_MODULES",
    "SPEEDS",
    "ExplainFn",
    "Explainer",
    "get_explainer",
    "safe_explain",
]

# The method modules in selectbox order; each declares its own ``EXPLAINER``. A new method is one line here.
METHOD_MODULES = (
    "rollout",
    "gradient_rollout",
    "gradcam",
    "integrated_gradients",
    "gradient_shap",
    "smoothgrad",
    "occlusion",
)

EXPLAINERS: dict[str, Explainer] = {
    e.name: e for e in (import_module(f"model.explain.{m}").EXPLAINER for m in METHOD_MODULES)
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
