"""model.inference: calibration, test-time augmentation, the first look (prediction + rollout), maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.data.synthetic import phantom_image
from model.evaluate.artifacts import write_calibration
from model.evaluate.calibration import TemperatureFit
from model.explain import gradient_rollout, rollout
from model.explain.registry import safe_explain
from model.inference import (
    TTA_VIEWS,
    LivePass,
    calibration_temperature,
    complete_tta,
    first_look,
    predict,
    predict_tensor,
    quick_look,
    tta_batch,
)
from model.preprocess import preprocess
from tests.conftest import make_tiny_vit

# float32 logits through a float64 softmax: agreement to ~1e-6 is all float32 outputs can promise.
PROB_TOL = 1e-6
# The same forward pass run twice (first_look vs a registry call) is bitwise-equal on CPU up to float32 noise.
MAP_TOL = 1e-6


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.fixture
def scan():
    return phantom_image(11, (96, 112), tumour=True)


def test_calibration_divides_logits_by_the_temperature(tiny_classifier, scan):
    raw, _ = predict(tiny_classifier, scan, temperature=1.0, tta=False)
    for t in (0.5, 2.0, 7.0):
        p, _ = predict(tiny_classifier, scan, temperature=t, tta=False)
        np.testing.assert_allclose(p.probs, _softmax(p.logits.astype(np.float64) / t), atol=PROB_TOL)
        np.testing.assert_allclose(p.probs_raw, raw.probs, atol=PROB_TOL)
        assert p.predicted == raw.predicted and p.temperature == t
        assert (abs(p.probs.max() - 0.5) < abs(raw.probs.max() - 0.5)) == (t > 1)
    np.testing.assert_allclose(raw.probs, raw.probs_raw, atol=PROB_TOL)


def test_bad_temperature_is_refused(tiny_classifier, scan):
    with pytest.raises(ValueError, match="temperature"):
        predict(tiny_classifier, scan, temperature=0.0)


def test_tta_views_are_the_input_its_flip_and_filled_shifts(tiny_classifier):
    cfg = tiny_classifier.preprocess
    x = torch.randn(3, 32, 32)
    before = x.clone()
    views = tta_batch(x, cfg)
    assert views.shape == (len(TTA_VIEWS), 3, 32, 32)
    assert torch.equal(x, before)
    assert torch.equal(views[0], x) and torch.equal(views[1], x.flip(-1))
    step = 1  # 4 % of 32 px rounds to 1 px
    black = -torch.tensor(cfg.mean).view(3, 1) / torch.tensor(cfg.std).view(3, 1)
    down = views[TTA_VIEWS.index((False, 1, 0))]
    assert torch.equal(down[:, step:], x[:, :-step]) and torch.allclose(down[:, 0], black.expand(3, 32))
    left = views[TTA_VIEWS.index((False, 0, -1))]
    assert torch.equal(left[:, :, :-step], x[:, :, step:])


def test_tta_spread_is_nonnegative_and_zero_for_a_constant_model(tiny_classifier, scan):
    p, _ = predict(tiny_classifier, scan, temperature=1.5)
    assert p.tta_std >= 0 and len(p.tta_positive) == len(TTA_VIEWS)
    assert p.tta_positive[0] == pytest.approx(p.p_positive)
    model = make_tiny_vit(seed=4)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.3, -1.1]))
    constant = tiny_classifier.__class__(model, tiny_classifier.preprocess, tiny_classifier.labels, "c", "c")
    q = predict_tensor(constant, preprocess(scan, constant.preprocess)[0], temperature=2.0)
    assert q.tta_std == 0.0
    np.testing.assert_allclose(q.probs, _softmax(np.array([0.3, -1.1]) / 2.0), atol=PROB_TOL)


def test_first_look_matches_predict_and_the_registry_rollout(tiny_classifier, scan):
    look = first_look(tiny_classifier, scan, temperature=1.3)
    p, geom = predict(tiny_classifier, scan, temperature=1.3)
    np.testing.assert_allclose(look.prediction.tta_positive, p.tta_positive, atol=PROB_TOL)
    assert look.geometry == geom
    x = preprocess(scan, tiny_classifier.preprocess)[0][None]
    reference = safe_explain(rollout.NAME, tiny_classifier.model, x, 0)
    np.testing.assert_allclose(look.rollout.values, reference.values, atol=MAP_TOL)
    assert look.rollout.values.shape == tiny_classifier.patch_grid


def test_quick_look_is_the_first_answer_and_complete_tta_adds_the_spread(tiny_classifier, scan):
    quick = quick_look(tiny_classifier, scan, temperature=1.3)
    assert len(quick.prediction.tta_positive) == 1  # stability not checked yet: one view, the scan itself
    full = complete_tta(tiny_classifier, scan, quick)
    assert len(full.prediction.tta_positive) == len(TTA_VIEWS)
    reference = first_look(tiny_classifier, scan, temperature=1.3)
    for got in (full, reference):  # the split path gives the one-pass answer exactly
        np.testing.assert_array_equal(got.prediction.logits, quick.prediction.logits)
        np.testing.assert_array_equal(got.prediction.probs, quick.prediction.probs)
        np.testing.assert_array_equal(got.rollout.values, quick.rollout.values)
    np.testing.assert_array_equal(full.prediction.tta_positive, reference.prediction.tta_positive)
    p, _ = predict(tiny_classifier, scan, temperature=1.3)
    np.testing.assert_allclose(full.prediction.tta_positive, p.tta_positive, atol=PROB_TOL)
    assert complete_tta(tiny_classifier, scan, full) is full  # a complete look is left alone


def test_live_pass_gives_the_first_answer_and_both_classes_gradient_rollout(tiny_classifier, scan):
    live = LivePass(tiny_classifier, scan)
    look, quick = live.look(1.3), quick_look(tiny_classifier, scan, temperature=1.3)
    np.testing.assert_array_equal(look.prediction.probs, quick.prediction.probs)
    np.testing.assert_array_equal(look.rollout.values, quick.rollout.values)
    x = preprocess(scan, tiny_classifier.preprocess)[0][None]
    grads_before = [p.grad for p in tiny_classifier.model.parameters()]
    maps = []
    for target in (1, 0, 1):  # the graph is kept: every class, any order, as often as asked
        got = live.gradient_rollout(target)
        reference = safe_explain(gradient_rollout.NAME, tiny_classifier.model, x, target)
        np.testing.assert_allclose(got.values, reference.values, atol=MAP_TOL)
        assert (got.target, got.params, got.grid) == (target, dict(reference.params), "patch")
        maps.append(got.values)
    assert not np.allclose(maps[0], maps[1])  # class-specific: "why tumour" is not "why no tumour"
    np.testing.assert_array_equal(maps[0], maps[2])
    assert [p.grad for p in tiny_classifier.model.parameters()] == grads_before  # all None: no param grads
    with pytest.raises(ValueError, match="class index"):
        live.gradient_rollout(2)


def test_calibration_temperature_only_for_the_matching_model(tmp_path):
    fit = TemperatureFit(temperature=1.7, fitted_on="validation", n=10, nll_before=0.7, nll_after=0.6)
    write_calibration(tmp_path, fit, "abc123def456")
    t, note = calibration_temperature(tmp_path, "abc123def456")
    assert t == 1.7 and "1.70" in note
    t, note = calibration_temperature(tmp_path, "another00000")
    assert t == 1.0 and "not calibrated" in note and "another00000" in note
    t, note = calibration_temperature(tmp_path / "missing", "abc123def456")
    assert t == 1.0 and "model.evaluate" in note
