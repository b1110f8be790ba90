"""Reference images ("baselines") for path attributions, occlusion and deletion/insertion curves.

All baselines are built in the model's normalised input space from the scan itself, so they need no
knowledge of the preprocessing mean/std:

- ``min``: every pixel set to the scan's darkest value per channel, i.e. the black background of an MRI
  ("no anatomy here"). The default for Integrated Gradients and occlusion.
- ``mean``: every pixel set to the scan's mean value per channel (removes the content, keeps the brightness).
- ``zero``: 0 in normalised space (the normalisation mean, mid-grey with the default 0.5/0.5 settings).
- ``blur``: the scan blurred with a Gaussian of sigma = ``BLUR_SIGMA_PATCHES`` patches, which removes
  patch-scale detail (a tumour) but keeps the overall head shape (Petsiuk et al. 2018 use a blurred image as
  the start of insertion curves, so inserting a patch adds detail rather than an out-of-distribution edge).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BASELINES = ("min", "mean", "zero", "blur")
# One patch (16 px at 224) of blur: structures smaller than a patch (most tumours here: median 4 % of the
# image area, ~2-3 patches across) are washed out, the skull outline survives.
BLUR_SIGMA_PATCHES = 1.0
# Kernel half-width in sigmas; 3 sigmas hold 99.7 % of the Gaussian's mass.
BLUR_TRUNCATE = 3.0


def _gaussian_kernel(sigma: float, radius: int, dtype: torch.dtype) -> torch.Tensor:
    xs = torch.arange(-radius, radius + 1, dtype=dtype)
    k = torch.exp(-0.5 * (xs / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, reflect-padded (the ``blur`` baseline).

    Args:
        x: (B, C, H, W) float tensor, any range; not modified.
        sigma: standard deviation of the Gaussian in pixels (> 0); the kernel reaches ``BLUR_TRUNCATE``
            sigmas, shortened (and renormalised) where the image is smaller than that.

    Returns:
        (B, C, H, W) new tensor of ``x``'s dtype.
    """
    # Reflect padding needs pad < side, so tiny inputs get a truncated (renormalised) kernel.
    r = min(max(1, int(BLUR_TRUNCATE * sigma + 0.5)), x.shape[-1] - 1, x.shape[-2] - 1)
    k = _gaussian_kernel(sigma, r, x.dtype)
    c = x.shape[1]
    y = F.pad(x, (r, r, 0, 0), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, r, r), mode="reflect")
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def make_baseline(x: torch.Tensor, kind: str, patch_size: int) -> torch.Tensor:
    """Build a baseline for ``x``.

    Args:
        x: (B, 3, S, S) normalised model input; not modified.
        kind: one of :data:`BASELINES` (see the module docstring).
        patch_size: the model's patch side in pixels (sets the blur scale).

    Returns:
        (B, 3, S, S) tensor of ``x``'s dtype, detached.

    Raises:
        ValueError: ``kind`` is not one of :data:`BASELINES`.
    """
    x = x.detach()
    if kind == "min":
        return x.amin(dim=(-2, -1), keepdim=True).expand_as(x).clone()
    if kind == "mean":
        return x.mean(dim=(-2, -1), keepdim=True).expand_as(x).clone()
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "blur":
        with torch.no_grad():
            return gaussian_blur(x, BLUR_SIGMA_PATCHES * patch_size)
    raise ValueError(f"Unknown baseline {kind!r}; choose one of {BASELINES}.")
