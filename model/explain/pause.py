"""Long explanation loops step aside between forward passes while more urgent model work runs.

Slow maps (occlusion, Integrated Gradients, the Captum methods, deletion/insertion curves) run many forward
passes in a loop. Each loop calls :meth:`Gate.checkpoint` before a pass; while any other thread holds
:meth:`Gate.priority` (the dashboard's first answers), the checkpoint waits, so a first answer gets both
cores instead of half of them. Nothing is interrupted mid-pass and no result changes: the loop only
resumes later. A thread never waits on its own priority.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Gate:
    """Priority holders make other threads' checkpoints wait (see the module docstring)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders: dict[int, int] = {}  # thread id -> nesting depth
        self._paused = 0

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
        """Wait while a thread other than this one holds priority; return at once otherwise."""
        me = threading.get_ident()
        with self._changed:
            if not set(self._holders) - {me}:
                return
            self._paused += 1
            try:
                self._changed.wait_for(lambda: not set(self._holders) - {me})
            finally:
                self._paused -= 1

    def paused(self) -> int:
        """How many threads are waiting at a checkpoint now."""
        with self._changed:
            return self._paused


# The one gate of the process: the model is shared by every thread, so is its priority.
GATE = Gate()
