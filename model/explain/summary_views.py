"""Typed, frozen views of a saved explanation summary (``summary.json`` of :mod:`model.explain.summary`).

:func:`model.explain.summary.read_explanation_summary` builds them once, after its checks, so readers write
``summary.methods["gradcam"].deletion_auc.mean`` instead of string keys. Undefined numbers are NaN; a method
that was not sanity-checked has ``sanity.passed`` None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from model.evaluate.result_views import Interval


def _real(value: object) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class MeanScore:
    """A per-case score's mean over the cases where it was measured, its 95 % interval and that count."""

    mean: float
    ci95: Interval
    n: int


@dataclass(frozen=True)
class MaskShare(MeanScore):
    """The share of relevance inside the tumour mask, and the mask's share of the image (its chance level)."""

    area_share: float


@dataclass(frozen=True)
class PointingGame:
    """How often the map's peak falls in the tumour mask, its interval, cases scored and chance rate."""

    hit_rate: float
    ci95: Interval
    n: int
    chance: float


@dataclass(frozen=True)
class Sanity:
    """The model-randomisation check: cases, pass rate with interval, median rank correlation, verdict."""

    n: int
    pass_rate: float
    ci95: Interval
    median_spearman: float
    passed: bool | None


@dataclass(frozen=True)
class Curves:
    """Mean deletion and insertion curves over the fraction of patches removed or inserted."""

    fractions: tuple[float, ...]
    deletion: tuple[float, ...]
    insertion: tuple[float, ...]


@dataclass(frozen=True)
class MethodSummary:
    """One method's entry of the summary."""

    label: str
    n_cases: int
    deletion_auc: MeanScore
    insertion_auc: MeanScore
    mask_share: MaskShare
    pointing_game: PointingGame
    sanity: Sanity
    curves: Curves | None

    @classmethod
    def from_dict(cls, name: str, m: Mapping) -> MethodSummary:
        """From a saved ``methods`` entry (nulls for undefined numbers).

        Args:
            name: the method's key in ``methods``, used as its label when the entry has none.
            m: the saved entry (keys as in :mod:`model.explain.summary`).

        Returns:
            The typed entry; nulls become NaN.

        Raises:
            KeyError, TypeError, ValueError, IndexError: a block is missing or mistyped.
        """
        pg, sc, share = m["pointing_game"], m["sanity"], m["mask_share"]
        curves = m.get("curves")
        return cls(
            label=str(m.get("label", name)),
            n_cases=int(m["n_cases"]),
            deletion_auc=_mean_score(m["deletion_auc"]),
            insertion_auc=_mean_score(m["insertion_auc"]),
            mask_share=MaskShare(**vars(_mean_score(share)), area_share=_real(share["area_share"])),
            pointing_game=PointingGame(
                _real(pg["hit_rate"]), Interval.from_pair(pg["ci95"]), int(pg["n"]), _real(pg["chance"])
            ),
            sanity=Sanity(
                int(sc["n"]),
                _real(sc["pass_rate"]),
                Interval.from_pair(sc["ci95"]),
                _real(sc["median_spearman"]),
                None if sc.get("passed") is None else bool(sc["passed"]),
            ),
            curves=None if curves is None else Curves(*(_reals(curves[k]) for k in CURVE_KEYS)),
        )


CURVE_KEYS = ("fractions", "deletion", "insertion")


def _reals(values: object) -> tuple[float, ...]:
    return tuple(_real(v) for v in values)


def _mean_score(block: Mapping) -> MeanScore:
    return MeanScore(_real(block["mean"]), Interval.from_pair(block["ci95"]), int(block["n"]))


@dataclass(frozen=True)
class SummaryInfo:
    """What the summary was computed on and with; counts the file does not record are None."""

    split: str
    checkpoint: str
    n_cases: int | None
    steps: int | None
    sanity_cases: int | None
    sanity_threshold: float
    methods: Mapping[str, MethodSummary]

    @classmethod
    def from_dict(cls, summary: Mapping) -> SummaryInfo:
        """From a whole ``summary.json``.

        Raises:
            KeyError, TypeError, ValueError, IndexError: a block is missing or mistyped.
        """
        settings = summary["settings"]
        return cls(
            split=str(summary["split"]),
            checkpoint=str(summary["checkpoint"]),
            n_cases=_count(summary.get("n_cases")),
            steps=_count(settings.get("steps")),
            sanity_cases=_count(settings.get("sanity_cases")),
            sanity_threshold=_number(settings["sanity_threshold"]),
            methods={name: MethodSummary.from_dict(name, m) for name, m in summary["methods"].items()},
        )


def _number(value: object) -> float:
    """A real number as saved (an int stays an int, so it prints as written)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r:.40}")
    return value


def _count(value: object) -> int | None:
    return None if value is None else int(value)
