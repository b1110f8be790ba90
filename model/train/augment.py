"""Training-time image enhancement and augmentation as pure tensor operations (no torchvision).

Every function takes a (B, 3, H, W) float32 batch with pixels in [0, 1] (before normalisation) and an explicit
``torch.Generator``, so a run is reproducible from its seed. Geometry (random resized crop, aspect change,
rotation, shift, flips) is one affine map per image applied with a single ``grid_sample``, so pixels are
interpolated once. Photometric changes (brightness, contrast, gamma, unsharp-mask enhancement, blur, noise,
random erasing) follow. With ``strength == 0`` every step is the identity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from model.train.config import AugmentConfig

BLUR_KERNEL = 5  # taps; covers +-2 sigma for the sigmas used (<= 1 px)
AUTOCONTRAST_LOW, AUTOCONTRAST_HIGH = 0.01, 0.99  # percentiles mapped to 0 and 1 (ignores specks and labels)
AUTOCONTRAST_MIN_RANGE = 1e-3  # a flat image is left (almost) flat instead of dividing by ~0
MIN_CONTRAST = 0.05  # contrast factors are clamped here so that strong settings never invert an image


def _uniform(
    n: int, low: float | torch.Tensor, high: float | torch.Tensor, g: torch.Generator
) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def _chance(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def random_affine(n: int, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Draw one affine sampling matrix per image (output -> input, ``affine_grid`` convention).

    Args:
        n: number of images.
        cfg: augmentation magnitudes (scaled by ``cfg.strength``).
        g: random generator.

    Returns:
        (n, 2, 3) float32; the identity for every image when ``cfg.strength == 0``.
    """
    s = cfg.strength
    min_scale = max(0.05, 1.0 - s * (1.0 - cfg.min_crop_scale))
    area = _uniform(n, min_scale, 1.0, g)
    log_ratio = _uniform(n, -s * math.log(cfg.max_aspect), s * math.log(cfg.max_aspect), g)
    width = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)  # share of the side sampled
    height = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
    angle = torch.deg2rad(_uniform(n, -s * cfg.max_rotation_deg, s * cfg.max_rotation_deg, g))
    sx = torch.where(_chance(n, min(1.0, s * cfg.hflip_p), g), -width, width)
    sy = torch.where(_chance(n, min(1.0, s * cfg.vflip_p), g), -height, height)
    # Crop centre anywhere that keeps the crop inside, plus a small shift (normalised coordinates span 2).
    shift = 2.0 * s * cfg.max_shift
    tx = _uniform(n, -(1.0 - width) - shift, (1.0 - width) + shift, g)
    ty = _uniform(n, -(1.0 - height) - shift, (1.0 - height) + shift, g)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos * sx, -sin * sy, tx], -1), torch.stack([sin * sx, cos * sy, ty], -1)], 1
    )
    return theta.float()  # (n, 2, 3)


def apply_affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample a batch through per-image affine maps; outside the image is black (0), like scan borders.

    Args:
        x: (B, C, H, W) float32.
        theta: (B, 2, 3) output -> input maps in normalised coordinates.

    Returns:
        (B, C, H, W) float32.
    """
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image with its own Gaussian sigma (a sigma of 0 leaves the image unchanged).

    Args:
        x: (B, C, H, W) float32.
        sigma: (B,) sigmas in pixels, >= 0.

    Returns:
        (B, C, H, W) float32, edges padded by reflection.
    """
    b, c, h, w = x.shape
    offsets = torch.arange(BLUR_KERNEL, dtype=torch.float32) - BLUR_KERNEL // 2  # (k,)
    safe = sigma.clamp(min=1e-6).view(b, 1)
    taps = torch.exp(-0.5 * (offsets.view(1, -1) / safe) ** 2)  # (B, k); sigma -> 0 gives a delta
    taps = taps / taps.sum(dim=1, keepdim=True)
    kernel = (taps[:, :, None] * taps[:, None, :]).repeat_interleave(c, dim=0)  # (B*C, k, k)
    pad = BLUR_KERNEL // 2
    flat = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    return F.conv2d(flat, kernel.unsqueeze(1), groups=b * c).reshape(b, c, h, w)


def autocontrast(x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Stretch each chosen image's 1st..99th intensity percentiles to [0, 1] (a contrast enhancement).

    Args:
        x: (B, C, H, W) float32 in [0, 1].
        chosen: (B,) bool; other images are returned unchanged.

    Returns:
        (B, C, H, W) float32 clamped to [0, 1].
    """
    flat = x.flatten(1)  # (B, C*H*W)
    low, high = torch.quantile(flat, torch.tensor([AUTOCONTRAST_LOW, AUTOCONTRAST_HIGH]), dim=1)  # (B,) each
    view = (-1, 1, 1, 1)
    stretched = ((x - low.view(view)) / (high - low).clamp(min=AUTOCONTRAST_MIN_RANGE).view(view)).clamp(0, 1)
    return torch.where(chosen.view(view), stretched, x)


def photometric(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Random autocontrast, brightness, contrast, gamma, sharpening (enhancements), blur and noise.

    Args:
        x: (B, C, H, W) float32 in [0, 1].
        cfg: augmentation magnitudes (scaled by ``cfg.strength``).
        g: random generator.

    Returns:
        (B, C, H, W) float32 clamped to [0, 1].
    """
    b, s = x.shape[0], cfg.strength
    view = (b, 1, 1, 1)
    shift = _uniform(b, -s * cfg.brightness, s * cfg.brightness, g).view(view)
    factor = _uniform(b, 1 - s * cfg.contrast, 1 + s * cfg.contrast, g).clamp(min=MIN_CONTRAST).view(view)
    gamma = torch.exp(_uniform(b, -s * cfg.gamma, s * cfg.gamma, g)).view(view)
    sharpen = _uniform(b, 0.0, s * cfg.max_sharpen, g) * _chance(b, min(1.0, s * cfg.sharpen_p), g)
    sigma = _uniform(b, 0.0, s * cfg.max_blur_sigma, g) * _chance(b, min(1.0, s * cfg.blur_p), g)
    noise_std = _uniform(b, 0.0, s * cfg.noise_std, g).view(view)
    noise = torch.randn(x.shape, generator=g)
    stretch = _chance(b, min(1.0, s * cfg.autocontrast_p), g)

    if bool(stretch.any()):
        x = autocontrast(x, stretch)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * factor + mean + shift).clamp(0.0, 1.0) ** gamma
    if bool((sharpen > 0).any()):
        x = x + sharpen.view(view) * (x - gaussian_blur(x, torch.ones(b)))
    if bool((sigma > 0).any()):
        x = gaussian_blur(x, sigma)
    return (x + noise_std * noise).clamp(0.0, 1.0)


def random_erase(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Fill one random rectangle per chosen image with that image's mean (random erasing).

    Args:
        x: (B, C, H, W) float32.
        cfg: uses ``erase_p`` and ``max_erase_area`` (scaled by ``strength``).
        g: random generator.

    Returns:
        (B, C, H, W) float32.
    """
    b, _, h, w = x.shape
    chosen = _chance(b, min(1.0, cfg.strength * cfg.erase_p), g)
    area = _uniform(b, 0.0, cfg.strength * cfg.max_erase_area, g)
    side_h = (area.sqrt() * h).round().long()
    side_w = (area.sqrt() * w).round().long()
    top = (torch.rand(b, generator=g) * (h - side_h + 1)).long()
    left = (torch.rand(b, generator=g) * (w - side_w + 1)).long()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (
        (rows >= top.view(b, 1, 1))
        & (rows < (top + side_h).view(b, 1, 1))
        & (cols >= left.view(b, 1, 1))
        & (cols < (left + side_w).view(b, 1, 1))
    )  # (B, H, W)
    mask = (inside & chosen.view(b, 1, 1)).unsqueeze(1)  # (B, 1, H, W)
    return torch.where(mask, x.mean(dim=(1, 2, 3), keepdim=True), x)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Apply the full training augmentation to a batch.

    Args:
        x: (B, 3, H, W) float32 pixels in [0, 1]; not modified.
        cfg: augmentation magnitudes; ``strength == 0`` returns the input unchanged (up to float rounding).
        g: random generator; the same generator state gives the same output.

    Returns:
        (B, 3, H, W) float32 in [0, 1].
    """
    if x.ndim != 4:
        raise ValueError(f"augment_batch expects a (B, C, H, W) batch, got shape {tuple(x.shape)}.")
    out = apply_affine(x, random_affine(x.shape[0], cfg, g))
    out = photometric(out, cfg, g)
    return random_erase(out, cfg, g)


def mixup(
    x: torch.Tensor, labels: torch.Tensor, p: float, num_classes: int, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend a share of the images with a random partner (mixup, Zhang et al. 2018), own weight U(0, 1).

    With a teacher, the mixed images are new inputs it can label ("function matching", Beyer et al. 2022),
    so a student cannot simply memorise the training scans.

    Args:
        x: (B, C, H, W) float32 batch (any scale; mixing is linear).
        labels: (B,) int64 class indices.
        p: probability that an image is mixed, in [0, 1].
        num_classes: K.
        g: random generator.

    Returns:
        The mixed batch and (B, K) float32 soft targets (rows sum to 1; one-hot for unmixed images).
    """
    b = x.shape[0]
    partner = torch.randperm(b, generator=g)
    lam = torch.where(_chance(b, p, g), torch.rand(b, generator=g), torch.ones(b))  # (B,) weight of own image
    one_hot = F.one_hot(labels, num_classes).float()  # (B, K)
    targets = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[partner]
    view = (b, 1, 1, 1)
    return lam.view(view) * x + (1 - lam.view(view)) * x[partner], targets
