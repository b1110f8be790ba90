"""Explain one decoded scan: a registered method's map, its faithfulness, per-layer attention for teaching.

Maps travel as :class:`~model.explain.heatmap.Heatmap` itself: it pickles (``Heatmap.__reduce__``), so the
dashboard keeps them in ``st.cache_data``.

Example::

    >>> from model.loading import load_classifier
    >>> classifier = load_classifier("artifacts/model")
    >>> from model.data.scan import load_scan
    >>> image = load_scan("../shared/data/brain_tumor_dataset/yes/Y1.jpg").image
    >>> from model.explain.single import explain_image, score_faithfulness
    >>> from model.labels import positive_index
    >>> heat = explain_image(classifier, image, "gradient_rollout", positive_index(classifier.labels))
    >>> curves = score_faithfulness(classifier, image, heat)
    >>> curves.deletion_auc < curves.insertion_auc
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image

from model.explain import rollout
from model.explain.heatmap import Heatmap
from model.explain.quality import FaithfulnessCurves, deletion_insertion
from model.explain.registry import safe_explain
from model.loading import Classifier
from model.preprocess import Geometry, preprocess


def explain_image(
    classifier: Classifier, image: Image.Image, method: str, target: int, params: dict[str, Any] | None = None
) -> Heatmap:
    """Explain one decoded scan with a registered method (see :mod:`model.explain.registry`).

    Args:
        classifier: the shared model (:func:`~model.explain.registry.safe_explain` verifies it is unchanged).
        image: decoded scan.
        method: registry key, e.g. ``"gradient_rollout"``.
        target: class index to explain.
        params: method parameters (defaults for the rest).

    Returns:
        The (picklable) :class:`~model.explain.heatmap.Heatmap`.

    Raises:
        KeyError: unknown method.
        ValueError: bad target or parameter.
        ModelStateError: the method changed the shared model.
    """
    pixel_values, _ = preprocess(image, classifier.preprocess)
    return safe_explain(method, classifier.model, pixel_values[None], int(target), **(params or {}))


def score_faithfulness(classifier: Classifier, image: Image.Image, heat: Heatmap) -> FaithfulnessCurves:
    """Deletion / insertion curves of a map on its scan, tracking the explained class (Petsiuk et al. 2018).

    Args:
        classifier: the shared model (forward passes only).
        image: the decoded scan the map was made for.
        heat: the map (its ``target`` is the class tracked).

    Returns:
        :class:`~model.explain.quality.FaithfulnessCurves` (``deletion_auc`` lower and ``insertion_auc``
        higher = more faithful).
    """
    pixel_values, _ = preprocess(image, classifier.preprocess)
    return deletion_insertion(classifier.model, pixel_values[None], heat, heat.target)


@dataclass(frozen=True)
class LayerMaps:
    """Per-layer attention of one scan for teaching.

    Attributes:
        heads: (L, heads, rows, cols) float32 raw attention from CLS to each patch, per layer and head.
        rollout: (L, rows, cols) float32 cumulative rollout up to each layer (mean head fusion).
        geometry: maps the patch grid back onto the scan.
    """

    heads: NDArray[np.float32]
    rollout: NDArray[np.float32]
    geometry: Geometry


def layer_maps(classifier: Classifier, image: Image.Image) -> LayerMaps:
    """Raw CLS attention per head and cumulative rollout per layer, from one eager forward pass.

    Args:
        classifier: the shared eager-attention model (forward pass only).
        image: decoded scan (RGB PIL image).

    Returns:
        :class:`LayerMaps` on the classifier's patch grid (mean head fusion, nothing discarded).
    """
    pixel_values, geom = preprocess(image, classifier.preprocess)
    with torch.no_grad():
        out = classifier.model(pixel_values=pixel_values[None], output_attentions=True)
    grid = classifier.patch_grid
    layers = rollout.rollout_layers(out.attentions, grid)
    return LayerMaps(rollout.cls_attention(out.attentions, grid), np.asarray(layers, np.float32), geom)
