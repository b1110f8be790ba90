"""The one preprocessing definition: brain crop, resize, normalise, and the geometry to map maps back.

Resizing and normalisation follow the Hugging Face ViT image processor (bilinear resize to a square,
rescale to [0, 1], ``(x - mean) / std``), so a model saved here also works with ``transformers`` pipelines.
The optional brain crop removes black borders first; :class:`Geometry` records where the model's input
came from, so that any heatmap on the patch or input grid can be drawn back onto the original scan.

Example::

    import numpy as np

    from model.data.scan import load_scan
    from model.preprocess import PreprocessConfig, preprocess, to_original

    cfg = PreprocessConfig.load("artifacts/model")  # the model folder's preprocessor_config.json
    scan = load_scan("data/brain_tumor_dataset/yes/Y1.jpg")
    x, geometry = preprocess(scan.image, cfg)  # (3, 224, 224) float32, and where it came from
    patch_map = np.ones((14, 14), dtype=np.float32)  # any map on the patch grid
    on_scan = to_original(patch_map, geometry)  # (H, W) float32 on the scan's pixels, 0 outside the crop
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage

from model.io import write_json

PREPROCESSOR_FILE = "preprocessor_config.json"
# A pixel belongs to the head when brighter than this share of the image's 99th percentile. Low enough to keep
# dark CSF and T1 grey matter, high enough to drop JPEG noise in black borders.
CROP_THRESHOLD = 0.12
# Bright regions smaller than this share of the largest one are marks (text, arrows, scale bars), not head.
CROP_MIN_COMPONENT_FRACTION = 0.10
# Margin added around the detected head, as a share of the box size.
CROP_MARGIN = 0.04
# A detected box smaller than this share of the image is more likely noise than a head: keep the whole image.
CROP_MIN_AREA_FRACTION = 0.10


@dataclass(frozen=True)
class PreprocessConfig:
    """How a scan becomes the model's input tensor.

    Attributes:
        image_size: side of the square model input in pixels.
        mean: per-channel normalisation mean (RGB, on the [0, 1] scale).
        std: per-channel normalisation standard deviation.
        crop_brain: crop to the head's bounding box (removing black borders) before resizing.
    """

    image_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    crop_brain: bool = True

    def to_hf_dict(self) -> dict:
        """Return the ``preprocessor_config.json`` dict ``AutoImageProcessor`` reads (plus ``crop_brain``)."""
        return {
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": list(self.mean),
            "image_std": list(self.std),
            "image_processor_type": "ViTImageProcessor",
            "resample": 2,
            "rescale_factor": 1 / 255,
            "size": {"height": self.image_size, "width": self.image_size},
            "crop_brain": self.crop_brain,
        }

    @classmethod
    def from_hf_dict(cls, d: dict) -> PreprocessConfig:
        """Build from a Hugging Face image-processor dict; a hub model without ``crop_brain`` gets no crop."""
        size = d.get("size", {"height": 224, "width": 224})
        side = int(size.get("height") or size.get("shortest_edge") or 224)
        return cls(
            image_size=side,
            mean=tuple(float(x) for x in d.get("image_mean", (0.5, 0.5, 0.5))),
            std=tuple(float(x) for x in d.get("image_std", (0.5, 0.5, 0.5))),
            crop_brain=bool(d.get("crop_brain", False)),
        )

    def save(self, directory: str | Path) -> None:
        """Write ``preprocessor_config.json`` into ``directory``."""
        write_json(Path(directory) / PREPROCESSOR_FILE, self.to_hf_dict())

    @classmethod
    def load(cls, directory: str | Path) -> PreprocessConfig:
        """Read ``preprocessor_config.json`` from a model folder (defaults when the file is absent)."""
        path = Path(directory) / PREPROCESSOR_FILE
        return cls.from_hf_dict(json.loads(path.read_text())) if path.exists() else cls()


@dataclass(frozen=True)
class Geometry:
    """Where the model input came from in the original scan.

    Attributes:
        original_size: (height, width) of the decoded scan.
        crop_box: (top, left, bottom, right) of the region fed to the model, in original pixels,
            bottom/right exclusive. The whole image when no crop was applied.
        input_size: (height, width) of the model input.
    """

    original_size: tuple[int, int]
    crop_box: tuple[int, int, int, int]
    input_size: tuple[int, int]


def brain_crop_box(gray: NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """Find the head's bounding box, ignoring black borders and thin marks.

    Args:
        gray: (H, W) uint8 image.

    Returns:
        (top, left, bottom, right), bottom/right exclusive; the whole image if no plausible head is found.
    """
    h, w = gray.shape
    ref = float(np.percentile(gray, 99))
    if ref <= 0:
        return (0, 0, h, w)
    head = ndimage.binary_closing(gray > CROP_THRESHOLD * ref, iterations=2)  # (H, W) bool, gaps bridged
    components, n = ndimage.label(head)
    if n == 0:
        return (0, 0, h, w)
    areas = np.bincount(components.ravel())[1:]
    keep = np.isin(components, 1 + np.flatnonzero(areas >= CROP_MIN_COMPONENT_FRACTION * areas.max()))
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) < CROP_MIN_AREA_FRACTION * h * w:
        return (0, 0, h, w)
    my, mx = int(CROP_MARGIN * (bottom - top)), int(CROP_MARGIN * (right - left))
    return (int(max(0, top - my)), int(max(0, left - mx)), int(min(h, bottom + my)), int(min(w, right + mx)))


def crop_and_resize(image: Image.Image, cfg: PreprocessConfig) -> tuple[NDArray[np.uint8], Geometry]:
    """Crop (optionally) and resize an RGB image to the model's square input, before normalisation.

    Args:
        image: any PIL image; converted to RGB.
        cfg: preprocessing settings.

    Returns:
        (S, S, 3) uint8 array and the :class:`Geometry` that produced it.
    """
    rgb = image.convert("RGB")
    w, h = rgb.size
    box = brain_crop_box(np.asarray(rgb.convert("L"))) if cfg.crop_brain else (0, 0, h, w)
    top, left, bottom, right = box
    s = cfg.image_size
    resized = rgb.crop((left, top, right, bottom)).resize((s, s), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8), Geometry((h, w), box, (s, s))


def normalise(pixels: NDArray[np.uint8] | torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Turn (..., H, W, 3) uint8 pixels into (..., 3, H, W) float32 model input.

    Args:
        pixels: (..., H, W, 3) uint8 RGB array or tensor in 0..255, e.g. from :func:`crop_and_resize`.
        cfg: preprocessing settings; gives the per-channel ``mean`` and ``std``.

    Returns:
        (..., 3, H, W) float32 tensor ``(pixels / 255 - mean) / std`` (in [-1, 1] for the default 0.5/0.5).
    """
    x = torch.as_tensor(np.array(pixels), dtype=torch.float32) / 255.0
    x = x.movedim(-1, -3)  # (..., 3, H, W)
    mean = torch.tensor(cfg.mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(cfg.std, dtype=torch.float32).view(3, 1, 1)
    return (x - mean) / std


def preprocess(image: Image.Image, cfg: PreprocessConfig) -> tuple[torch.Tensor, Geometry]:
    """Make one model input.

    Args:
        image: decoded scan (any mode; converted to RGB).
        cfg: preprocessing settings (from the model folder's ``preprocessor_config.json``).

    Returns:
        (3, S, S) float32 tensor and its :class:`Geometry`.
    """
    pixels, geom = crop_and_resize(image, cfg)
    return normalise(pixels, cfg), geom


def preprocess_batch(images: list[Image.Image], cfg: PreprocessConfig) -> tuple[torch.Tensor, list[Geometry]]:
    """Make a (B, 3, S, S) batch and one :class:`Geometry` per image.

    Args:
        images: B decoded scans (any mode; converted to RGB); at least one.
        cfg: preprocessing settings.

    Returns:
        (B, 3, S, S) float32 tensor (as :func:`preprocess`, stacked) and the B geometries in order.
    """
    pairs = [preprocess(im, cfg) for im in images]
    return torch.stack([p[0] for p in pairs]), [p[1] for p in pairs]


def to_original(heatmap: NDArray[np.floating], geom: Geometry, *, smooth: bool = True) -> NDArray[np.float32]:
    """Draw a heatmap on the patch or input grid back onto the original scan, pixel for pixel.

    The map is stretched over the crop box (the region the model saw); pixels outside it get 0.

    Args:
        heatmap: (h, w) map covering the whole model input (any grid, e.g. 14x14 patches or 224x224).
        geom: geometry returned by :func:`preprocess` for that scan.
        smooth: bilinear interpolation (display); False gives nearest-neighbour blocks (exact patch borders).

    Returns:
        (H, W) float32 map in the original scan's pixels.
    """
    top, left, bottom, right = geom.crop_box
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    src = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    inner = np.asarray(src.resize((right - left, bottom - top), resample), dtype=np.float32)
    out = np.zeros(geom.original_size, dtype=np.float32)
    out[top:bottom, left:right] = inner
    return out
