"""One line per method for the report: how far its maps can be trusted on this model.

Read from the saved explanation-quality summary (:mod:`model.explain.summary`): faithfulness against the
random patch ranking (deletion lower and insertion higher is better) and localisation against the share of
the image the tumour masks cover. Minimal and self-contained, so a fuller verdict module can replace it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from model.explain.summary import RANDOM_REFERENCE

NO_SUMMARY = "not measured: no saved explanation-quality summary for this model"


def _finite(*values: object) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _versus(entry: Mapping, reference: Mapping, key: str, lower_is_better: bool) -> str | None:
    score, ref = entry.get(key) or {}, (reference.get(key) or {}).get("mean")
    mean, (low, high) = score.get("mean"), (score.get("ci95") or [None, None])
    if not _finite(mean, low, high, ref):
        return None
    better = high < ref if lower_is_better else low > ref
    worse = low > ref if lower_is_better else high < ref
    word = "better than" if better else "worse than" if worse else "not distinguishable from"
    return f"{key.split('_')[0]} {mean:.2f} ({low:.2f}–{high:.2f}) {word} random {ref:.2f}"


def _localisation(entry: Mapping) -> str | None:
    share = entry.get("mask_share") or {}
    mean, chance = share.get("mean"), share.get("area_share")
    if not _finite(mean, chance):
        return None
    verdict = "above" if mean > chance else "not above"
    return f"{mean:.0%} of the map inside the tumour masks, {verdict} chance {chance:.0%}"


def trust_line(summary: Mapping | None, method: str) -> str:
    """How far one method's maps can be trusted, in one line.

    Args:
        summary: the saved summary dict (``ExplanationSummary.summary``), or None when there is none.
        method: registry key (e.g. ``"gradcam"``).

    Returns:
        E.g. ``"deletion 0.45 (0.33–0.57) better than random 0.68; 1% of the map inside the tumour masks,
        not above chance 4% (26 test scans)"``, or a sentence saying why it was not measured.
    """
    if not summary or method not in (summary.get("methods") or {}):
        return NO_SUMMARY if not summary else "not measured for this method in the saved summary"
    methods = summary["methods"]
    entry, reference = methods[method], methods.get(RANDOM_REFERENCE, {})
    parts = [
        _versus(entry, reference, "deletion_auc", lower_is_better=True),
        _versus(entry, reference, "insertion_auc", lower_is_better=False),
        _localisation(entry),
    ]
    text = "; ".join(p for p in parts if p) or "no usable score in the saved summary"
    return f"{text} ({summary.get('n_cases', '?')} {summary.get('split', '')} scans)".replace("  ", " ")


def trust_lines(summary: Mapping | None, methods: list[str]) -> dict[str, str]:
    """:func:`trust_line` for each registry key in ``methods``.

    Args:
        summary: the saved summary dict (``ExplanationSummary.summary``), or None when there is none.
        methods: registry keys (e.g. ``["gradcam", "rollout"]``).

    Returns:
        Registry key -> one-line trust text, as :func:`trust_line` gives it.
    """
    return {m: trust_line(summary, m) for m in methods}
