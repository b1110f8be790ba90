"""Eight sessions at once: the dashboard's cached explainers (``dashboard.resources`` + its lock), one model.

Each of 8 threads explains a different phantom scan through exactly the functions the Explain page calls
(``first_look_cached`` then ``explain_cached`` per method). Every map must equal, bit for bit, the map that a
plain serial call of the registry's ``explain`` gives on a separately loaded copy of the model; afterwards the
shared model carries no hooks, no gradients and is still in eval mode. The caches must be bounded.
"""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import streamlit as st

from dashboard import resources
from model import inference
from model.data.synthetic import phantom_image
from model.explain import single as explain_scan
from model.explain.pause import GATE, pause_checkpoint_hook
from model.explain.registry import EXPLAINERS
from model.explain.state import foreign_hooks
from model.loading import load_classifier
from model.preprocess import preprocess
from tests.unit.threads import until

SESSIONS = 8
# The three fast methods plus one Captum method with seeded noise (SmoothGrad): noise drawn from a shared
# global RNG would differ between serial and concurrent runs: the method most likely to expose sharing.
METHODS = ("gradient_rollout", "gradcam", "smoothgrad")
TEMPERATURE = 1.0


def _scan(i: int) -> tuple[str, bytes]:
    buf = io.BytesIO()
    phantom_image(100 + i, (80 + 6 * i, 96 + 4 * i), tumour=i % 2 == 0).save(buf, format="PNG")
    data = buf.getvalue()
    return hashlib.sha256(data).hexdigest(), data


@pytest.fixture
def clean_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _serial_reference(model_dir, scans) -> list[dict[str, np.ndarray]]:
    """Plain library calls, one after another, on a model loaded independently of the dashboard cache."""
    classifier = load_classifier(model_dir)
    out = []
    for i in range(len(scans)):
        image = phantom_image(100 + i, (80 + 6 * i, 96 + 4 * i), tumour=i % 2 == 0)
        look = inference.first_look(classifier, image, TEMPERATURE)
        maps = {"p_positive": np.float64(look.prediction.p_positive), "rollout": look.rollout.values}
        pixel_values, _ = preprocess(image, classifier.preprocess)
        for method in METHODS:
            maps[method] = EXPLAINERS[method].explain(classifier.model, pixel_values[None], i % 2).values
        out.append(maps)
    return out


def _session(source: str, fingerprint: str, i: int, sha: str, data: bytes) -> dict[str, np.ndarray]:
    """What one Explain-page session computes, through the same cached functions."""
    look = resources.first_look_cached(source, fingerprint, sha, data, TEMPERATURE)
    maps = {"p_positive": np.float64(look.prediction.p_positive), "rollout": look.rollout.values}
    for method in METHODS:
        maps[method] = resources.explain_cached(source, fingerprint, sha, data, method, i % 2, ()).values
    return maps


@pytest.mark.slow
def test_eight_concurrent_sessions_get_exactly_the_serial_maps(tiny_model_dir, clean_caches):
    scans = [_scan(i) for i in range(SESSIONS)]
    assert len({sha for sha, _ in scans}) == SESSIONS
    expected = _serial_reference(tiny_model_dir, scans)
    source = str(tiny_model_dir)
    shared = resources.load_classifier_cached(source)
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        futures = [
            pool.submit(_session, source, shared.fingerprint, i, sha, data)
            for i, (sha, data) in enumerate(scans)
        ]
        got = [f.result() for f in futures]
    for i, (want, have) in enumerate(zip(expected, got, strict=True)):
        for key in want:
            assert np.array_equal(want[key], have[key]), f"session {i}: {key} differs from the serial run"
    # Different scans really gave different maps (the comparison above is not trivially true).
    assert not np.array_equal(got[0]["smoothgrad"], got[1]["smoothgrad"])
    assert resources.load_classifier_cached(source) is shared  # one model for every session
    assert foreign_hooks(shared.model) == []
    assert not any(m.training for m in shared.model.modules())
    assert all(p.grad is None for p in shared.model.parameters())


def _cached_functions() -> dict[str, object]:
    return {
        name: obj for name, obj in vars(resources).items() if hasattr(obj, "_info") and hasattr(obj, "clear")
    }


def test_every_dashboard_cache_is_bounded():
    cached = _cached_functions()
    assert {"load_classifier_cached", "first_look_cached", "explain_cached"} <= set(cached)
    unbounded = [name for name, fn in cached.items() if fn._info.max_entries is None and fn._info.ttl is None]
    assert not unbounded, f"st.cache_* without max_entries or ttl (memory grows without limit): {unbounded}"


def test_a_first_answer_never_waits_behind_a_slow_map(tiny_model_dir, clean_caches):
    source = str(tiny_model_dir)
    shared = resources.load_classifier_cached(source)
    sha, data = _scan(0)
    assert resources.lane("occlusion") is resources.SLOW_LANE
    assert resources.lane("gradient_rollout") is resources.FAST_LANE
    with ThreadPoolExecutor(max_workers=2) as pool:
        with resources.SLOW_LANE:  # another session's slow map is running
            slow = pool.submit(
                resources.explain_cached, source, shared.fingerprint, sha, data, "occlusion", 1, ()
            )
            look = pool.submit(
                resources.quick_look_cached, source, shared.fingerprint, sha, data, TEMPERATURE
            )
            quick = look.result(timeout=120)  # answered while the slow lane is still taken
            assert not slow.done()  # the slow map queues behind the slow lane, and only there
        assert slow.result(timeout=120).values.shape == shared.patch_grid
    assert quick.prediction.labels == shared.labels
    assert foreign_hooks(shared.model) == []


def test_lane_work_at_a_checkpoint_gives_its_lane_to_a_waiting_first_answer():
    """A first answer waits for the lane that paused work held: that work must give the lane up."""
    order, entered, proceed = [], threading.Event(), threading.Event()

    def follow_up(lane: resources.Lane) -> None:
        with lane:
            entered.set()
            proceed.wait(timeout=120)
            GATE.checkpoint()  # the next encoder layer of its pass
            order.append("follow-up")

    def first_answer(lane: resources.Lane) -> None:
        with lane.first():
            order.append("first answer")

    for lane in (resources.FAST_LANE, resources.SLOW_LANE):
        order.clear(), entered.clear(), proceed.clear()
        with ThreadPoolExecutor(max_workers=2) as pool:
            work = pool.submit(follow_up, lane)
            entered.wait(timeout=120)
            answer = pool.submit(first_answer, lane)
            until(lambda lane=lane: lane.queued() == (1, 0), "the first answer waits for the lane")
            proceed.set()
            answer.result(timeout=120)
            work.result(timeout=120)
        assert order == ["first answer", "follow-up"] and GATE.paused() == 0


def test_the_dashboards_model_pauses_at_every_layer(tiny_model_dir, clean_caches):
    shared = resources.load_classifier_cached(str(tiny_model_dir))
    layers = shared.model.vit.layers
    assert all(pause_checkpoint_hook in layer._forward_pre_hooks.values() for layer in layers)
    assert foreign_hooks(shared.model) == []


def test_a_first_answer_goes_ahead_of_other_sessions_waiting_follow_up_work(
    tiny_model_dir, clean_caches, monkeypatch
):
    source = str(tiny_model_dir)
    shared = resources.load_classifier_cached(source)
    order: list[str] = []
    real_look, real_tta = inference.LivePass.look, inference.complete_tta
    monkeypatch.setattr(inference.LivePass, "look", lambda *a: order.append("first answer") or real_look(*a))
    monkeypatch.setattr(inference, "complete_tta", lambda *a: order.append("tta") or real_tta(*a))
    (sha_a, data_a), (sha_b, data_b) = _scan(0), _scan(1)
    look_a = resources.quick_look_cached(source, shared.fingerprint, sha_a, data_a, TEMPERATURE)
    order.clear()
    running, go_on = threading.Event(), threading.Event()

    def busy() -> None:  # a fast map of a third session, running when both others arrive
        with resources.FAST_LANE:
            running.set()
            go_on.wait()

    with ThreadPoolExecutor(max_workers=3) as pool:
        holder = pool.submit(busy)
        try:
            running.wait()
            tta = pool.submit(
                resources.first_look_cached, source, shared.fingerprint, sha_a, data_a, TEMPERATURE
            )
            until(lambda: resources.FAST_LANE.queued() == (0, 1), "session A's TTA waits for the lane")
            quick = pool.submit(
                resources.quick_look_cached, source, shared.fingerprint, sha_b, data_b, TEMPERATURE
            )
            until(lambda: sum(resources.FAST_LANE.queued()) == 2, "session B's first answer waits too")
            assert resources.FAST_LANE.queued() == (1, 1)  # B queued as a first answer, A's TTA as other work
        finally:
            go_on.set()  # never leave the lane held, even when an assert above failed
        holder.result(timeout=120)
        assert quick.result(timeout=120).prediction.labels == shared.labels
        assert tta.result(timeout=120).prediction.p_positive == look_a.prediction.p_positive
    assert order == ["first answer", "tta"]  # B's first answer took the lane before A's queued TTA views
    assert resources.FAST_LANE.queued() == (0, 0) and not resources.FAST_LANE._held


def test_the_default_gradient_rollout_reuses_the_first_answers_pass(
    tiny_model_dir, clean_caches, monkeypatch
):
    source = str(tiny_model_dir)
    shared = resources.load_classifier_cached(source)
    passes: list[str] = []
    real_init = inference.LivePass.__init__
    monkeypatch.setattr(inference.LivePass, "__init__", lambda *a: passes.append("pass") or real_init(*a))
    sha, data = _scan(2)
    look = resources.quick_look_cached(source, shared.fingerprint, sha, data, TEMPERATURE)
    target = look.prediction.predicted
    got = resources.explain_cached(source, shared.fingerprint, sha, data, "gradient_rollout", target, ())
    assert passes == ["pass"]  # one forward pass for the first answer and the default class-specific map
    image = resources.load_scan_cached(sha, data).image
    reference = explain_scan.explain_image(shared, image, "gradient_rollout", target)
    np.testing.assert_allclose(got.values, reference.values, atol=1e-6)
    assert got.params == reference.params and got.target == target
    other = resources.explain_cached(
        source, shared.fingerprint, sha, data, "gradient_rollout", 1 - target, ()
    )
    assert passes == ["pass"] and not np.allclose(other.values, got.values)  # the other class: one backward
    assert [p.grad for p in shared.model.parameters()] == [None] * len(list(shared.model.parameters()))
