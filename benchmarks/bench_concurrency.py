"""Many users at once: N Explain-page sessions through the dashboard's real code path (section "concurrency").

Each session is a ``streamlit.testing.v1.AppTest`` of ``dashboard/app.py`` switched to the Explain page, in
its own thread, uploading its own scan; every third session (1, 4, ...) also asks for a slow map (Integrated
Gradients). Those start first; the others start together once a slow map is computing, so their first
answers are asked for while another session's slow work runs (issue 15). A session's *first answer*
is the time from its run's start until the attention-rollout map is drawn (the prediction and probability
are drawn before it), read by spies that call through to the page's own functions.

Streamlit's caches are shared by every session of one process, as on a real server. So that they hide no
work, each session explains a distinct scan and ``st.cache_data`` (with the kept first-answer passes,
``resources.live_pass_cached``) is cleared before each phase; the model
(``st.cache_resource``) stays loaded, as it is for every user after the first, and one untimed warm-up
session per phase refills the scan-independent caches (evaluations, calibration). The single-session figure
is the median first answer of the same N sessions run one at a time in the same run, and those serial runs
give the reference every concurrent session's probabilities and maps must equal bit for bit.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import MagicMock, patch

import numpy as np
import streamlit as st
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime import Runtime
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test
from streamlit.testing.v1.util import patch_config_options

from benchmarks.report import Check, Row
from benchmarks.settings import Settings
from benchmarks.subjects import REPO_ROOT
from benchmarks.timing import Timing
from dashboard import map_view, resources
from dashboard.settings import ENV_DATA, ENV_EVAL, ENV_MODEL
from dashboard.widgets import DEFAULT_METHODS
from model.explain.registry import EXPLAINERS

SECTION = "concurrency"
APP = REPO_ROOT / "dashboard" / "app.py"
PAGE = "../pages/explain.py"  # relative to the entrypoint, as dashboard/app.py names it
SESSION_KEY = "bench.session"  # the spies' way to tell sessions apart (every AppTest has one session id)
FIRST_MAP = "attention_rollout"  # drawn from the first look: with it the first answer is on screen
SLOW_METHOD = "integrated_gradients"  # the cheapest slow map on ViT-Base (occlusion takes ~6x as long)
SLOW_EVERY = 3  # sessions 1, 4, 7, ... also ask for the slow map
MAX_RATIO = 4.0  # median first answer with N sessions <= 4x one session alone (issue 15)
TIMEOUT_S = 900  # one AppTest run on a busy 2-core machine, slow map included


@dataclass
class Seen:
    """What one session's run drew, as the spies saw it (times are ``time.perf_counter()``)."""

    start: float = 0.0
    first_answer: float | None = None
    probs: dict[str, np.ndarray] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)


class Spies:
    """Call-through wrappers of the page's answer, map and slow-map functions that note what each session got.

    Attributes:
        seen: session index -> :class:`Seen`.
        slow_spans: (start, end) of every slow map computed (any session).
    """

    def __init__(self) -> None:
        self.seen: dict[int, Seen] = {}
        self.slow_spans: list[tuple[float, float]] = []
        self.slow_started = threading.Event()  # some session's slow map is computing (or was)
        self._lock = threading.Lock()

    def begin(self, index: int) -> None:
        """Start session ``index``'s clock (its timed run starts now)."""
        with self._lock:
            self.seen[index] = Seen(start=time.perf_counter())

    def _session(self) -> Seen | None:
        key = st.session_state.get(SESSION_KEY)
        return None if key is None else self.seen.setdefault(key, Seen())

    def quick_look(self, real: Callable) -> Callable:
        def call(*args: object, **kwargs: object) -> object:
            look = real(*args, **kwargs)
            with self._lock:
                if (seen := self._session()) is not None:
                    p = look.prediction
                    seen.probs = {"raw": np.array(p.probs_raw), "shown": np.array(p.p_positive)}
            return look

        return call

    def show_map(self, real: Callable) -> Callable:
        def call(scan: object, data: bytes, record: object, *args: object) -> None:
            real(scan, data, record, *args)
            now = time.perf_counter()
            with self._lock:
                if (seen := self._session()) is not None:
                    seen.maps[record.method] = np.array(record.values)
                    if record.method == FIRST_MAP and seen.first_answer is None:
                        seen.first_answer = now

        return call

    def explain(self, real: Callable) -> Callable:
        def call(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            if EXPLAINERS[args[4]].speed != "fast":
                self.slow_started.set()
            try:
                return real(*args, **kwargs)
            finally:
                if EXPLAINERS[args[4]].speed != "fast":  # args: source, fingerprint, sha, bytes, method
                    with self._lock:
                        self.slow_spans.append((start, time.perf_counter()))

        return call


@contextmanager
def spied(spies: Spies) -> Iterator[None]:
    """Install ``spies`` on the page's calls (and restore the originals afterwards)."""
    saved = map_view.show_map, resources.quick_look_cached, resources.explain_cached
    map_view.show_map = spies.show_map(saved[0])
    resources.quick_look_cached = spies.quick_look(saved[1])
    resources.explain_cached = spies.explain(saved[2])
    try:
        yield
    finally:
        map_view.show_map, resources.quick_look_cached, resources.explain_cached = saved


@contextmanager
def one_runtime() -> Iterator[None]:
    """Let AppTest sessions run at once in one process: one stand-in Streamlit runtime serves them all.

    AppTest is single-session by design: a run installs its mock ``Runtime`` as the process-wide singleton
    when it starts and removes it when it ends, and patches ``config.get_option`` for its duration with
    ``unittest.mock``. With several sessions, the first run to end would pull both from under the others
    mid-run ("Runtime hasn't been created!", widgets missing their testing data). One stand-in, built as
    AppTest builds its own, is the singleton throughout; each run's own mock lands on a subclass nothing
    reads, and the testing option stays on, whatever order the runs' own patches unwind in.
    """

    class Unread(Runtime):
        _instance = None

    shared = MagicMock(spec=Runtime)
    shared.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    shared.dataframe_source_mgr = DataframeSourceManager()
    shared.cache_storage_manager = MemoryCacheStorageManager()
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    shared.bidi_component_registry = components
    saved, Runtime._instance = Runtime._instance, shared
    try:
        with patch.object(app_test, "Runtime", Unread), patch_config_options({"global.appTest": True}):
            yield
    finally:
        Runtime._instance = saved


@contextmanager
def dashboard_env(source: str, eval_dir: str) -> Iterator[None]:
    """Point the dashboard at this model and evaluation folder, no data folder (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in (ENV_MODEL, ENV_EVAL, ENV_DATA)}
    os.environ[ENV_MODEL], os.environ[ENV_EVAL] = source, eval_dir
    os.environ.pop(ENV_DATA, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def is_slow(index: int) -> bool:
    """Whether timed session ``index`` also asks for the slow map."""
    return index % SLOW_EVERY == 1


def methods_for(slow: bool) -> list[str]:
    """The maps a session asks for: rollout first, the other defaults, then the slow map when ``slow``."""
    return [FIRST_MAP] + [m for m in DEFAULT_METHODS if m != FIRST_MAP] + ([SLOW_METHOD] if slow else [])


def run_session(index: int, scan: Path, slow: bool, start: Callable[[], object], spies: Spies) -> None:
    """Open the Explain page (untimed), wait for every session, then upload the scan and run the page once."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    at.switch_page(PAGE).run()
    at.session_state[SESSION_KEY] = index
    at.session_state["explain.methods"] = methods_for(slow)
    mime = "image/png" if scan.suffix.lower() == ".png" else "image/jpeg"
    at.file_uploader(key="explain.upload").set_value((scan.name, scan.read_bytes(), mime))
    start()
    spies.begin(index)
    at.run()
    if at.exception:
        raise RuntimeError(f"session {index} ({scan.name}): {at.exception[0].message}")
    if spies.seen[index].first_answer is None:
        raise RuntimeError(f"session {index} ({scan.name}): the page drew no {FIRST_MAP} map")


def _starts(n: int, spies: Spies) -> list[Callable[[], object]]:
    """When each concurrent session starts: the slow ones together, the others together once a slow map runs.

    So every fast-only session asks for its first answer while another session's slow map is computing
    (what issue 15 is about), not before any slow work has begun.
    """
    slow = threading.Barrier(max(1, sum(map(is_slow, range(n)))))
    fast = threading.Barrier(max(1, n - sum(map(is_slow, range(n)))))

    def after_slow() -> None:
        if any(map(is_slow, range(n))):
            spies.slow_started.wait(TIMEOUT_S)
        fast.wait()

    return [slow.wait if is_slow(i) else after_slow for i in range(n)]


def run_phase(scans: list[Path], warm_up: Path, together: bool, warm_methods: bool) -> Spies:
    """One phase on cleared data caches: an untimed warm-up session, then one session per scan.

    Args:
        together: all sessions at once (a thread each; see :func:`_starts`), else one after another.
        warm_methods: let the warm-up session compute the slow map too (first-use costs of its code path).
    """
    st.cache_data.clear()
    resources.live_pass_cached.clear()  # the kept first-answer passes too, or a phase reuses the last one's
    spies = Spies()
    with spied(spies):
        run_session(-1, warm_up, warm_methods, lambda: None, spies)  # -1: no timed session
        if together:
            with ThreadPoolExecutor(max_workers=len(scans)) as pool:
                futures = [
                    pool.submit(run_session, i, p, is_slow(i), start, spies)
                    for i, p, start in zip(range(len(scans)), scans, _starts(len(scans), spies), strict=True)
                ]
                for f in futures:
                    f.result()
        else:
            for i, path in enumerate(scans):
                run_session(i, path, is_slow(i), lambda: None, spies)
    return spies


def first_answers(spies: Spies, n: int) -> list[float]:
    """Seconds from each timed session's start to its first answer, in session order."""
    return [spies.seen[i].first_answer - spies.seen[i].start for i in range(n)]


def differing(serial: Spies, together: Spies, n: int) -> list[str]:
    """``"session i: what"`` for every probability or map of a concurrent session unlike its serial run."""
    found = []
    for i in range(n):
        want, have = serial.seen[i], together.seen[i]
        for kind, a, b in (("probability", want.probs, have.probs), ("map", want.maps, have.maps)):
            if a.keys() != b.keys():
                found.append(f"session {i}: {kind}s {sorted(a)} vs {sorted(b)}")
                continue
            found += [f"session {i}: {kind} {k}" for k in a if not np.array_equal(a[k], b[k])]
    return found


def overlapped(spies: Spies, n: int) -> int:
    """How many timed sessions got their first answer while some session's slow map was computing."""
    return sum(
        any(s <= spies.seen[i].first_answer <= e for s, e in spies.slow_spans)
        for i in range(n)
        if not is_slow(i)
    )


def run_concurrency(source: str, eval_dir: str, paths: list[Path], fwd: Timing, s: Settings) -> list[Row]:
    """Rows concurrency.single and concurrency.first_answer (see the module docstring).

    Args:
        source: model folder as the dashboard gets it. eval_dir: its evaluation folder (may be absent).
        paths: distinct scans; the first ``s.concurrency_sessions`` are the sessions', the next the warm-up's.
        fwd: the forward-pass timing of this run. s: run settings.
    """
    n = s.concurrency_sessions
    if len(paths) < n + 1:
        raise ValueError(f"the concurrency run needs {n + 1} scans, got {len(paths)}: raise n_eval_images")
    scans, warm_up = paths[:n], paths[n]
    with dashboard_env(source, eval_dir), one_runtime():  # both phases under the same harness
        serial = run_phase(scans, warm_up, together=False, warm_methods=True)
        together = run_phase(scans, warm_up, together=True, warm_methods=False)
    alone, crowd = first_answers(serial, n), first_answers(together, n)
    single_s, median_s = statistics.median(alone), statistics.median(crowd)
    ratio, worst = median_s / single_s, max(crowd) / single_s
    wrong = differing(serial, together, n)
    unlike = {w.split(":")[0] for w in wrong}
    n_slow = sum(map(is_slow, range(n)))
    maps = ", ".join(methods_for(False))
    return [
        Row(
            "concurrency.single",
            SECTION,
            f"one Explain-page session alone (AppTest, upload -> prediction + probability + rollout map "
            f"drawn; {maps}), median of {n} sessions run one at a time, each on its own scan",
            single_s,
            single_s / fwd.median_s,
            runs_s=tuple(alone),
        ),
        Row(
            "concurrency.first_answer",
            SECTION,
            f"{n} sessions at once (a thread each, distinct scans, cleared caches; {n_slow} also ask "
            f"for {EXPLAINERS[SLOW_METHOD].label} and start first, the rest start once it computes): "
            "median first answer",
            median_s,
            median_s / fwd.median_s,
            value=worst,
            unit="× single (slowest session)",
            runs_s=tuple(crowd),
            checks=[
                Check("median × single session", ratio, "<=", MAX_RATIO),
                Check("sessions unlike the serial run", float(len(unlike)), "<=", 0),
            ],
            note=f"{overlapped(together, n)} of {n - n_slow} fast-only first answers were given while "
            f"a slow map was computing" + (f"; differs: {', '.join(wrong[:4])}" if wrong else ""),
        ),
    ]


def expected_ids() -> list[str]:
    """Row ids this section always produces."""
    return ["concurrency.single", "concurrency.first_answer"]
