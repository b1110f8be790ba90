"""How much to trust a map: faithfulness (deletion/insertion) and localisation (pointing game, mask share).

Faithfulness (Petsiuk, Das & Saenko 2018, RISE): remove the scan's patches in order of relevance and watch
the class probability. A faithful map names the patches the model needs first, so the **deletion** curve
falls fast (low area under the curve) and the **insertion** curve (start from a blurred scan, put patches
back in order of relevance) rises fast (high area). Patches are the unit: a ViT sees patches, and a
14x14 ranking needs only 2 x (steps + 1) forward passes, batched. Deleted patches are replaced by the scan's
mean value (``DELETION_BASELINE``); insertion starts from the blurred scan (``INSERTION_BASELINE``).

Localisation (masks are rough, so tolerant scores): the **pointing game** (Zhang et al. 2018) asks whether
the map's peak falls inside the tumour mask dilated by ``POINTING_TOLERANCE_FRACTION`` of the crop side;
**mask share** is the share of relevance inside the (undilated) mask, to be compared with the mask's share
of the area the model saw (what a uniform map would get).

Model-parameter randomisation (the third check) is in :mod:`model.explain.sanity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.ndimage import distance_transform_edt
from transformers import ViTForImageClassification

from model.explain.baselines import make_baseline
from model.explain.heatmap import Heatmap
from model.explain.pause import GATE
from model.explain.state import patch_grid_of, patch_size_of, prepare_input
from model.preprocess import Geometry

DELETION_BASELINE = "mean"
INSERTION_BASELINE = "blur"
# Points per curve. 28 steps of 7 patches on ViT-Base's 196-patch grid: 58 forward passes per map instead
# of 394 at one patch per step, with an AUC within ~0.01 of the full curve (the curves are smooth).
DEFAULT_STEPS = 28
# Ties in the ranking (e.g. zero relevance) are broken in a fixed random order, not raster order.
TIE_BREAK_SEED = 12345
# Zhang et al. 2018 ("Top-down neural attention by excitation backprop") count a hit within 15 px on a
# 224 px input; the same share of the crop side here, so the tolerance scales with the scan.
POINTING_TOLERANCE_FRACTION = 15 / 224


@dataclass(frozen=True)
class FaithfulnessCurves:
    """Deletion and insertion curves of one map.

    Attributes:
        fractions: (n+1,) share of patches removed / inserted, 0..1.
        deletion: (n+1,) target-class probability as the most relevant patches are removed.
        insertion: (n+1,) target-class probability as patches are inserted into the blurred scan.
        deletion_auc: area under ``deletion`` (lower = more faithful), in [0, 1].
        insertion_auc: area under ``insertion`` (higher = more faithful), in [0, 1].
        target: class index whose probability is tracked.
    """

    fractions: NDArray[np.float64]
    deletion: NDArray[np.float64]
    insertion: NDArray[np.float64]
    deletion_auc: float
    insertion_auc: float
    target: int


def patch_ranking(relevance: Heatmap | NDArray[np.floating], patch_size: int) -> NDArray[np.int64]:
    """Patch indices (raster order of the patch grid) from most to least relevant.

    Args:
        relevance: a :class:`Heatmap`, or a (rows, cols) array already on the patch grid.
        patch_size: the model's patch side (to pool input-grid maps).

    Returns:
        (P,) int64 permutation of ``range(P)``; ties in a fixed pseudo-random order.
    """
    grid = relevance.on_patch_grid(patch_size) if isinstance(relevance, Heatmap) else np.asarray(relevance)
    flat = grid.astype(np.float64).ravel()
    tie_break = np.random.default_rng(TIE_BREAK_SEED).permutation(flat.size)
    return np.lexsort((tie_break, -flat)).astype(np.int64)


def step_masks(order: NDArray[np.int64], n_steps: int) -> NDArray[np.bool_]:
    """Which patches are taken (deleted or inserted) after each step of a curve.

    Args:
        order: (P,) int64 patch indices, most relevant first (see :func:`patch_ranking`).
        n_steps: number of steps (>= 1); step k takes the first ``round(k * P / n_steps)`` patches.

    Returns:
        (n_steps + 1, P) bool; row 0 is all False, the last row all True.
    """
    p = order.size
    counts = np.round(np.linspace(0, p, n_steps + 1)).astype(int)
    masks = np.zeros((n_steps + 1, p), dtype=bool)
    for k, c in enumerate(counts):
        masks[k, order[:c]] = True
    return masks


def _probabilities(
    model: ViTForImageClassification, images: torch.Tensor, target: int, batch_size: int
) -> NDArray[np.float64]:
    out = []
    with torch.no_grad():
        for chunk in images.split(batch_size):
            GATE.checkpoint()
            out.append(model(pixel_values=chunk).logits.softmax(dim=-1)[:, target].double())
    return torch.cat(out).numpy()


def deletion_insertion(
    model: ViTForImageClassification,
    pixel_values: torch.Tensor,
    relevance: Heatmap | NDArray[np.floating],
    target: int,
    *,
    n_steps: int = DEFAULT_STEPS,
    batch_size: int = 16,
) -> FaithfulnessCurves:
    """Deletion and insertion curves and their areas for one map (Petsiuk et al. 2018), batched.

    Args:
        model: ViT classifier (forward passes only).
        pixel_values: (1, 3, S, S) float32 model input (not modified).
        relevance: the map to test (:class:`Heatmap` or a patch-grid array used only for its ranking).
        target: class whose probability is tracked (normally the explained class).
        n_steps: points per curve after the start (<= number of patches).
        batch_size: images per forward pass.

    Returns:
        :class:`FaithfulnessCurves`.
    """
    x = prepare_input(model, pixel_values, target)
    p = patch_size_of(model)
    rows, cols = patch_grid_of(model, x)
    n_steps = int(min(max(n_steps, 1), rows * cols))
    masks = torch.from_numpy(step_masks(patch_ranking(relevance, p), n_steps))  # (n+1, P)
    pixel = masks.reshape(-1, 1, rows, cols).repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
    deleted = torch.where(pixel, make_baseline(x, DELETION_BASELINE, p), x)  # (n+1, 3, S, S)
    inserted = torch.where(pixel, x, make_baseline(x, INSERTION_BASELINE, p))
    probs = _probabilities(model, torch.cat([deleted, inserted]), target, batch_size)
    fractions = masks.sum(dim=1).double().numpy() / masks.shape[1]
    dele, ins = probs[: n_steps + 1], probs[n_steps + 1 :]
    return FaithfulnessCurves(
        fractions,
        dele,
        ins,
        float(np.trapezoid(dele, fractions)),
        float(np.trapezoid(ins, fractions)),
        int(target),
    )


@dataclass(frozen=True)
class LocalisationScores:
    """How well one map points at a tumour mask (on the original scan's pixels).

    Attributes:
        hit: the map's peak lies inside the dilated mask (pointing game); False for an empty map.
        mask_share: share of the map's relevance inside the (undilated) mask, in [0, 1].
        area_share: the mask's share of the crop the model saw (what a uniform map would score).
        peak: (row, col) of the peak in original pixels, or None for an empty map.
        tolerance_px: dilation radius used for the pointing game, in original pixels.
        chance: share of the crop inside the dilated mask: the hit rate of a peak placed at random.
    """

    hit: bool
    mask_share: float
    area_share: float
    peak: tuple[int, int] | None
    tolerance_px: float
    chance: float

    @property
    def concentration(self) -> float:
        """``mask_share / area_share``: 1 = no better than uniform, higher = concentrated on the mask."""
        return self.mask_share / self.area_share if self.area_share > 0 else float("nan")


def pointing_tolerance_px(geometry: Geometry) -> float:
    """Pointing-game dilation radius in original pixels (``POINTING_TOLERANCE_FRACTION`` of the crop side)."""
    top, left, bottom, right = geometry.crop_box
    return POINTING_TOLERANCE_FRACTION * 0.5 * ((bottom - top) + (right - left))


def localisation(heatmap: Heatmap, geometry: Geometry, mask: NDArray[np.bool_]) -> LocalisationScores:
    """Pointing game and mask share of one map against a tumour mask.

    Args:
        heatmap: the map (any grid).
        geometry: preprocessing geometry of the scan (maps the map to original pixels).
        mask: (H, W) bool tumour mask of the original scan.

    Returns:
        :class:`LocalisationScores`.

    Raises:
        ValueError: the mask's shape is not the scan's original size.
    """
    if mask.shape != tuple(geometry.original_size):
        raise ValueError(
            f"Mask shape {mask.shape} != scan size {geometry.original_size}; wrong mask for this scan."
        )
    top, left, bottom, right = geometry.crop_box
    area_share = float(mask[top:bottom, left:right].mean())
    tolerance = pointing_tolerance_px(geometry)
    dilated = distance_transform_edt(~mask) <= tolerance if mask.any() else mask
    chance = float(dilated[top:bottom, left:right].mean())
    if heatmap.is_empty:
        return LocalisationScores(False, 0.0, area_share, None, tolerance, chance)
    # Peak on the smooth map (a patch's peak is its centre, not its top-left pixel); shares on the blocky
    # map (bilinear upsampling would move a coarse map's relevance into neighbouring patches).
    smooth = heatmap.on_original(geometry, smooth=True)  # (H, W), 0 outside the crop
    r, c = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    blocks = heatmap.on_original(geometry, smooth=False).astype(np.float64)
    share = float(blocks[mask].sum() / blocks.sum())
    return LocalisationScores(bool(dilated[r, c]), share, area_share, (int(r), int(c)), tolerance, chance)
