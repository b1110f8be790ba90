"""Shared-model safety: input checks, a gradient context, a snapshot/verify of what a method could leak.

The dashboard caches ONE model for every session, so an explanation may not leave hooks, parameter
gradients, train mode, config edits or weight changes behind, even when it fails. Every method here takes
gradients only with respect to its own input tensors (``torch.autograd.grad``), so nothing accumulates in
``param.grad``; :func:`snapshot` / :func:`verify` prove it after each call.

transformers 5 installs its own output-capturing forward hooks lazily, the first time any caller asks for
``output_attentions`` / ``output_hidden_states``. They are permanent, inactive unless a call requests the
output, and thread-safe (a ``ContextVar`` collector), so they are not counted as leaked hooks; nor are the
dashboard's pause points (:func:`model.explain.pause.install_checkpoints`), installed once at load.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules import module as nn_module

from model.errors import MriExplainError
from model.explain.pause import pause_checkpoint_hook

# Name of transformers' lazily installed, context-var-gated capture hook (utils/output_capturing.py).
_LIBRARY_HOOK_NAMES = frozenset({"output_capturing_hook"})
_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)
_GLOBAL_HOOK_DICTS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
)


class ModelStateError(MriExplainError, RuntimeError):
    """An explanation changed the shared model; the message says what and how to recover."""


def _is_library_hook(hook: object) -> bool:
    fn = getattr(hook, "__func__", hook)
    if fn is pause_checkpoint_hook:  # the dashboard's permanent, stateless pause points
        return True
    return getattr(fn, "__name__", "") in _LIBRARY_HOOK_NAMES and "transformers" in getattr(
        fn, "__module__", ""
    )


def foreign_hooks(model: nn.Module) -> list[str]:
    """List every hook on ``model`` (and global module hooks) except transformers' own capture hooks.

    Returns:
        ``"module_name.hook_dict"`` strings, one per hook; empty when the model is clean.
    """
    found = []
    for name, mod in model.named_modules():
        for attr in _HOOK_DICTS:
            for hook in getattr(mod, attr, {}).values():
                if not _is_library_hook(hook):
                    found.append(f"{name or '<root>'}.{attr}")
    for attr in _GLOBAL_HOOK_DICTS:
        found.extend(f"<global>.{attr}" for _ in getattr(nn_module, attr, {}).values())
    return found


@dataclass(frozen=True)
class ModelState:
    """What an explanation must leave unchanged (see :func:`snapshot`)."""

    hooks: tuple[str, ...]
    training: tuple[str, ...]
    grads: tuple[str, ...]
    requires_grad: tuple[bool, ...]
    versions: tuple[int, ...]
    config: str


def snapshot(model: nn.Module) -> ModelState:
    """Record hooks, train flags, gradients, ``requires_grad``, weight versions and the config."""
    params = list(model.named_parameters())
    config = getattr(model, "config", None)
    return ModelState(
        hooks=tuple(sorted(foreign_hooks(model))),
        training=tuple(n for n, m in model.named_modules() if m.training),
        grads=tuple(n for n, p in params if p.grad is not None),
        requires_grad=tuple(p.requires_grad for _, p in params),
        versions=tuple(p._version for _, p in params),
        config=config.to_json_string(use_diff=False) if config is not None else "",
    )


def verify(model: nn.Module, before: ModelState) -> None:
    """Raise :class:`ModelStateError` if ``model`` differs from the ``before`` snapshot.

    Args:
        model: the shared model, after the explanation.
        before: :func:`snapshot` of the same model taken before it.

    Raises:
        ModelStateError: naming the changed aspects (hooks, train mode, gradients, weights, config).
    """
    after = snapshot(model)
    problems = []
    if after.hooks != before.hooks:
        problems.append(f"hooks added {sorted(set(after.hooks) - set(before.hooks))}")
    if after.training != before.training:
        problems.append(f"train mode on {list(after.training)[:3]}")
    if after.grads != before.grads:
        problems.append(f"parameter .grad set on {list(after.grads)[:3]}")
    if after.requires_grad != before.requires_grad:
        problems.append("parameter requires_grad changed")
    if after.versions != before.versions:
        problems.append("weights modified in place")
    if after.config != before.config:
        problems.append("model.config edited")
    if problems:
        raise ModelStateError(
            "An explanation changed the shared model: "
            + "; ".join(problems)
            + ". Reload the model (clear the dashboard cache) and report the method as unsafe."
        )


@contextlib.contextmanager
def gradients_enabled() -> Iterator[None]:
    """Enable autograd even inside a caller's ``no_grad`` / ``inference_mode`` (thread-local)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def prepare_input(model: nn.Module, pixel_values: torch.Tensor, target: int) -> torch.Tensor:
    """Validate the explanation inputs and return a private copy in the model's dtype.

    Args:
        model: a ViT image classifier.
        pixel_values: (1, 3, S, S) float tensor; never modified.
        target: class index to explain.

    Returns:
        (1, 3, S, S) detached copy (not requiring grad) in the dtype of the model's weights.

    Raises:
        ValueError: wrong shape or a target outside ``[0, num_labels)``.
    """
    if pixel_values.ndim != 4 or pixel_values.shape[0] != 1 or pixel_values.shape[1] != 3:
        raise ValueError(
            f"pixel_values must be (1, 3, S, S), got {tuple(pixel_values.shape)}; explain one scan at a time "
            "(use pixel_values[None] for a single (3, S, S) image)."
        )
    n = int(model.config.num_labels)
    if not 0 <= int(target) < n:
        raise ValueError(
            f"target {target} is not a class index of this model; use 0..{n - 1} (see id2label)."
        )
    dtype = next(model.parameters()).dtype
    with torch.inference_mode(False):
        return pixel_values.detach().clone().to(dtype)


def patch_size_of(model: nn.Module) -> int:
    """The model's (square) patch side in pixels, from its config."""
    p = model.config.patch_size
    return int(p[0] if isinstance(p, (tuple, list)) else p)


def patch_grid_of(model: nn.Module, pixel_values: torch.Tensor) -> tuple[int, int]:
    """(rows, cols) of patches for this input (works for any image size the model accepts).

    Args:
        model: a ViT (its ``config.patch_size`` is read).
        pixel_values: (..., S0, S1) model input; only its shape is read.

    Returns:
        ``(S0 // patch_size, S1 // patch_size)``.
    """
    p = patch_size_of(model)
    return (int(pixel_values.shape[-2]) // p, int(pixel_values.shape[-1]) // p)


def resolve_params(method: str, defaults: dict[str, object], params: dict[str, object]) -> dict[str, object]:
    """Fill in defaults and reject unknown parameter names (a typo would otherwise be silently ignored).

    Args:
        method: the method's registry name (for the message).
        defaults: every parameter the method takes, with its default.
        params: the caller's parameters (a subset of ``defaults``' keys).

    Returns:
        A new dict: ``defaults`` updated with ``params``.

    Raises:
        ValueError: naming the unknown parameters and the valid ones.
    """
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{method} has no parameter(s) {unknown}; valid: {sorted(defaults)}.")
    return {**defaults, **params}
