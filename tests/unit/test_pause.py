"""model.explain.pause: slow maps wait between forward passes while another thread holds priority."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from model.explain import occlusion
from model.explain.pause import GATE, Gate
from model.preprocess import preprocess
from model.synthetic import phantom_image

POLL_S, POLL_STEPS = 0.005, 24_000  # up to 2 minutes for a thread to reach a checkpoint


def _until(condition, what: str) -> None:
    """Wait for another thread to reach a state (a bounded poll: synchronisation, not a timing assert)."""
    for _ in range(POLL_STEPS):
        if condition():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"never reached: {what}")


def test_a_checkpoint_waits_only_for_other_threads_priority():
    gate, passed = Gate(), threading.Event()

    def loop() -> None:
        gate.checkpoint()
        passed.set()

    gate.checkpoint()  # nobody holds priority: returns at once
    with gate.priority(), gate.priority():  # nested, and never waiting on itself
        gate.checkpoint()
        worker = threading.Thread(target=loop)
        worker.start()
        _until(lambda: gate.paused() == 1, "the other thread waits at its checkpoint")
        assert not passed.is_set()
    worker.join(timeout=120)
    assert passed.is_set() and gate.paused() == 0


def test_a_slow_map_pauses_under_priority_and_its_result_does_not_change(tiny_classifier, monkeypatch):
    model = tiny_classifier.model
    x = preprocess(phantom_image(5, (64, 64), tumour=True), tiny_classifier.preprocess)[0][None]
    alone = occlusion.explain(model, x, 1, perturbations_per_eval=1)
    passes, real = [], type(model).forward

    def counted(self, *args, **kwargs):
        passes.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", counted)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with GATE.priority():
            slow = pool.submit(occlusion.explain, model, x, 1, perturbations_per_eval=1)
            _until(lambda: GATE.paused() == 1, "the occlusion loop waits at a checkpoint")
            held = len(passes)
            assert GATE.paused() == 1 and len(passes) == held and not slow.done()
        paused = slow.result(timeout=120)
    assert len(passes) > held  # it went on once priority was released
    np.testing.assert_array_equal(paused.values, alone.values)
