"""Model-parameter randomisation sanity check (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

If an explanation reflects what the model learned, it must change when the learned weights are destroyed.
Weights are re-initialised in a cascade from the top (classifier and final layer norm, then encoder layers
from last to first, then the embeddings), always on a ``copy.deepcopy`` of the model, never the shared one.
At each stage the map of the randomised copy is compared with the trained model's map by Spearman rank
correlation. A method **fails** when the map of the fully randomised model still ranks the scan's regions
like the trained one (correlation >= ``SANITY_MAX_SPEARMAN``): it then shows the input (edges, bright
areas) more than the model. Passing is necessary, not sufficient: a map of pure noise passes too, which is
why faithfulness is measured separately.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.stats import spearmanr
from torch import nn
from transformers import ViTForImageClassification

from model.explain.heatmap import Heatmap

# Adebayo et al. judge by eye and by rank correlation; below 0.5 the randomised map shares less than a
# quarter of its rank variance with the trained one (rho^2 < 0.25), i.e. it has mostly changed. Edge-detector
# maps stay near 0.6-0.9 after full randomisation, model-dependent ones drop toward 0.
SANITY_MAX_SPEARMAN = 0.5
# The model's own initialiser scale (ViTConfig.initializer_range) is used; this is the fallback.
DEFAULT_INIT_STD = 0.02


def cascade_blocks(model: ViTForImageClassification) -> list[tuple[str, list[nn.Module]]]:
    """The randomisation cascade, top first: classifier (+ final norm), layer L-1 ... layer 0, embeddings."""
    layers = list(model.vit.layers)
    blocks: list[tuple[str, list[nn.Module]]] = [("classifier", [model.classifier, model.vit.layernorm])]
    blocks += [(f"layer {i}", [layers[i]]) for i in range(len(layers) - 1, -1, -1)]
    blocks.append(("embeddings", [model.vit.embeddings]))
    return blocks


def default_stages(n_blocks: int) -> tuple[int, ...]:
    """Stages (number of cascade blocks randomised) checked by default: classifier, +last layer, half, all."""
    return tuple(sorted({1, min(2, n_blocks), max(1, 1 + (n_blocks - 2) // 2), n_blocks}))


def _reinitialise(modules: Sequence[nn.Module], generator: torch.Generator, std: float) -> None:
    with torch.no_grad():
        for module in modules:
            for sub in module.modules():
                for name, param in sub.named_parameters(recurse=False):
                    if isinstance(sub, nn.LayerNorm):
                        param.fill_(1.0 if name == "weight" else 0.0)
                    elif name == "bias":
                        param.zero_()
                    else:
                        nn.init.trunc_normal_(param, std=std, generator=generator)


def randomised_copy(
    model: ViTForImageClassification, n_blocks: int, seed: int = 0
) -> ViTForImageClassification:
    """A deep copy of ``model`` with the top ``n_blocks`` of :func:`cascade_blocks` re-initialised.

    Args:
        model: trained model (not modified).
        n_blocks: how many cascade blocks to randomise (1 = classifier only).
        seed: seed of the private generator (same seed, same random weights).

    Returns:
        The randomised copy, in eval mode.
    """
    clone = copy.deepcopy(model).eval()
    blocks = cascade_blocks(clone)
    if not 1 <= n_blocks <= len(blocks):
        raise ValueError(f"n_blocks must be in 1..{len(blocks)}, got {n_blocks}.")
    gen = torch.Generator().manual_seed(int(seed))
    std = float(getattr(clone.config, "initializer_range", DEFAULT_INIT_STD))
    for _, modules in blocks[:n_blocks]:
        _reinitialise(modules, gen, std)
    return clone


def randomised_models(
    model: ViTForImageClassification, stages: Sequence[int] | None = None, seed: int = 0
) -> list[tuple[str, ViTForImageClassification]]:
    """One randomised copy per stage of the cascade (Adebayo et al. 2018, Sanity Checks for Saliency Maps).

    Args:
        model: trained model (not modified).
        stages: numbers of :func:`cascade_blocks` to re-initialise, one copy each; :func:`default_stages`
            when None or empty.
        seed: seed of the re-initialisation (the same copies every call).

    Returns:
        (label, copy) pairs, labelled by the lowest block randomised (e.g. ``"up to layer 6"``).

    Raises:
        ValueError: a stage outside ``1..len(cascade_blocks(model))``.
    """
    blocks = cascade_blocks(model)
    stages = stages or default_stages(len(blocks))
    return [(f"up to {blocks[n - 1][0]}", randomised_copy(model, n, seed)) for n in stages]


def rank_correlation(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    """Spearman rank correlation of two maps (the sanity check's similarity score).

    Args:
        a: map of any shape, any float dtype (flattened).
        b: map with as many values as ``a``.

    Returns:
        Correlation in [-1, 1]; 1.0 if both maps are constant, 0.0 if only one is.

    Raises:
        ValueError: the maps hold different numbers of values.
    """
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Maps differ in shape: {a.shape} vs {b.shape}.")
    const_a, const_b = np.ptp(a) == 0, np.ptp(b) == 0
    if const_a or const_b:
        return 1.0 if const_a and const_b else 0.0
    return float(spearmanr(a, b).statistic)


@dataclass(frozen=True)
class SanityResult:
    """Rank correlation between the trained model's map and each randomised copy's map."""

    stages: tuple[str, ...]
    correlations: tuple[float, ...]
    threshold: float = SANITY_MAX_SPEARMAN

    @property
    def final(self) -> float:
        """Correlation at the last (most randomised) stage."""
        return self.correlations[-1]

    @property
    def passed(self) -> bool:
        """The map changed enough once the model was randomised (see :data:`SANITY_MAX_SPEARMAN`)."""
        return self.final < self.threshold


def parameter_randomisation(
    explain: Callable[..., Heatmap],
    model: ViTForImageClassification,
    pixel_values: torch.Tensor,
    target: int,
    params: Mapping[str, Any] | None = None,
    *,
    copies: Sequence[tuple[str, ViTForImageClassification]] | None = None,
    reference: Heatmap | None = None,
    seed: int = 0,
) -> SanityResult:
    """Run the cascading randomisation check for one method on one scan.

    Args:
        explain: a method's ``explain`` function.
        model: the trained model (never modified).
        pixel_values: (1, 3, S, S) float32 model input.
        target: class index explained.
        params: method parameters (same for every model).
        copies: precomputed :func:`randomised_models` (reuse them across scans); made here when None.
        reference: the trained model's map, when already computed (saves one explanation).
        seed: randomisation seed when ``copies`` is None.

    Returns:
        :class:`SanityResult`.
    """
    params = dict(params or {})
    ref = reference if reference is not None else explain(model, pixel_values, target, **params)
    copies = copies if copies is not None else randomised_models(model, seed=seed)
    corrs = [
        rank_correlation(ref.values, explain(m, pixel_values, target, **params).values) for _, m in copies
    ]
    return SanityResult(tuple(label for label, _ in copies), tuple(corrs))
