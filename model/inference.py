"""Predict one scan: raw and calibrated probabilities, test-time-augmentation uncertainty, and the first maps.

The dashboard's Explain page calls :func:`quick_look` once per scan: one eager forward pass on the scan gives
the prediction and the attention maps (rollout), the first answer; :func:`complete_tta` then adds one batched
pass over a few augmented views (left-right flip, small shifts) for the spread of P(positive), shown when it
arrives (:func:`first_look` does both). Slower attribution maps come from
:func:`model.explain.single.explain_image`.

Test-time augmentation spread is *not* a calibrated uncertainty: it says how much the answer moves under
changes the model should ignore. A large spread flags a fragile prediction; a small one proves nothing.

Example::

    from model.data.scan import load_scan
    from model.inference import calibration_temperature, predict
    from model.loading import load_classifier

    classifier = load_classifier("artifacts/model")
    temperature, _ = calibration_temperature("artifacts/eval", classifier.fingerprint)
    scan = load_scan("data/brain_tumor_dataset/yes/Y1.jpg")
    prediction, geometry = predict(classifier, scan.image, temperature)
    print(prediction.p_positive, prediction.tta_std)  # calibrated P(tumour) and its spread under TTA
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image

from model.evaluate.artifacts import ArtifactError, read_calibration
from model.evaluate.calibration import softmax_with_temperature
from model.explain import gradient_rollout, rollout
from model.explain.heatmap import Heatmap
from model.explain.state import gradients_enabled
from model.labels import positive_index
from model.loading import Classifier
from model.preprocess import Geometry, PreprocessConfig, preprocess

# Shifts of TTA views, as a share of the input side: 4% (9 px at 224) is inside the training augmentation's
# +-5% shift range (model.train.config.AugmentConfig.max_shift): every view is one the model was trained to
# accept.
TTA_SHIFT_FRACTION = 0.04
# (flip left-right, shift down, shift right) in units of the shift; the first view is the scan itself.
TTA_VIEWS: tuple[tuple[bool, int, int], ...] = (
    (False, 0, 0),
    (True, 0, 0),
    (False, 1, 0),
    (False, -1, 0),
    (False, 0, 1),
    (False, 0, -1),
)


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one scan.

    Attributes:
        labels: class names in index order.
        logits: (C,) float32 raw outputs for the scan itself.
        probs_raw: (C,) float32 softmax(logits).
        probs: (C,) float32 softmax(logits / temperature): the calibrated probabilities shown to users.
        temperature: T used for ``probs`` (1.0 = uncalibrated).
        positive_index: index of the positive ("tumor") class.
        tta_positive: (K,) float32 calibrated P(positive) for each TTA view (view 0 = the scan itself).
    """

    labels: tuple[str, ...]
    logits: NDArray[np.float32]
    probs_raw: NDArray[np.float32]
    probs: NDArray[np.float32]
    temperature: float
    positive_index: int
    tta_positive: NDArray[np.float32]

    @property
    def predicted(self) -> int:
        """Index of the most probable class (temperature never changes it)."""
        return int(np.argmax(self.probs))

    @property
    def predicted_label(self) -> str:
        """Name of the most probable class."""
        return self.labels[self.predicted]

    @property
    def p_positive(self) -> float:
        """Calibrated probability of the positive class, in [0, 1]."""
        return float(self.probs[self.positive_index])

    @property
    def tta_mean(self) -> float:
        """Mean calibrated P(positive) over the TTA views."""
        return float(self.tta_positive.mean())

    @property
    def tta_std(self) -> float:
        """Population standard deviation of calibrated P(positive) over the TTA views (>= 0)."""
        return float(self.tta_positive.std())


def calibration_temperature(eval_dir: str | Path, fingerprint: str) -> tuple[float, str]:
    """The temperature saved for this model in an evaluation folder, and a sentence saying where it came from.

    Args:
        eval_dir: folder with ``calibration.json`` (see :mod:`model.evaluate.artifacts`).
        fingerprint: the loaded model's weights fingerprint; another model's calibration is not applied.

    Returns:
        (T, note); T = 1.0 (uncalibrated) with the reason when no usable calibration exists.
    """
    try:
        fit = read_calibration(eval_dir, expected_fingerprint=fingerprint)
    except ArtifactError as err:
        return 1.0, f"Probabilities are not calibrated: {err}"
    return (
        fit.temperature,
        f"Calibrated by temperature scaling (T = {fit.temperature:.2f}, fitted on {fit.fitted_on}).",
    )


def _shift(x: torch.Tensor, dy: int, dx: int, fill: torch.Tensor) -> torch.Tensor:
    """Translate (3, S, S) by (dy, dx) pixels, filling the uncovered edge with ``fill`` (3, 1, 1)."""
    s = x.shape[-1]
    out = fill.expand_as(x).clone()
    ys, yd = (slice(0, s - dy), slice(dy, s)) if dy >= 0 else (slice(-dy, s), slice(0, s + dy))
    xs, xd = (slice(0, s - dx), slice(dx, s)) if dx >= 0 else (slice(-dx, s), slice(0, s + dx))
    out[:, yd, xd] = x[:, ys, xs]
    return out


def tta_batch(pixel_values: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Make the TTA views of one model input.

    Args:
        pixel_values: (3, S, S) float32 normalised input.
        cfg: its preprocessing (the fill of shifted edges is black, normalised like the input).

    Returns:
        (K, 3, S, S) float32 with K = len(TTA_VIEWS); view 0 is ``pixel_values`` unchanged.
    """
    step = max(1, round(TTA_SHIFT_FRACTION * pixel_values.shape[-1]))
    black = (-torch.tensor(cfg.mean) / torch.tensor(cfg.std)).view(3, 1, 1).to(pixel_values.dtype)
    views = []
    for flip, dy, dx in TTA_VIEWS:
        view = pixel_values.flip(-1) if flip else pixel_values
        views.append(_shift(view, dy * step, dx * step, black))
    return torch.stack(views)


@torch.no_grad()
def _logits(classifier: Classifier, batch: torch.Tensor) -> NDArray[np.float64]:
    return classifier.model(pixel_values=batch).logits.double().numpy()  # (B, C)


def _prediction(classifier: Classifier, logits: NDArray[np.float64], temperature: float) -> Prediction:
    """Build a :class:`Prediction` from (K, C) logits whose row 0 is the scan itself."""
    calibrated = softmax_with_temperature(logits, temperature)  # (K, C)
    pos = positive_index(classifier.labels)
    return Prediction(
        labels=classifier.labels,
        logits=logits[0].astype(np.float32),
        probs_raw=softmax_with_temperature(logits[:1], 1.0)[0].astype(np.float32),
        probs=calibrated[0].astype(np.float32),
        temperature=float(temperature),
        positive_index=pos,
        tta_positive=calibrated[:, pos].astype(np.float32),
    )


def predict_tensor(
    classifier: Classifier, pixel_values: torch.Tensor, temperature: float = 1.0, tta: bool = True
) -> Prediction:
    """Predict one preprocessed input, with calibration and (optionally) TTA.

    Args:
        classifier: the loaded model (read-only; eval mode is kept).
        pixel_values: (3, S, S) float32 normalised input.
        temperature: calibration temperature T > 0 (see :mod:`model.evaluate.calibration`).
        tta: also run the augmented views; False leaves ``tta_positive`` with the scan's own value only.

    Returns:
        The :class:`Prediction`.

    Raises:
        ValueError: temperature is not a positive finite number.
        LabelMismatchError: the model has no "tumor" class (:func:`model.labels.positive_index`).
    """
    batch = tta_batch(pixel_values, classifier.preprocess) if tta else pixel_values[None]
    return _prediction(classifier, _logits(classifier, batch), temperature)


def predict(
    classifier: Classifier, image: Image.Image, temperature: float = 1.0, tta: bool = True
) -> tuple[Prediction, Geometry]:
    """Preprocess a decoded scan (see :func:`model.preprocess.preprocess`) and predict it.

    Args:
        classifier: the loaded model (read-only; eval mode is kept).
        image: the decoded scan (any PIL mode; converted to RGB), e.g. ``load_scan(path).image``.
        temperature: calibration temperature T > 0 (see :mod:`model.evaluate.calibration`).
        tta: also run the augmented views; False leaves ``tta_positive`` with the scan's own value only.

    Returns:
        The prediction and the geometry that maps input-grid maps back onto ``image``.

    Raises:
        ValueError: temperature is not a positive finite number.
        LabelMismatchError: the model has no "tumor" class (:func:`model.labels.positive_index`).
    """
    pixel_values, geom = preprocess(image, classifier.preprocess)
    return predict_tensor(classifier, pixel_values, temperature, tta), geom


@dataclass(frozen=True)
class FirstLook:
    """What the Explain page shows first: the prediction and the attention rollout of the same forward pass.

    Attributes:
        prediction: calibrated probabilities and TTA spread.
        geometry: maps model-input grids back onto the original scan.
        rollout: attention-rollout map (class-agnostic), patch grid.
    """

    prediction: Prediction
    geometry: Geometry
    rollout: Heatmap


def warm_up(classifier: Classifier) -> None:
    """One eager pass with attentions on a blank input, before the model is shared between threads.

    transformers adds its attention-capturing forward hooks to the model the first time attentions are
    asked for; doing that once here means no session's forward pass ever sees the model's hooks change.
    """
    size = classifier.preprocess.image_size
    with torch.no_grad():
        classifier.model(pixel_values=torch.zeros(1, 3, size, size), output_attentions=True)


class LivePass:
    """One eager forward pass on a scan, kept with its autograd graph.

    It gives the first answer (:meth:`look`: prediction + attention rollout) and, for one backward pass more,
    the class-specific gradient rollout of any class (:meth:`gradient_rollout`), so the Explain page's
    default panel costs one forward and one backward pass. The graph holds the pass's activations (about
    10 MB a layer for ViT-Base): keep few of these. Gradients are taken with respect to the attention maps
    only (``torch.autograd.grad``), never the parameters; the model is not changed.

    Args:
        classifier: the loaded model (eager attention).
        image: decoded scan.
    """

    def __init__(self, classifier: Classifier, image: Image.Image) -> None:
        pixel_values, self.geometry = preprocess(image, classifier.preprocess)  # (3, S, S)
        with gradients_enabled():
            out = classifier.model(pixel_values=pixel_values[None], output_attentions=True)
        self.classifier = classifier
        self.input_size = (int(pixel_values.shape[-2]), int(pixel_values.shape[-1]))
        self._logits, self._attentions = out.logits, tuple(out.attentions)
        self._lock = threading.Lock()  # one backward at a time through the shared graph

    def look(self, temperature: float = 1.0) -> FirstLook:
        """The first answer: prediction (one view; see :func:`complete_tta`) and attention rollout."""
        prediction = _prediction(self.classifier, self._logits.detach().double().numpy(), temperature)
        attentions = tuple(a.detach() for a in self._attentions)
        heat = rollout.rollout_map(
            attentions, self.classifier.patch_grid, self.input_size, prediction.predicted
        )
        return FirstLook(prediction, self.geometry, heat)

    def gradient_rollout(self, target: int) -> Heatmap:
        """The class-specific gradient rollout for ``target`` (equal to the registry method's default map).

        Raises:
            ValueError: a target outside the model's classes.
            RuntimeError: the model gave no differentiable attentions (not eager attention).
        """
        if not 0 <= int(target) < len(self.classifier.labels):
            raise ValueError(f"target {target} is not a class index of this model.")
        if not self._attentions[0].requires_grad:
            raise RuntimeError("The model gave no differentiable attentions; load it with eager attention.")
        with self._lock, gradients_enabled():
            grads = torch.autograd.grad(self._logits[0, int(target)], self._attentions, retain_graph=True)
        attentions = tuple(a.detach() for a in self._attentions)
        heat = gradient_rollout.relevance_map(
            attentions, grads, self._logits.detach(), int(target), self.classifier.patch_grid, self.input_size
        )
        return heat


def quick_look(classifier: Classifier, image: Image.Image, temperature: float = 1.0) -> FirstLook:
    """The first answer: prediction and attention rollout from ONE eager forward pass, no TTA yet.

    The returned prediction's ``tta_positive`` holds the scan's own value only (stability not checked yet);
    :func:`complete_tta` adds the augmented views without running the scan itself again. The same as
    ``LivePass(classifier, image).look(temperature)``, its graph dropped.

    Args:
        classifier: the loaded model (eager attention; not modified).
        image: decoded scan.
        temperature: calibration temperature T > 0.

    Returns:
        The :class:`FirstLook` with a one-view prediction.
    """
    return LivePass(classifier, image).look(temperature)


def complete_tta(classifier: Classifier, image: Image.Image, look: FirstLook) -> FirstLook:
    """Add the test-time-augmentation spread to a :func:`quick_look` (one batched pass over the other views).

    Args:
        classifier: the model that made ``look``.
        image: the same decoded scan.
        look: its quick look (a complete one is returned unchanged).

    Returns:
        The same look with every view in ``prediction.tta_positive``; equal to :func:`first_look`.
    """
    if len(look.prediction.tta_positive) == len(TTA_VIEWS):
        return look
    pixel_values, _ = preprocess(image, classifier.preprocess)
    views = tta_batch(pixel_values, classifier.preprocess)[1:]  # view 0 is the scan itself, already run
    own = look.prediction.logits.astype(np.float64)[None]  # float32 logits, exactly as the pass gave them
    logits = np.concatenate([own, _logits(classifier, views)])  # (K, C)
    return dataclasses.replace(look, prediction=_prediction(classifier, logits, look.prediction.temperature))


def first_look(classifier: Classifier, image: Image.Image, temperature: float = 1.0) -> FirstLook:
    """Predict a scan and roll out its attention from one eager forward pass, plus one batched TTA pass.

    Args:
        classifier: the loaded model (eager attention; not modified).
        image: decoded scan.
        temperature: calibration temperature T > 0.

    Returns:
        The :class:`FirstLook` (:func:`quick_look` followed by :func:`complete_tta`).
    """
    return complete_tta(classifier, image, quick_look(classifier, image, temperature))
