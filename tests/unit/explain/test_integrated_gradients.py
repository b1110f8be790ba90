from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from model.explain import integrated_gradients
from model.explain.baselines import make_baseline
from tests.unit.explain_toys import one_torch_thread, toy_batch, toy_vit

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

# A target halfway (in ratio) between the delta of the chosen round and the best delta before it: the stop
# is then decided by a factor of sqrt(ratio) >= sqrt(2) on either side, far beyond any CPU's rounding.
MIN_ROUND_GAIN = 2.0
# Two runs on the same machine take the same path; the map agrees to float64 rounding of the same sums.
SAME_RUN_RTOL = 1e-9


def _model_and_scan() -> tuple[torch.nn.Module, torch.Tensor]:
    x, _ = toy_batch(2, seed=5)
    return copy.deepcopy(toy_vit()).double(), x[1:2].double()


def _ig(model: torch.nn.Module, x: torch.Tensor, **params: object):
    return integrated_gradients.explain(model, x, 1, n_steps=2, internal_batch_size=2, **params)


def test_schedule_stops_at_the_first_step_count_meeting_the_target():
    model, x = _model_and_scan()
    full = _ig(model, x, delta_target=0.0, max_steps=24).extras["schedule"]
    rels = [r for _, r in full]
    k = next(i for i in range(1, len(rels)) if rels[i] * MIN_ROUND_GAIN < min(rels[:i]))
    target = float(np.sqrt(rels[k] * min(rels[:k])))
    h = _ig(model, x, delta_target=target, max_steps=24)
    steps = [s for s, _ in h.extras["schedule"]]
    assert steps == [s for s, _ in full[: k + 1]]
    assert all(r > target for _, r in h.extras["schedule"][:-1])
    assert h.extras["target_met"] is True and h.extras["relative_delta"] <= target
    assert h.extras["steps"] == steps[-1] and h.extras["delta_target"] == target


def test_a_target_never_met_is_reported_at_the_step_cap():
    model, x = _model_and_scan()
    h = _ig(model, x, delta_target=0.0, max_steps=9)
    assert h.extras["target_met"] is False
    assert h.extras["steps"] == 9 and h.extras["schedule"][-1][0] == 9
    assert [s for s, _ in h.extras["schedule"]] == [2, 3, 5, 7, 9]  # one batch of 2 midpoints a round


def test_first_pass_meeting_the_target_stops_there():
    model, x = _model_and_scan()
    h = _ig(model, x, delta_target=1.0e9, max_steps=64)
    assert h.extras["steps"] == 2 and len(h.extras["schedule"]) == 1 and h.extras["target_met"] is True


def test_completeness_is_met_to_a_tight_target_against_an_independent_forward():
    model, x = _model_and_scan()
    h = integrated_gradients.explain(model, x, 1, n_steps=16, max_steps=1024, delta_target=1e-5)
    with torch.no_grad():
        logits = model(pixel_values=torch.cat([x, make_baseline(x, "min", 8)])).logits[:, 1]
    change = float(logits[0] - logits[1])
    assert abs(change) > 1.0 and h.extras["target_met"] is True
    assert h.raw_stats["raw_sum"] == pytest.approx(change, rel=1e-4)


def test_same_scan_twice_gives_the_same_map_and_steps():
    model, x = _model_and_scan()
    a, b = (_ig(model, x, delta_target=0.01, max_steps=16) for _ in range(2))
    assert a.extras["steps"] == b.extras["steps"]
    np.testing.assert_allclose(a.values, b.values, rtol=SAME_RUN_RTOL, atol=1e-12)


def test_no_logit_change_cannot_be_judged():
    model, _ = _model_and_scan()
    flat = torch.full((1, 3, 32, 32), 0.3, dtype=torch.float64)  # the "min" baseline is the scan itself
    h = _ig(model, flat, max_steps=16)
    assert h.extras["relative_delta"] is None and h.extras["target_met"] is None
    assert h.extras["steps"] == 2


@pytest.mark.parametrize("bad", [{"n_steps": 1}, {"internal_batch_size": 0}, {"delta_target": -0.1}])
def test_bad_schedule_parameters_name_the_fix(bad):
    model, x = _model_and_scan()
    with pytest.raises(ValueError, match="n_steps >= 2"):
        integrated_gradients.explain(model, x, 1, **bad)
