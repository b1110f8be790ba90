"""Long explanation loops step aside while more urgent model work runs.

Slow maps (occlusion, Integrated Gradients, the Captum methods, deletion/insertion curves) run many forward
passes in a loop; the TTA views and the gradient rollout are one long batched pass each. Work that may be
paused runs inside :meth:`Gate.pausable` (everything the dashboard runs in a lane, not its first answers);
the loops call :meth:`Gate.checkpoint` before each pass, and :func:`install_checkpoints` adds one at every
encoder layer, forward and backward, so a pass of a batch of ViT-Base inputs (seconds on 2 cores) is not
one long step. While any other thread holds :meth:`Gate.priority` (the dashboard's first answers), a
pausable thread's checkpoint gives up its lane and waits, so a first answer neither queues behind that
work nor shares the cores with it. No result changes: the work only resumes later. A thread never waits on
its own priority, and a thread outside ``pausable`` never waits at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
from torch import nn


class Step(NamedTuple):
    """What a pausable block gives up while it waits (``aside``) and takes again after (``back``)."""

    aside: Callable[[], None] | None
    back: Callable[[], None] | None


class Gate:
    """Priority holders make other threads' checkpoints wait (see the module docstring)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders: dict[int, int] = {}  # thread id -> nesting depth
        self._pausable: dict[
            int, list[Step]
        ] = {}  # thread id -> what it gives up while paused, innermost last
        self._paused = 0

    @contextmanager
    def pausable(
        self, aside: Callable[[], None] | None = None, back: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Let this thread's work wait at checkpoints; ``aside()`` runs before a wait, ``back()`` after it.

        The dashboard's lanes pass their ``release`` / ``acquire``: paused work holds no lane, so a first
        answer waiting for the lane that work held gets it (and nothing can deadlock on a paused thread).

        Args:
            aside: called before this thread waits at a checkpoint (innermost block first); None for
                nothing.
            back: called after the wait (outermost block first); None for nothing.

        Returns:
            A context manager; nesting is allowed, each level adds its own ``aside`` / ``back``.
        """
        me = threading.get_ident()
        step = Step(aside, back)
        with self._changed:
            self._pausable.setdefault(me, []).append(step)
        try:
            yield
        finally:
            with self._changed:
                self._pausable[me].remove(step)
                if not self._pausable[me]:
                    del self._pausable[me]

    @contextmanager
    def priority(self) -> Iterator[None]:
        """Hold priority: other threads' :meth:`checkpoint` calls wait until every holder has left."""
        me = threading.get_ident()
        with self._changed:
            self._holders[me] = self._holders.get(me, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self._holders[me] -= 1
                if not self._holders[me]:
                    del self._holders[me]
                self._changed.notify_all()

    def checkpoint(self) -> None:
        """Inside :meth:`pausable`: wait while another thread holds priority. Return at once otherwise."""
        me = threading.get_ident()
        with self._changed:
            if me not in self._pausable or not set(self._holders) - {me}:
                return
            steps = list(self._pausable[me])
        for step in reversed(steps):  # outside the gate's lock: a lane has its own
            if step.aside is not None:
                step.aside()
        with self._changed:
            self._paused += 1
            try:
                self._changed.wait_for(lambda: not set(self._holders) - {me})
            finally:
                self._paused -= 1
        for step in steps:
            if step.back is not None:
                step.back()

    def paused(self) -> int:
        """How many threads are waiting at a checkpoint now."""
        with self._changed:
            return self._paused


# The one gate of the process: the model is shared by every thread, so is its priority.
GATE = Gate()


def _encoder_layers(model: nn.Module) -> list[nn.Module]:
    vit = getattr(model, "vit", model)
    layers = getattr(vit, "layers", None)
    if layers is None:
        layers = getattr(getattr(vit, "encoder", None), "layer", None)
    if layers is None:
        raise ValueError("install_checkpoints needs a ViT with vit.layers or vit.encoder.layer.")
    return list(layers)


def pause_checkpoint_hook(module: nn.Module, args: Any, output: Any = None) -> None:
    """Forward (pre-)hook: a :meth:`Gate.checkpoint`; after a layer, one more for its backward pass.

    Args:
        module: the encoder layer the hook sits on (unused).
        args: the layer's positional inputs (unused).
        output: the layer's output (forward hook) or None (pre-hook); a first tensor that requires grad
            gets a gradient hook that checkpoints during the backward pass.
    """
    GATE.checkpoint()
    first = output[0] if isinstance(output, tuple) and output else output
    if isinstance(first, torch.Tensor) and first.requires_grad:
        first.register_hook(_backward_checkpoint)


def _backward_checkpoint(grad: torch.Tensor) -> None:
    GATE.checkpoint()  # CPU backward runs on the thread that called it, so the thread's marks hold


def install_checkpoints(model: nn.Module) -> int:
    """Add a checkpoint before and after every encoder layer of a shared model, once; returns layers hooked.

    The hooks keep no state and change no result; threads outside :meth:`Gate.pausable` pass straight
    through (a lock and a set difference per layer). :mod:`model.explain.state` counts them as inert, like
    transformers' own capture hooks.
    """
    layers = _encoder_layers(model)
    for layer in layers:
        if pause_checkpoint_hook not in layer._forward_pre_hooks.values():
            layer.register_forward_pre_hook(pause_checkpoint_hook)
            layer.register_forward_hook(pause_checkpoint_hook)
    return len(layers)
