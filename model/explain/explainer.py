"""What every method module shares: its registry entry type and the two steps around its maths.

Each method module ends with ``EXPLAINER = Explainer(...)``, its own entry (grad-cam's one class per method);
:mod:`model.explain.registry` only collects them. Between :func:`~model.explain.state.resolve_params` and
:func:`method_heatmap`, a module does nothing but its method's maths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.explain.heatmap import Heatmap, heatmap_from_raw

ExplainFn = Callable[..., Heatmap]
SPEEDS = ("fast", "slow")


@dataclass(frozen=True)
class Explainer:
    """One explanation method as the dashboard shows it.

    Attributes:
        name: registry key (also ``Heatmap.method``).
        label: short human name for the selectbox.
        explain: ``explain(model, pixel_values, target, **params) -> Heatmap``.
        defaults: default parameters (read-only).
        param_help: one sentence per parameter, for the Learn page.
        description: what the method shows and how far to trust it, for the Learn page.
        speed: ``"fast"`` (about a second for ViT-Base on 2 CPU cores) or ``"slow"`` (tens of seconds).
        class_specific: whether "why tumour" and "why no tumour" give different maps.
        reference: the paper, for the Learn page and the PDF report.
        extras_help: one sentence per ``Heatmap.extras`` key a page shows.
    """

    name: str
    label: str
    explain: ExplainFn
    defaults: Mapping[str, Any]
    param_help: Mapping[str, str]
    description: str
    speed: str
    class_specific: bool = True
    reference: str = ""
    extras_help: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.speed not in SPEEDS:
            raise ValueError(f"speed must be one of {SPEEDS}, got {self.speed!r}.")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "param_help", MappingProxyType(dict(self.param_help)))
        object.__setattr__(self, "extras_help", MappingProxyType(dict(self.extras_help)))


def at_least_one(used: Mapping[str, object], name: str) -> int:
    """A count parameter (e.g. ``n_samples``) as an int, checked to be at least 1.

    Args:
        used: resolved parameters.
        name: the parameter's key.

    Returns:
        ``int(used[name])``.

    Raises:
        ValueError: the count is below 1.
    """
    n = int(used[name])
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}.")
    return n


def method_heatmap(
    raw: NDArray[np.floating],
    method: str,
    target: int,
    params: Mapping[str, Any],
    input_size: Sequence[int],
    *,
    grid: str,
    extras: Mapping[str, Any] | None = None,
) -> Heatmap:
    """A method's closing step: its raw (h, w) attribution as the :class:`Heatmap` it returns.

    Args:
        raw: (h, w) raw attribution in the method's units.
        method: the method's registry name.
        target: class index explained.
        params: parameters actually used; a ``sign`` among them chooses which evidence ``values`` keep
            (see :func:`~model.explain.heatmap.relevance_shares`; ``"positive"`` when absent).
        input_size: (S0, S1) of the model input, e.g. ``x.shape[-2:]``.
        grid: ``"patch"`` or ``"input"``.
        extras: method-specific diagnostics.

    Returns:
        :class:`Heatmap` (see :func:`~model.explain.heatmap.heatmap_from_raw`).
    """
    size = (int(input_size[0]), int(input_size[1]))
    sign = str(params.get("sign", "positive"))
    return heatmap_from_raw(
        raw, grid=grid, method=method, target=target, input_size=size, params=params, extras=extras, sign=sign
    )
