"""Synchronising with other threads in tests: a bounded poll until a state is reached, not a timing assert."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S, POLL_STEPS = 0.005, 24_000  # up to 2 minutes for a thread to reach a lane or a checkpoint


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds; fail naming ``what`` if another thread never gets there."""
    for _ in range(POLL_STEPS):
        if condition():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"never reached: {what}")
