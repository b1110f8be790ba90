"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).

One scalar ``T > 0`` divides every logit before the softmax. It is fitted on the validation split only, by
minimising the negative log-likelihood over ``log T`` with a bounded scalar search, so the argmax (and the
accuracy at the default threshold) never changes; only the confidence does. ``T > 1`` softens an
overconfident model, ``T < 1`` sharpens an underconfident one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

# Search range of T: a factor 100 either way covers any useful calibration; hitting a bound means the
# validation split is separable (T -> 0) or uninformative (T -> inf) and the fit says so via at_bound.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 100.0
# Tolerance on log T of the bounded search; 1e-6 relative change in T is far below anything observable.
LOG_T_TOL = 1e-6
# NLL differences below this (nats per case) are float rounding: a bound that does as well means T is not
# determined by the data.
NLL_TOL = 1e-9
# exp(log(bound)) may land a last bit outside the search range; a fitted T is within this relative slack.
BOUND_REL_TOL = 1e-9


@dataclass(frozen=True)
class TemperatureFit:
    """A fitted temperature and what it did on the data it was fitted on.

    Attributes:
        temperature: T > 0; calibrated probabilities are softmax(logits / T).
        fitted_on: name of the split it was fitted on (normally "validation").
        n: number of cases used.
        nll_before: mean negative log-likelihood (nats) at T = 1.
        nll_after: mean negative log-likelihood at the fitted T (<= nll_before).
        at_bound: True when a search bound (:data:`MIN_TEMPERATURE`, :data:`MAX_TEMPERATURE`) fits as well as
            T: the validation split is separable (T -> 0) or uninformative, so T is not determined.
    """

    temperature: float
    fitted_on: str
    n: int
    nll_before: float
    nll_after: float
    at_bound: bool = False

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return asdict(self)


def check_temperature(value: object) -> float:
    """A temperature read from a file, as float, when :func:`fit_temperature` could have produced it.

    Args:
        value: the stored value (JSON number).

    Returns:
        ``float(value)``, a real number in [MIN_TEMPERATURE, MAX_TEMPERATURE].

    Raises:
        ValueError: not a real number (booleans are not), not finite, or outside the fitted range.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    low, high = MIN_TEMPERATURE * (1 - BOUND_REL_TOL), MAX_TEMPERATURE * (1 + BOUND_REL_TOL)
    if not (ok and low <= value <= high):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ValueError(
            f"temperature {shown}, not a number in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (the range "
            "temperature scaling is fitted in)"
        )
    return float(value)


def softmax_with_temperature(logits: NDArray[np.floating], temperature: float = 1.0) -> NDArray[np.float64]:
    """Probabilities softmax(logits / T), computed in float64.

    Args:
        logits: (N, K) raw model outputs.
        temperature: T > 0.

    Returns:
        (N, K) float64, rows sum to 1.

    Raises:
        ValueError: T is not a positive finite number.
    """
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature}.")
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1))


def nll(logits: NDArray[np.floating], y: NDArray[np.integer], temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of the true classes under softmax(logits / T).

    Args:
        logits: (N, K) raw model outputs.
        y: (N,) true class indices in [0, K).
        temperature: T > 0.
    """
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-np.mean(logp[np.arange(len(y)), np.asarray(y)]))


def fit_temperature(
    logits: NDArray[np.floating], y: NDArray[np.integer], fitted_on: str = "validation"
) -> TemperatureFit:
    """Fit T by minimising the NLL over log T in [log MIN_TEMPERATURE, log MAX_TEMPERATURE].

    Args:
        logits: (N, K) raw model outputs on held-out data (never the training split).
        y: (N,) true class indices.
        fitted_on: the split's name, recorded in the result.

    Returns:
        The fit, with the NLL before and after.

    Raises:
        ValueError: no cases, or logits and labels of different lengths or non-finite logits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if logits.ndim != 2 or len(logits) == 0 or len(logits) != len(y):
        raise ValueError(f"need (N, K) logits and N labels with N >= 1, got {logits.shape} and {y.shape}.")
    if not np.isfinite(logits).all():
        raise ValueError("logits contain NaN or inf; the model output is broken, re-run inference.")
    bounds = (math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE))
    found = minimize_scalar(
        lambda log_t: nll(logits, y, math.exp(log_t)),
        bounds=bounds,
        method="bounded",
        options={"xatol": LOG_T_TOL},
    )
    log_t = float(found.x)
    before = nll(logits, y, 1.0)
    after = nll(logits, y, math.exp(log_t))
    if after > before:  # the search is local; never return a temperature worse than leaving the model alone
        log_t, after = 0.0, before
    at_bound = min(nll(logits, y, math.exp(b)) for b in bounds) <= after + NLL_TOL
    return TemperatureFit(math.exp(log_t), fitted_on, int(len(y)), before, after, at_bound)
