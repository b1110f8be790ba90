from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import Occlusion

from model.explain import occlusion
from model.explain.baselines import make_baseline
from model.explain.captum_common import logits_forward
from tests.unit.explain_toys import one_torch_thread

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

# Captum runs one occluded copy per pass in float32, the project many per pass and sums in float64: batched
# and single matrix products differ in the last bits (~1e-6 of the tiny ViT's logits, ~1) on any CPU.
CAPTUM_ATOL = 1e-5
BLACK = -3.0  # below every value of a unit normal scan here: the "min" baseline of a black corner


def _scan(seed: int, black_corner: bool = False) -> torch.Tensor:
    x = torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(seed)).clamp(-2.5, 2.5)
    if black_corner:
        x[..., :16, :20] = BLACK  # windows inside it equal the baseline: skipped, drop exactly 0
    return x


def _captum(model, x, target, window, stride, baseline):
    with torch.no_grad():
        return Occlusion(logits_forward(model)).attribute(
            x,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=make_baseline(x, baseline, 8),
            target=target,
        )[0, 0]


@pytest.mark.parametrize(
    ("window", "stride", "baseline", "black_corner"),
    [
        (8, 4, "min", False),
        (8, 4, "min", True),
        (8, 3, "mean", True),
        (5, 5, "blur", False),
        (6, 4, "zero", True),
    ],
)
def test_occlusion_equals_captum(tiny_classifier, window, stride, baseline, black_corner):
    model, x = tiny_classifier.model, _scan(window + stride, black_corner)
    base = make_baseline(x, baseline, 8)
    ours, skipped = occlusion.occlusion_drops(model, x, base, 1, window, stride, batch=7)
    np.testing.assert_allclose(ours.numpy(), _captum(model, x, 1, window, stride, baseline), atol=CAPTUM_ATOL)
    assert (skipped > 0) == (black_corner and baseline == "min")


def test_default_hides_one_patch_per_window_on_the_patch_grid(tiny_classifier):
    x = _scan(1, black_corner=True)
    h = occlusion.explain(tiny_classifier.model, x, 0)
    assert (h.grid, h.params["window"], h.params["stride"]) == ("patch", 8, 8)
    assert h.extras["windows"] == 16 and h.extras["skipped"] == 4  # 2 x 2 patches inside the black corner
    ref = _captum(tiny_classifier.model, x, 0, 8, 8, "min").reshape(4, 8, 4, 8).mean(dim=(1, 3))
    ref = ref.clamp(min=0).double().numpy()
    np.testing.assert_allclose(h.values, ref / ref.sum(), atol=CAPTUM_ATOL)


def test_half_patch_stride_gives_the_sliding_window_map_on_the_input_grid(tiny_classifier):
    x = _scan(1, black_corner=True)
    h = occlusion.explain(tiny_classifier.model, x, 0, stride=4)
    assert (h.grid, h.params["window"], h.params["stride"]) == ("input", 8, 4)
    assert h.extras["windows"] == 49 and h.extras["skipped"] == 12  # 3 x 4 windows inside the black corner
    ref = _captum(tiny_classifier.model, x, 0, 8, 4, "min").clamp(min=0).double().numpy()
    np.testing.assert_allclose(h.values, ref / ref.sum(), atol=CAPTUM_ATOL)


def test_batch_size_does_not_change_the_map(tiny_classifier):
    maps = [occlusion.explain(tiny_classifier.model, _scan(2), 1, perturbations_per_eval=n) for n in (1, 64)]
    np.testing.assert_allclose(maps[0].values, maps[1].values, atol=CAPTUM_ATOL)


@pytest.mark.parametrize("params", [{"stride": 9}, {"window": 33}, {"perturbations_per_eval": 0}])
def test_bad_windows_name_the_valid_range(tiny_classifier, params):
    with pytest.raises(ValueError, match="stride in 1..window"):
        occlusion.explain(tiny_classifier.model, _scan(3), 0, **params)
