"""Timing helpers: warm-up, then the median of a few repeats, with a fixed thread count."""

from __future__ import annotations

import ctypes
import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

# The issue fixes the thread count so ratios are comparable between runs (the machine has 2 cores).
THREADS = 2


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls.

    Attributes:
        median_s: median over ``runs_s`` (seconds, > 0).
        runs_s: every timed run, in order (warm-up runs excluded).
        value: what the last call returned (so a measured result can also be checked).
        peak_mib: how far resident memory rose above its level at the start of the calls, at peak, MiB (the
            work's own memory; None where the high-water mark cannot be reset).
    """

    median_s: float
    runs_s: tuple[float, ...]
    value: object = None
    peak_mib: float | None = None

    @property
    def spread(self) -> float:
        """(max - min) / median of the timed runs: 0 for one run; large values mean a noisy machine."""
        if len(self.runs_s) < 2:
            return 0.0
        return (max(self.runs_s) - min(self.runs_s)) / self.median_s


def set_threads(n: int = THREADS) -> None:
    """Use ``n`` intra-op threads (and one inter-op thread, set only once per process)."""
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once (or work already ran): the intra-op count is what matters
        pass


def measure(fn: Callable[[], object], repeats: int, warmup: int = 1, slow_s: float | None = None) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Args:
        fn: the work, with no arguments.
        repeats: number of timed calls (>= 1).
        warmup: number of untimed calls first (allocator, lazy hooks, caches); 0 times the first call too.
        slow_s: when the first call takes at least this long, it is the only run (its one-time costs are
            small next to the work, and repeating tens of seconds would not fit the time budget).

    Returns:
        The :class:`Timing` (median and every run).

    Raises:
        ValueError: ``repeats`` < 1.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    gc.collect()  # once: a collection costs seconds with torch + transformers + streamlit loaded
    base = peak_rss_mib("VmRSS") if reset_peak_rss() else None
    extra = lambda: None if base is None else max(0.0, peak_rss_mib() - base)  # noqa: E731
    first_s, value = _timed(fn)
    if slow_s is not None and first_s >= slow_s:
        return Timing(first_s, (first_s,), value, extra())
    runs = [] if warmup > 0 else [first_s]  # without warm-up the first call is a timed run
    for _ in range(warmup - 1):
        fn()
    while len(runs) < repeats:
        run_s, value = _timed(fn)
        runs.append(run_s)
    return Timing(statistics.median(runs), tuple(runs), value, extra())


def measure_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, Timing]:
    """Time several operations in alternating rounds (A B C A B C ...), so that a slow spell of a shared
    machine lands on all of them alike and their ratios stay fair.

    Args:
        fns: name -> work with no arguments.
        repeats: timed rounds (>= 1). warmup: untimed rounds first.

    Returns:
        name -> :class:`Timing` (median over the rounds; ``value`` from the last round).

    Raises:
        ValueError: ``repeats`` < 1.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    gc.collect()
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    runs: dict[str, list[float]] = {name: [] for name in fns}
    values: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            run_s, values[name] = _timed(fn)
            runs[name].append(run_s)
    return {name: Timing(statistics.median(r), tuple(r), values[name]) for name, r in runs.items()}


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds and result of one call, with the cyclic garbage collector paused during it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        value = fn()
        return time.perf_counter() - start, value
    finally:
        if enabled:
            gc.enable()


def reset_peak_rss() -> bool:
    """Hand freed heap back to the OS, then reset this process's peak-RSS mark to the current RSS.

    Without the trim, memory an earlier, larger model freed stays resident and every later peak starts from
    it. Uses glibc ``malloc_trim`` and Linux ``clear_refs`` 5; returns False where either is missing.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
    except (OSError, AttributeError):
        return False
    return True


def peak_rss_mib(field: str = "VmHWM") -> float | None:
    """Peak resident memory of this process since start or the last reset, MiB (``VmHWM``); None off Linux.

    Args:
        field: the /proc/self/status field; ``"VmRSS"`` gives the current resident memory instead.
    """
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
