"""Typed, frozen views of a saved evaluation's numbers (the JSON of :mod:`model.evaluate.artifacts`).

:func:`model.evaluate.artifacts.read_evaluation` builds them once, after validating the file, so readers
write ``ev.metrics.accuracy`` or ``ev.view(calibrated).interval("roc_auc").low`` instead of string keys.
:meth:`ResultView.from_dict` also takes a :func:`model.evaluate.metrics.compute_metrics` result (the same
shape), so metrics recomputed at another threshold read the same way. Undefined numbers are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray


def _real(value: object) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class Interval:
    """A 95 % bootstrap interval; both ends NaN when there is none."""

    low: float = math.nan
    high: float = math.nan

    @classmethod
    def from_pair(cls, pair: object) -> Interval:
        """From a saved ``[low, high]`` (None or nulls: NaN ends)."""
        return cls() if pair is None else cls(_real(pair[0]), _real(pair[1]))


@dataclass(frozen=True)
class ClassMetrics:
    """One class's precision, recall and F1 (NaN when undefined) and its number of true cases."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """The scalar metrics of one view (names as in ``model.evaluate.metrics.SCALARS``) and per-class ones."""

    accuracy: float
    balanced_accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    sensitivity: float
    specificity: float
    roc_auc: float
    pr_auc: float
    brier: float
    nll: float
    ece: float
    per_class: Mapping[str, ClassMetrics]

    @classmethod
    def from_dict(cls, data: Mapping) -> Metrics:
        """From a saved ``metrics`` block (nulls or NaN for undefined values)."""
        scalars = {f.name: _real(data[f.name]) for f in fields(cls) if f.name != "per_class"}
        per_class = {
            label: ClassMetrics(_real(c["precision"]), _real(c["recall"]), _real(c["f1"]), int(c["support"]))
            for label, c in data["per_class"].items()
        }
        return cls(**scalars, per_class=per_class)

    def value(self, name: str) -> float:
        """A scalar metric by name (e.g. ``"roc_auc"``).

        Raises:
            KeyError: ``name`` is not a scalar metric.
        """
        if name == "per_class" or name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width reliability bin; ``confidence`` and ``accuracy`` are NaN in an empty bin."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


def _bins(data: object) -> tuple[ReliabilityBin, ...]:
    return tuple(
        ReliabilityBin(_real(b["lower"]), _real(b["upper"]), int(b["count"]), _real(b["confidence"]),
                       _real(b["accuracy"]))
        for b in data or ()
    )  # fmt: skip


@dataclass(frozen=True)
class ResultView:
    """The raw or the calibrated numbers of an evaluation at one threshold.

    ``confusion`` rows are true labels and columns predicted labels; ``ci95`` is empty without bootstrap.
    """

    n: int
    threshold: float
    metrics: Metrics
    ci95: Mapping[str, Interval]
    undefined: Mapping[str, str]
    confusion: tuple[tuple[int, ...], ...]
    reliability_top_label: tuple[ReliabilityBin, ...]
    reliability_positive: tuple[ReliabilityBin, ...]

    @classmethod
    def from_dict(cls, data: Mapping, n: int | None = None, threshold: float | None = None) -> ResultView:
        """From a saved view or a ``compute_metrics`` result.

        Args:
            data: a dict with ``metrics``, ``ci95``, ``confusion`` and optionally ``undefined``,
                ``reliability``, ``n``, ``threshold``.
            n, threshold: used when ``data`` lacks them (a saved calibrated view holds neither).

        Raises:
            KeyError, TypeError, ValueError: a block is missing or mistyped.
        """
        ci = data.get("ci95") or {}
        reliability = data.get("reliability") or {}
        return cls(
            n=int(data["n"] if n is None else n),
            threshold=float(data["threshold"] if threshold is None else threshold),
            metrics=Metrics.from_dict(data["metrics"]),
            ci95={k: Interval.from_pair(v) for k, v in ci.items() if k != "per_class"},
            undefined=dict(data.get("undefined") or {}),
            confusion=tuple(tuple(int(c) for c in row) for row in data["confusion"]),
            reliability_top_label=_bins(reliability.get("top_label")),
            reliability_positive=_bins(reliability.get("positive")),
        )

    def interval(self, name: str) -> Interval:
        """The interval of a scalar metric (NaN ends when there is none)."""
        return self.ci95.get(name, Interval())

    def confusion_counts(self) -> NDArray[np.int64]:
        """(K, K) counts, rows = true label, columns = predicted label."""
        return np.asarray(self.confusion, dtype=np.int64)
