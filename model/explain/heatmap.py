"""The one result type of every explanation method, and the display convention the dashboard follows.

Display convention ("share of relevance")
-----------------------------------------
Every method reduces its raw attribution to **nonnegative relevance for the chosen class** (the positive part
of signed attributions: evidence *for* the target; Saliency/SmoothGrad are gradient magnitudes) and
normalises it to **sum to 1 over the map**. A value is then "the share of all relevance this cell holds".

To compare methods and scans on ONE colour scale, show :meth:`Heatmap.relative` ("x uniform" =
share x number of cells): 1.0 means "as much as an average cell", 4.0 "four times the average". This is
independent of the grid (a 14x14 patch map and a 224x224 pixel map of the same evidence read the same) and,
unlike per-image min-max scaling, a diffuse map of a normal scan stays dim instead of looking hot.
Use ``vmin=0, vmax=DISPLAY_MAX_X_UNIFORM`` for the colour bar.

A map with no positive evidence at all (e.g. the class is not supported anywhere) is all zeros
(:attr:`Heatmap.is_empty`); it is not rescaled into a fake hot spot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from model.preprocess import Geometry, to_original

GRIDS = ("patch", "input")
# Colour-bar top for `Heatmap.relative()` maps. A uniform map reads 1; a tumour-sized hot region (~4 % of the
# head) holding half the relevance reads ~12, so 5 saturates only clearly focal evidence and keeps weak,
# diffuse maps visibly dim. Shared by every method so colours are comparable.
DISPLAY_MAX_X_UNIFORM = 5.0
# Total relevance below this (relative to the largest raw magnitude) is treated as "no positive evidence":
# float32 rounding leaves ~1e-7 relative noise, so anything under 1e-6 is not a signal.
EMPTY_RELATIVE_EPS = 1e-6
# Shares must sum to 1 within float32 accumulation error over up to 224x224 cells.
SUM_TOLERANCE = 1e-3


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class Heatmap:
    """A relevance map for one scan, one class and one method.

    Attributes:
        values: (h, w) float32, nonnegative, summing to 1 (or all zero when :attr:`is_empty`); read-only.
        grid: ``"patch"`` (h, w = patch grid, e.g. 14x14) or ``"input"`` (h, w = model input, e.g. 224x224).
        method: registry name of the method that made it.
        target: class index explained.
        input_size: (S, S) side of the model input the map covers.
        params: parameters actually used (defaults filled in).
        raw_stats: signed statistics of the raw attribution before normalisation (``raw_sum``,
            ``raw_positive_sum``, ``raw_negative_sum``, ``raw_min``, ``raw_max``), in the method's own units.
        extras: method-specific diagnostics, e.g. ``convergence_delta`` for Integrated Gradients, and
            ``signed`` (from :func:`heatmap_from_raw`): the raw map as (h, w) float32 shares of all evidence,
            for and against, ``raw / sum(|raw|)`` (all zero for an all-zero map); see :func:`signed_shares`.
    """

    values: NDArray[np.float32]
    grid: str
    method: str
    target: int
    input_size: tuple[int, int]
    params: Mapping[str, Any] = field(default_factory=dict)
    raw_stats: Mapping[str, float] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float32, copy=True)
        if values.ndim != 2:
            raise ValueError(f"Heatmap values must be 2-D (h, w), got shape {values.shape}.")
        if self.grid not in GRIDS:
            raise ValueError(f"Heatmap grid must be one of {GRIDS}, got {self.grid!r}.")
        if not np.all(np.isfinite(values)) or values.min() < 0:
            raise ValueError(
                "Heatmap values must be finite and nonnegative; build them with heatmap_from_raw()."
            )
        total = float(values.sum(dtype=np.float64))
        if total != 0 and abs(total - 1) > SUM_TOLERANCE:
            raise ValueError(f"Heatmap values must sum to 1 (share of relevance), got {total:.4f}.")
        s = self.input_size
        if self.grid == "input" and values.shape != tuple(s):
            raise ValueError(f"An input-grid map must have the input's shape {s}, got {values.shape}.")
        if self.grid == "patch" and (s[0] % values.shape[0] or s[1] % values.shape[1]):
            raise ValueError(f"Patch grid {values.shape} does not divide the input size {s}.")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "input_size", (int(s[0]), int(s[1])))
        for name in ("params", "raw_stats", "extras"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __reduce__(self) -> tuple:
        """Pickle support (``st.cache_data`` pickles results; read-only mapping proxies cannot be pickled)."""
        return (
            Heatmap,
            (
                np.array(self.values),
                self.grid,
                self.method,
                self.target,
                self.input_size,
                dict(self.params),
                dict(self.raw_stats),
                dict(self.extras),
            ),
        )

    @property
    def is_empty(self) -> bool:
        """True when the method found no positive evidence for the target (all values 0)."""
        return not bool(self.values.any())

    @property
    def cells(self) -> int:
        """Number of cells in the map (h * w)."""
        return int(self.values.size)

    def relative(self) -> NDArray[np.float32]:
        """(h, w) float32 "x uniform" display values: share x cells (1 = an average cell)."""
        return self.values * np.float32(self.cells)

    def on_input_grid(self) -> NDArray[np.float32]:
        """(S, S) float32 shares on the input grid (a patch's share spread evenly over its pixels)."""
        if self.grid == "input":
            return self.values.copy()
        h, w = self.values.shape
        ph, pw = self.input_size[0] // h, self.input_size[1] // w
        return np.kron(self.values, np.ones((ph, pw), np.float32)) / np.float32(ph * pw)

    def on_patch_grid(self, patch_size: int) -> NDArray[np.float32]:
        """(S/p, S/p) float32 shares summed over each ``patch_size`` square (the deletion/insertion unit)."""
        grid = self.on_input_grid()
        s0, s1 = self.input_size
        if s0 % patch_size or s1 % patch_size:
            raise ValueError(f"patch_size {patch_size} does not divide the input size {self.input_size}.")
        return grid.reshape(s0 // patch_size, patch_size, s1 // patch_size, patch_size).sum(axis=(1, 3))

    def on_original(self, geometry: Geometry, *, smooth: bool = True) -> NDArray[np.float32]:
        """Draw the "x uniform" map onto the original scan, pixel for pixel.

        Args:
            geometry: the :class:`~model.preprocess.Geometry` returned when the scan was preprocessed.
            smooth: bilinear (display) or nearest-neighbour (exact patch borders) resampling.

        Returns:
            (H, W) float32 in "x uniform" units over the crop box the model saw; 0 outside it.
        """
        if tuple(geometry.input_size) != self.input_size:
            raise ValueError(f"Geometry is for input {geometry.input_size}, the map for {self.input_size}.")
        return to_original(self.relative(), geometry, smooth=smooth)


def raw_statistics(raw: NDArray[np.floating]) -> dict[str, float]:
    """Signed summary of a raw attribution map (sum, positive and negative mass, extremes), as floats."""
    r = np.asarray(raw, dtype=np.float64)
    return {
        "raw_sum": float(r.sum()),
        "raw_positive_sum": float(r[r > 0].sum()),
        "raw_negative_sum": float(r[r < 0].sum()),
        "raw_min": float(r.min()),
        "raw_max": float(r.max()),
    }


def relevance_shares(raw: NDArray[np.floating], sign: str = "positive") -> NDArray[np.float32]:
    """Turn a raw (signed) map into nonnegative shares summing to 1 (all zero when there is no evidence).

    Args:
        raw: (h, w) attribution in any units.
        sign: ``"positive"`` keeps evidence for the class (negative values -> 0); ``"absolute"`` keeps
            magnitude regardless of direction.

    Returns:
        (h, w) float32 shares.
    """
    r = np.asarray(raw, dtype=np.float64)
    if sign == "positive":
        rel = np.clip(r, 0, None)
    elif sign == "absolute":
        rel = np.abs(r)
    else:
        raise ValueError(f"sign must be 'positive' or 'absolute', got {sign!r}.")
    total = rel.sum()
    scale = max(float(np.abs(r).max(initial=0.0)), np.finfo(np.float64).tiny)
    if not np.isfinite(total) or total <= EMPTY_RELATIVE_EPS * scale:
        return np.zeros(r.shape, np.float32)
    return (rel / total).astype(np.float32)


def signed_shares(raw: NDArray[np.floating]) -> NDArray[np.float32]:
    """The raw map as signed shares of all evidence: ``raw / sum(|raw|)`` (all zero when there is none).

    Args:
        raw: (h, w) signed attribution in any units.

    Returns:
        (h, w) float32; positive = evidence for the class, negative = against; ``sum(|.|) == 1``.
    """
    r = np.asarray(raw, dtype=np.float64)
    total = float(np.abs(r).sum())
    if not np.isfinite(total) or total == 0:
        return np.zeros(r.shape, np.float32)
    return (r / total).astype(np.float32)


def heatmap_from_raw(
    raw: NDArray[np.floating],
    *,
    grid: str,
    method: str,
    target: int,
    input_size: tuple[int, int],
    params: Mapping[str, Any],
    extras: Mapping[str, Any] | None = None,
    sign: str = "positive",
) -> Heatmap:
    """Build a :class:`Heatmap` from a raw (h, w) attribution, recording its signed statistics.

    The signed map is kept in ``extras["signed"]`` (:func:`signed_shares`) for the signed view of evidence
    for and against the class; ``values`` stay the nonnegative shares of the chosen ``sign``.

    Args:
        raw: (h, w) signed attribution in the method's own units (any float dtype).
        grid: ``"patch"`` (h, w = patch grid) or ``"input"`` (h, w = model input).
        method: registry name of the method that made it.
        target: class index explained.
        input_size: (S0, S1) of the model input the map covers.
        params: parameters actually used (defaults filled in).
        extras: method-specific diagnostics; ``"signed"`` is added.
        sign: ``"positive"`` or ``"absolute"`` (see :func:`relevance_shares`).

    Returns:
        :class:`Heatmap` whose ``values`` are (h, w) float32 shares summing to 1 (or all zero).

    Raises:
        ValueError: an unknown ``sign``, or a ``raw``/``grid`` that is not a valid map.
    """
    return Heatmap(
        values=relevance_shares(raw, sign),
        grid=grid,
        method=method,
        target=int(target),
        input_size=input_size,
        params=params,
        raw_stats=raw_statistics(raw),
        extras={**(extras or {}), "signed": signed_shares(raw)},
    )
