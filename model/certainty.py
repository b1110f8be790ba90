"""How sure is an answer? The one definition of the unsure band, and the plain-words reading of an answer.

Every page and the case report read a prediction through :func:`read_answer`, so a 52 % answer is never
shown in the same large type as a 94 % one, a failed input check is said first and marks the answer
unreliable, and the test-time-augmentation spread is explained as what it is (stability under small changes
of the image, not a probability of being right). The Error audit's default "unsure" band is
:data:`UNSURE_BAND` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# P(positive) in this closed band counts as unsure: the answer could flip with a small change of the scan or
# of the threshold. The Error audit lists these cases as "low confidence" by default.
UNSURE_BAND: tuple[float, float] = (0.35, 0.65)
# TTA spread (std of P(positive) over the views) above which an answer is called unstable: 5 percentage
# points is about the size of the shift between a clear and a borderline answer near the band's edge.
UNSTABLE_TTA_STD = 0.05

CLEAR, BORDERLINE, UNRELIABLE = "clear", "borderline", "unreliable"


@dataclass(frozen=True)
class AnswerReading:
    """An answer in plain words.

    Attributes:
        level: :data:`CLEAR`, :data:`BORDERLINE` (P inside the unsure band) or :data:`UNRELIABLE` (the
            input check failed: the scan is unlike the training scans).
        headline: what the large-type answer says (e.g. ``"tumor"``, ``"borderline (leans tumor)"``).
        sentence: one sentence saying how far to trust it.
        stability: one sentence reading the TTA spread.
    """

    level: str
    headline: str
    sentence: str
    stability: str


def is_unsure(p_positive: float, band: tuple[float, float] = UNSURE_BAND) -> bool:
    """Whether a positive-class probability falls inside the unsure band (inclusive).

    Args:
        p_positive: P(positive class) in [0, 1].
        band: (low, high), default :data:`UNSURE_BAND`.
    """
    return band[0] <= float(p_positive) <= band[1]


def stability_text(tta_std: float, n_views: int, positive: str) -> str:
    """What the TTA spread means, in words (it is not a probability of being right).

    Args:
        tta_std: standard deviation of P(positive) over the views, in [0, 0.5].
        n_views: number of views (1 means no TTA was run).
        positive: name of the positive class.
    """
    if n_views < 2:
        return "Stability was not checked (no augmented views)."
    how = "unstable" if tta_std > UNSTABLE_TTA_STD else "stable"
    return (
        f"The answer is {how} under small changes of the image: over {n_views} flipped or shifted views, "
        f"P({positive}) moves by ± {tta_std:.1%}. This measures stability, not the chance of being right: "
        "a stable answer can still be wrong."
    )


def read_answer(
    p_positive: float,
    labels: Sequence[str],
    positive_index: int,
    tta_std: float = 0.0,
    n_views: int = 1,
    input_flags: Sequence[str] = (),
) -> AnswerReading:
    """Read a two-class answer: clear, borderline (inside :data:`UNSURE_BAND`) or unreliable (bad input).

    Args:
        p_positive: the probability shown (raw or calibrated; the caller says which) of the positive class.
        labels: class names in index order (two classes).
        positive_index: index of the positive class in ``labels``.
        tta_std: spread of P(positive) over the test-time-augmentation views.
        n_views: number of those views.
        input_flags: the input check's warnings; any flag makes the answer unreliable.

    Returns:
        An :class:`AnswerReading`; the predicted class is the more probable one.
    """
    positive = labels[positive_index]
    negative = next(name for i, name in enumerate(labels) if i != positive_index)
    leans = positive if p_positive >= 0.5 else negative
    stability = stability_text(tta_std, n_views, positive)
    if input_flags:
        return AnswerReading(
            UNRELIABLE,
            f"unreliable ({leans}?)",
            "The input check failed: this image is unlike the scans the model was trained on, so its "
            "answer means little.",
            stability,
        )
    if is_unsure(p_positive):
        low, high = UNSURE_BAND
        return AnswerReading(
            BORDERLINE,
            f"borderline (leans {leans})",
            f"P({positive}) = {p_positive:.0%} is inside the unsure band {low:.0%}–{high:.0%}: the model "
            "cannot tell. Do not read this as an answer either way.",
            stability,
        )
    return AnswerReading(
        CLEAR,
        leans,
        f"P({positive}) = {p_positive:.0%} is outside the unsure band {UNSURE_BAND[0]:.0%}–"
        f"{UNSURE_BAND[1]:.0%}; the model is clear, which does not make it right.",
        stability,
    )
