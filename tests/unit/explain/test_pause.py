"""model.explain.pause: slow maps wait between forward passes while another thread holds priority."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from model.data.synthetic import phantom_image
from model.explain import occlusion
from model.explain.pause import GATE, Gate, install_checkpoints, pause_checkpoint_hook
from model.explain.state import foreign_hooks
from model.preprocess import preprocess
from tests.unit.threads import until


def test_a_checkpoint_waits_only_for_other_threads_priority():
    gate, passed = Gate(), threading.Event()

    def loop() -> None:
        with gate.pausable():
            gate.checkpoint()
        passed.set()

    gate.checkpoint()  # nobody holds priority: returns at once
    with gate.priority(), gate.priority():  # nested, and never waiting on itself
        gate.checkpoint()
        worker = threading.Thread(target=loop)
        worker.start()
        until(lambda: gate.paused() == 1, "the other thread waits at its checkpoint")
        assert not passed.is_set()
    worker.join(timeout=120)
    assert passed.is_set() and gate.paused() == 0


def test_a_thread_outside_pausable_never_waits():
    gate, done = Gate(), threading.Event()
    with gate.priority():  # e.g. the lane holder a waiting first answer needs: waiting here would deadlock
        worker = threading.Thread(target=lambda: (gate.checkpoint(), done.set()))
        worker.start()
        worker.join(timeout=120)
        assert done.is_set() and gate.paused() == 0


def _pausable(fn, *args, **kwargs):
    with GATE.pausable():
        return fn(*args, **kwargs)


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
            slow = pool.submit(_pausable, occlusion.explain, model, x, 1, perturbations_per_eval=1)
            until(lambda: GATE.paused() == 1, "the occlusion loop waits at a checkpoint")
            held = len(passes)
            assert GATE.paused() == 1 and len(passes) == held and not slow.done()
        paused = slow.result(timeout=120)
    assert len(passes) > held  # it went on once priority was released
    np.testing.assert_array_equal(paused.values, alone.values)


def test_layer_checkpoints_pause_a_forward_and_a_backward_pass_mid_way(tiny_classifier):
    model = copy.deepcopy(tiny_classifier.model)
    layers = install_checkpoints(model)
    assert install_checkpoints(model) == layers  # once: a second call adds nothing
    hooks = [h for m in model.modules() for h in (*m._forward_pre_hooks.values(), *m._forward_hooks.values())]
    assert sum(h is pause_checkpoint_hook for h in hooks) == 2 * layers == 2 * len(model.vit.layers)
    assert foreign_hooks(model) == []  # inert project hooks, like transformers' capture hooks
    x = preprocess(phantom_image(5, (64, 64), tumour=True), tiny_classifier.preprocess)[0][None]
    plain = copy.deepcopy(tiny_classifier.model)
    ref_in = x.clone().requires_grad_()
    (ref_grad,) = torch.autograd.grad(plain(pixel_values=ref_in).logits[0, 1], ref_in)
    ran, forward_done, go_back = [], threading.Event(), threading.Event()
    model.vit.layers[-1].register_forward_hook(lambda *_: ran.append(1))

    def work() -> torch.Tensor:
        with GATE.pausable():
            inputs = x.clone().requires_grad_()
            logit = model(pixel_values=inputs).logits[0, 1]
            forward_done.set()
            go_back.wait(timeout=120)
            return torch.autograd.grad(logit, inputs)[0]

    with ThreadPoolExecutor(max_workers=1) as pool:
        with GATE.priority():  # a first answer is running: the forward pass stops at its first layer
            job = pool.submit(work)
            until(lambda: GATE.paused() == 1, "the forward pass waits at a layer")
            assert not ran and not forward_done.is_set()
        until(forward_done.is_set, "the forward pass ends once priority is released")
        with GATE.priority():  # another first answer: the backward pass stops at a layer too
            go_back.set()
            until(lambda: GATE.paused() == 1, "the backward pass waits at a layer")
            assert not job.done()
        grad = job.result(timeout=120)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=0)
