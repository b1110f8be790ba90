"""Temperature scaling: lowers the NLL, T > 1 for overconfident logits, T < 1 for underconfident ones."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluate.calibration import MIN_TEMPERATURE, fit_temperature, nll, softmax_with_temperature

# With 4000 cases the NLL minimiser lies within a few per cent of the temperature that generated the data.
RECOVERY_RTOL = 0.1


def toy(scale: float, n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the 'model' reports scale * z (scale > 1: overconfident)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, size=(n, 3))
    p = softmax_with_temperature(z)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return scale * z, y


def test_overconfident_logits_get_t_above_one_and_lower_nll():
    logits, y = toy(scale=3.0)
    fit = fit_temperature(logits, y)
    assert fit.temperature > 1
    assert fit.temperature == pytest.approx(3.0, rel=RECOVERY_RTOL)
    assert fit.nll_after < fit.nll_before
    assert fit.nll_before == pytest.approx(nll(logits, y))
    assert fit.nll_after == pytest.approx(nll(logits, y, fit.temperature))
    assert (fit.fitted_on, fit.n, fit.at_bound) == ("validation", 4000, False)


def test_uninformative_logits_are_flagged():
    fit = fit_temperature(np.zeros((10, 2)), np.array([0, 1] * 5))
    assert fit.at_bound and fit.nll_after == pytest.approx(np.log(2))


def test_underconfident_logits_get_t_below_one():
    logits, y = toy(scale=0.4, seed=1)
    fit = fit_temperature(logits, y, fitted_on="val2")
    assert fit.temperature == pytest.approx(0.4, rel=RECOVERY_RTOL)
    assert fit.nll_after < fit.nll_before and fit.fitted_on == "val2"


def test_fitted_temperature_is_the_nll_minimum():
    logits, y = toy(scale=2.0, n=500, seed=2)
    t = fit_temperature(logits, y).temperature
    for factor in (0.9, 1.1):
        assert nll(logits, y, t) < nll(logits, y, t * factor)


def test_scaling_keeps_the_argmax_and_rows_sum_to_one():
    logits, _ = toy(scale=1.0, n=200)
    for t in (0.3, 1.0, 7.0):
        p = softmax_with_temperature(logits, t)
        assert np.allclose(p.sum(axis=1), 1.0)
        assert (p.argmax(axis=1) == logits.argmax(axis=1)).all()
    soft, raw = softmax_with_temperature(logits, 7.0), softmax_with_temperature(logits)
    assert soft.max(axis=1).mean() < raw.max(axis=1).mean()


def test_separable_data_runs_to_the_lower_bound_and_says_so():
    logits = np.array([[2.0, -2.0], [-1.0, 1.0], [3.0, 0.0]])
    fit = fit_temperature(logits, np.array([0, 1, 0]))
    assert fit.at_bound and MIN_TEMPERATURE <= fit.temperature < 0.1  # NLL -> 0 as T -> 0: T undetermined
    assert fit.nll_after < fit.nll_before


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="N >= 1"):
        fit_temperature(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(np.array([[np.nan, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match="positive"):
        softmax_with_temperature(np.zeros((1, 2)), 0.0)
