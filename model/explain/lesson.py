"""The Learn page's walk-through as data, and the computations it shows on the generated phantom.

The lesson goes in one order, each step building on the one before: the image the model receives, its
patches and the CLS token, attention per head, rollout layer by layer, gradients (class-specific), and
perturbation (hide what a map ranks highest and watch the probability). No Streamlit here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from model.data.synthetic import phantom_image
from model.explain.heatmap import Heatmap
from model.loading import Classifier
from model.preprocess import Geometry, crop_and_resize

PHANTOM_SEED = 7
PHANTOM_SIZE = (224, 240)  # (H, W): scan-like, as on the Explain page
GRADIENT_METHODS = ("gradient_rollout", "gradcam")  # fast and class-specific
PERTURBATION_METHOD = "gradient_rollout"  # the map whose top patches the perturbation step hides
RANDOM_SEED = 0


@dataclass(frozen=True)
class Step:
    """One step of the walk-through: a stable key, its heading and what it teaches."""

    key: str
    title: str
    text: str


STEPS: tuple[Step, ...] = (
    Step(
        "image",
        "The image the model receives",
        "The scan is cropped to the head (black borders removed) and resized to the model's square input. "
        "Everything below happens on that square.",
    ),
    Step(
        "patches",
        "Patches and the CLS token",
        "A Vision Transformer cuts the square into a grid of patches; each becomes one token. An extra "
        "token, CLS, holds no pixels: the answer is read from it after the last layer. Maps on the patch "
        "grid therefore have one value per patch.",
    ),
    Step(
        "attention",
        "Attention per head",
        "In every layer each head lets CLS gather information from the patches. Heads specialise, and a "
        "head looking at a patch does not mean that patch decided the answer.",
    ),
    Step(
        "rollout",
        "Rollout, layer by layer",
        "Rollout multiplies the layers' attention (plus the skip connection) to follow how much each patch "
        "can reach CLS by a given layer. It ignores the class: 'why tumour' and 'why no tumour' look the "
        "same.",
    ),
    Step(
        "gradients",
        "Gradients: why this class",
        "Gradients say how the chosen class's score changes with each part of the input, so gradient maps "
        "are class-specific: switch the class below and the map changes, unlike rollout.",
    ),
    Step(
        "perturbation",
        "Perturbation: does the map matter?",
        "The direct test: hide the patches a map ranks highest and watch the class probability. If it "
        "falls faster than when hiding patches at random, the map found something the model uses.",
    ),
)


def step_titles() -> list[str]:
    """Numbered headings of the steps, in lesson order ("1. The image the model receives", ...)."""
    return [f"{i}. {step.title}" for i, step in enumerate(STEPS, start=1)]


def lesson_phantom(grid: int, tumour: bool = True) -> tuple[str, bytes]:
    """The lesson's phantom scan as an upload would arrive: a file name and PNG bytes.

    Args:
        grid: patches per side of the model's input (e.g. 14 for ViT-Base at 224); the blob is centred on
            one patch of that grid.
        tumour: draw the bright blob (the "tumour"); False gives the same head without it.

    Returns:
        (name, data): ``"phantom-blob.png"`` or ``"phantom.png"``, and the PNG of a (224, 240) RGB image
        drawn with the fixed :data:`PHANTOM_SEED` (the same bytes every call).
    """
    buf = io.BytesIO()
    phantom_image(PHANTOM_SEED, PHANTOM_SIZE, tumour=tumour, grid=grid).save(buf, format="PNG")
    return f"phantom{'-blob' if tumour else ''}.png", buf.getvalue()


@dataclass(frozen=True)
class PatchLayout:
    """How the model's input is cut into patches, in the scan's own pixels.

    Attributes:
        rows, cols: patch grid (e.g. 16 x 16).
        patch_size: patch side in model-input pixels (e.g. 14).
        input_size: side of the square model input in pixels.
        row_edges: (rows + 1,) float y coordinates of the patch borders on the scan.
        col_edges: (cols + 1,) float x coordinates of the patch borders on the scan.
        brightest: (row, col) of the patch with the highest mean intensity (the phantom's blob).
    """

    rows: int
    cols: int
    patch_size: int
    input_size: int
    row_edges: NDArray[np.float64]
    col_edges: NDArray[np.float64]
    brightest: tuple[int, int]

    @property
    def tokens(self) -> int:
        """Tokens the transformer sees: one per patch plus CLS."""
        return self.rows * self.cols + 1


def patch_layout(classifier: Classifier, image: object) -> tuple[PatchLayout, NDArray[np.uint8], Geometry]:
    """The patch grid of ``image`` as ``classifier`` sees it, with the model input picture.

    Args:
        classifier: the model (its preprocessing and patch size).
        image: decoded scan (PIL image).

    Returns:
        (layout, (S, S, 3) uint8 model input before normalisation, geometry).
    """
    pixels, geom = crop_and_resize(image, classifier.preprocess)  # (S, S, 3)
    rows, cols = classifier.patch_grid
    size = classifier.preprocess.image_size
    patch = size // rows
    top, left, bottom, right = geom.crop_box
    means = pixels[: rows * patch, : cols * patch].mean(axis=2).reshape(rows, patch, cols, patch).mean((1, 3))
    brightest = np.unravel_index(int(np.argmax(means)), means.shape)
    layout = PatchLayout(
        rows,
        cols,
        patch,
        size,
        np.linspace(top, bottom, rows + 1) - 0.5,  # edges between pixel centres
        np.linspace(left, right, cols + 1) - 0.5,
        (int(brightest[0]), int(brightest[1])),
    )
    return layout, pixels, geom


def random_map(rows: int, cols: int, target: int, input_size: int, seed: int = RANDOM_SEED) -> Heatmap:
    """A map that ranks patches in a fixed random order: the reference of the perturbation step.

    Args:
        rows, cols: patch grid.
        target: class whose probability the deletion curve tracks.
        input_size: side of the square model input in pixels.
        seed: random seed (fixed, so the reference is the same on every run).

    Returns:
        A patch-grid :class:`~model.explain.heatmap.Heatmap` of random shares summing to 1.
    """
    values = np.random.default_rng(seed).random((rows, cols)).astype(np.float32)  # (rows, cols)
    return Heatmap(values / values.sum(), "patch", "random", int(target), (input_size, input_size))


def perturbation_reading(map_areas: tuple[float, float], random_areas: tuple[float, float]) -> str:
    """One sentence comparing a map's deletion / insertion areas with a random order's.

    Args:
        map_areas: (deletion AUC, insertion AUC) of the map, each in [0, 1].
        random_areas: the same for the random patch order.

    Returns:
        Whether the map beats the random order on both curves, one, or neither (one scan: a hint only).
    """
    deletion = map_areas[0] < random_areas[0]  # lower deletion area: the probability fell faster
    insertion = map_areas[1] > random_areas[1]  # higher insertion area: it rose faster
    if deletion and insertion:
        return "On this scan the map beats a random order on both curves: it ranks patches the model uses."
    if deletion or insertion:
        which = "deletion" if deletion else "insertion"
        return f"On this scan the map beats a random order on {which} only: a weak sign it ranks what counts."
    return "On this scan the map does no better than a random order: it does not show what the model uses."
