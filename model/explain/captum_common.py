"""What the Captum-based methods share: the logits wrapper, seeded noise, chunked input gradients.

Captum's ``NoiseTunnel`` and ``GradientShap`` draw their noise from the global NumPy/torch generators,
which two dashboard sessions share: results would change with whatever ran before, and two threads would
interleave draws. The stochastic methods here draw from a private, seeded ``torch.Generator`` and let
Captum compute the gradients (``captum.attr.Saliency``, i.e. ``torch.autograd.grad`` on the inputs only).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from captum.attr import Saliency
from transformers import ViTForImageClassification

from model.explain.pause import GATE
from model.explain.state import gradients_enabled


def logits_forward(model: ViTForImageClassification) -> Callable[[torch.Tensor], torch.Tensor]:
    """The forward Captum calls: (B, 3, S, S) pixel values -> (B, classes) logits."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        GATE.checkpoint()  # a slow map's next pass waits while a first answer runs
        return model(pixel_values=x).logits

    return forward


def seeded_generator(seed: int) -> torch.Generator:
    """A private CPU generator (the shared global RNG is never touched)."""
    return torch.Generator(device="cpu").manual_seed(int(seed))


def input_gradients(
    model: ViTForImageClassification, inputs: torch.Tensor, target: int, batch_size: int, absolute: bool
) -> torch.Tensor:
    """Gradient of the target logit with respect to each input, in chunks (Captum ``Saliency``).

    Args:
        model: ViT classifier (gradients never reach its parameters' ``.grad``).
        inputs: (N, 3, S, S) points at which to take the gradient; not modified.
        target: class index.
        batch_size: inputs per forward/backward pass (memory vs speed).
        absolute: return ``|grad|`` (Saliency) instead of the signed gradient.

    Returns:
        (N, 3, S, S) detached gradients.

    Raises:
        ValueError: ``batch_size`` is below 1.
    """
    if batch_size < 1:
        raise ValueError(f"internal_batch_size must be >= 1, got {batch_size}.")
    saliency = Saliency(logits_forward(model))
    chunks = []
    with gradients_enabled():
        for chunk in inputs.detach().split(batch_size):
            grads = saliency.attribute(chunk.clone().requires_grad_(), target=target, abs=absolute)
            chunks.append(grads.detach())
    return torch.cat(chunks)


def target_logits(model: ViTForImageClassification, inputs: torch.Tensor, target: int) -> torch.Tensor:
    """The target logit of every input of a batch, without gradients.

    Args:
        model: ViT classifier (forward pass only).
        inputs: (N, 3, S, S) float model inputs in the model's dtype; not modified.
        target: class index in ``[0, num_labels)``.

    Returns:
        (N,) detached tensor of the model's dtype: ``logits[:, target]``.
    """
    with torch.no_grad():
        return model(pixel_values=inputs).logits[:, target].detach()
