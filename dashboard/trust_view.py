"""How far to trust a map: verdict tables, trust-ordered methods, score references, IG delta, the scale.

Verdicts come from the saved explanation-quality summary through :mod:`model.explain.trust` (one definition
of the words and thresholds); this module only lays them out. Used by the Explain page (a trust table, the
order/filter control, a line under each map) and the Explanation-quality page (the verdict table).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from numpy.typing import NDArray

from dashboard import resources, settings, widgets_eval, widgets_trust
from dashboard.safe_text import plain
from model.explain import integrated_gradients
from model.explain import trust as tr
from model.explain.heatmap import DISPLAY_MAX_X_UNIFORM, Heatmap
from model.explain.quality import localisation
from model.explain.registry import EXPLAINERS
from model.explain.summary import EVAL_SUBDIR, SUMMARY_JSON, ExplanationArtifactError
from model.figures import maps as figures
from model.figures import trust as figures_trust
from model.loading import Classifier
from model.preprocess import Geometry

ICONS = {tr.SUPPORTED: "✅", tr.MIXED: "🟡", tr.UNPROVEN: "⚪", tr.FAILS: "❌", tr.UNKNOWN: "❔"}
LOCALISATION_WORDS = {tr.BETTER: "above chance", tr.WORSE: "below chance", tr.UNCLEAR: "at chance"}
TOO_WIDE = (
    "The intervals are too wide to rank the methods against each other on these scans: read the verdicts "
    "against the random ranking and chance, not the order of the rows."
)
SCALE_CAPTION = (
    "**Scale.** Colour = the cell's share of the map's relevance × the number of cells: 1 = an average cell, "
    "{top:g} = {top:g} times the average. The same fixed scale for every method and scan (no "
    "per-image stretching, so a diffuse map stays dim). Everything above {top:g} is drawn in the top colour "
    "(the arrow at the end of the bar): a focal lesion often saturates, so differences inside it are not "
    "shown. All offered colour maps are perceptually uniform (equal steps look equal; rainbow maps like "
    "jet invent edges)."
)
SIGNED_CAPTION = (
    "**Signed view.** Red = evidence for the explained class, blue = against, white = none; ±1 = an average "
    "cell's share of all evidence. Clipped at ±{top:g} (arrows)."
)


def load_trust(classifier: Classifier) -> tuple[dict[str, tr.MethodTrust] | None, str]:
    """(method -> verdicts, note) from the saved summary of this model; None with the reason otherwise."""
    folder = settings.eval_dir() / EVAL_SUBDIR
    try:
        summary = resources.load_explanation_summary(folder)
        verdicts = resources.trust_cached(str(folder), resources.file_mtime(folder / SUMMARY_JSON))
    except ExplanationArtifactError as err:
        return None, f"No saved explanation-quality summary, so no trust verdicts: {plain(err)}"
    if summary.checkpoint != classifier.fingerprint:
        return None, (
            f"The saved explanation-quality summary is for model {plain(summary.checkpoint)}, not the "
            f"selected one (`{classifier.fingerprint}`): no trust verdicts for this model."
        )
    n = summary.summary.get("n_cases", "?")
    return verdicts, f"From the saved explanation-quality summary ({n} scans)."


def _gain(c: tr.Comparison) -> str:
    if c.word == tr.UNKNOWN:
        return "n/a"
    low, high = c.ci95
    return f"{c.gain:+.2f} ({low:+.2f} to {high:+.2f}) {c.word}"


def trust_frame(verdicts: dict[str, tr.MethodTrust]) -> pd.DataFrame:
    """One row per method, most trusted first: the verdicts and the gains (95 % intervals) behind them.

    Args:
        verdicts: registry key -> :class:`~model.explain.trust.MethodTrust`.

    Returns:
        Frame indexed by method label.
    """
    rows = {}
    for t in verdicts.values():
        sanity = {True: "pass", False: "fail"}.get(t.sanity_passed, "not checked")
        rows[t.label] = {
            "verdict": f"{ICONS[t.overall]} {t.overall}",
            "faithfulness": t.faithfulness,
            "deletion gain vs random ↑": _gain(t.deletion),
            "insertion gain vs random ↑": _gain(t.insertion),
            "localisation": LOCALISATION_WORDS.get(t.localisation, t.localisation),
            "pointing game − chance ↑": _gain(t.pointing),
            "mass in mask − area ↑": _gain(t.mask_share),
            "sanity check": sanity,
            "settings": "; ".join(_changed(t)) or "the current defaults",
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "method"
    return frame


def verdict_caption(verdicts: dict[str, tr.MethodTrust]) -> str:
    """What the verdict words mean, and whether the scans can rank the methods at all."""
    words = "; ".join(f"**{w}**: {tr.MEANINGS[w]}" for w in (tr.SUPPORTED, tr.MIXED, tr.UNPROVEN, tr.FAILS))
    text = (
        f"Gains are scan-by-scan differences from the reference (random ranking or chance; positive = "
        f"better) with 95% intervals over duplicate groups. {words}. The sanity check's pass only says the "
        "map depends on the weights, not that it names what the model uses."
    )
    return text if tr.can_rank(verdicts) else f"{text}\n\n{TOO_WIDE}"


def show_verdicts(folder: Path) -> None:
    """The Explanation-quality page's verdict table for the summary in ``folder`` (already readable)."""
    st.subheader("Verdict per method: better than a random ranking, and than chance?")
    verdicts = resources.trust_cached(str(folder), resources.file_mtime(folder / SUMMARY_JSON))
    st.dataframe(trust_frame(verdicts))
    st.caption(verdict_caption(verdicts))


def order_methods(
    methods: list[str], verdicts: dict[str, tr.MethodTrust] | None, order: str, hide_failing: bool
) -> list[str]:
    """The chosen methods, most trusted first when ``order == "trust"``, without failing ones if asked."""
    if not verdicts:
        return methods
    keep = [m for m in methods if not (hide_failing and m in verdicts and verdicts[m].fails)]
    if order != "trust":
        return keep
    unknown = (1, tr.FAITHFULNESS_RANK[tr.UNKNOWN], tr.COMPARISON_RANK[tr.UNKNOWN], 1)  # no saved verdict
    return sorted(keep, key=lambda m: verdicts[m].rank if m in verdicts else unknown, reverse=True)


def show_trust(classifier: Classifier, methods: list[str]) -> tuple[list[str], dict]:
    """The trust table and controls above the maps; returns the methods to draw and view settings.

    Returns:
        (methods in drawing order, {"trust", "order", "signed"}) for ``explain_view.render_maps``.
    """
    verdicts, note = load_trust(classifier)
    with st.expander("How far to trust each method on this model", expanded=False):
        if verdicts:
            st.dataframe(trust_frame(verdicts))
            st.caption(f"{note} {verdict_caption(verdicts)}")
        else:
            st.caption(note)
    a, b, c = st.columns([2, 1.3, 1.5])
    with a:
        order = widgets_trust.show_trust_order()
    with b:
        hide = widgets_trust.show_hide_failing()
    with c:
        signed = widgets_trust.show_signed()
    shown = order_methods(methods, verdicts, order, hide)
    if hidden := [EXPLAINERS[m].label for m in methods if m not in shown]:
        st.caption("Hidden (fail on this model): " + ", ".join(hidden))
        if not shown:
            st.info("Every chosen method fails on this model; turn off the hide toggle to see them anyway.")
    return shown, {"trust": verdicts, "order": order, "signed": signed}


def method_params(method: str) -> tuple:
    """Parameters a method runs with on the Explain page, as (name, value) pairs (cache-key friendly)."""
    steps = widgets_trust.ig_steps()
    if method == "integrated_gradients" and steps != widgets_trust.DEFAULT_IG_STEPS:
        return (("max_steps", steps),)
    return ()


def score_with_reference(classifier: Classifier, sha256: str, data: bytes, target: int, score: dict) -> dict:
    """``score`` plus the random-ranking areas and the start probabilities of this scan and class."""
    ref = resources.reference_cached(classifier.source, classifier.fingerprint, sha256, data, int(target))
    return score | {
        "random_deletion": ref.deletion_auc,
        "random_insertion": ref.insertion_auc,
        "start_probability": ref.start_probability,
        "blurred_probability": ref.blurred_probability,
    }


def score_text(score: dict) -> str:
    """ "deletion 0.45 ↓ (random 0.58) · insertion 0.70 ↑ (random 0.58) · P(class) 93 % intact, …"."""
    text = f"deletion {score['deletion']:.2f} ↓"
    if "random_deletion" in score:
        text += f" (random {score['random_deletion']:.2f})"
    text += f" · insertion {score['insertion']:.2f} ↑"
    if "random_insertion" in score:
        text += f" (random {score['random_insertion']:.2f})"
    if "start_probability" in score:
        text += (
            f" · P(class) {score['start_probability']:.0%} on the intact scan, "
            f"{score['blurred_probability']:.0%} blurred"
        )
    return text


def trust_line(method: str, verdicts: dict[str, tr.MethodTrust] | None) -> str | None:
    """One line under a map: the method's saved verdicts on this model (None without a summary)."""
    t = (verdicts or {}).get(method)
    if t is None:
        return None
    where = LOCALISATION_WORDS.get(t.localisation, "localisation not measured")
    line = f"{ICONS[t.overall]} on this model: faithfulness {t.faithfulness}, localisation {where}"
    changed = settings_changed(t)
    return f"{line} ({changed})" if changed else line


def _changed(t: tr.MethodTrust) -> list[str]:
    known = t.method in EXPLAINERS
    return tr.changed_settings(t.measured_with, EXPLAINERS[t.method].defaults) if known else []


def settings_changed(t: tr.MethodTrust) -> str:
    """A plain sentence when the verdict was measured with other settings than the map shown ('' if not)."""
    changed = _changed(t)
    if not changed:
        return ""
    return plain(
        "measured with earlier settings, not on the map shown: " + "; ".join(changed) + ". Rerun "
        "python -m model.explain to judge the current ones"
    )


def delta_text(record: Heatmap) -> tuple[str, bool] | None:
    """(sentence, target missed) on the Integrated-Gradients convergence delta; None for other methods."""
    delta = record.extras.get("convergence_delta")
    if delta is None:
        return None
    rel = record.extras.get("relative_delta")
    steps = record.extras.get("steps", record.params.get("n_steps", "?"))
    target = float(record.extras.get("delta_target", integrated_gradients.DELTA_TARGET))
    change = record.extras.get("logit", math.nan) - record.extras.get("baseline_logit", math.nan)
    if rel is None:
        return (
            f"convergence delta {delta:+.3g} at {steps} steps; the score barely changes along the path, so "
            "whether it meets the target cannot be judged",
            False,
        )
    if rel > target:
        return (
            f"the map's attributions miss the score change by {rel:.0%} even at {steps} steps (target "
            f"{target:.0%}): read it as approximate",
            True,
        )
    text = f"convergence delta {delta:+.3g} = {rel:.1%} of the logit change {change:+.3g} at {steps} steps"
    return f"{text}, within the {target:.0%} target", False


def show_delta(record: Heatmap) -> None:
    """The IG convergence delta under its map; a warning and "More steps" when the target is missed."""
    found = delta_text(record)
    if found is None:
        return
    text, missed = found
    if missed:
        st.warning(f"Integrated Gradients: {text}.")
        widgets_trust.show_more_steps()
    else:
        st.caption(f"Integrated Gradients: {text}.")


def build_map(scan_image: object, record: Heatmap, geometry: object, title: str, view: dict) -> object:
    """The map's figure: the signed view (diverging, centred at 0) when asked, else the positive view."""
    if view.get("signed"):
        return figures_trust.build_signed_map_figure(
            scan_image, record, geometry, title, view["opacity"], view.get("outline")
        )
    return figures.build_map_figure(
        scan_image, record, geometry, title, view["cmap"], view["opacity"], view.get("outline")
    )


def scan_localisation(record: Heatmap, geometry: Geometry, outline: NDArray[np.bool_] | None) -> str | None:
    """On a scan with a tumour outline: whether this map's peak hits it and its relevance inside vs area."""
    if outline is None or not outline.any() or record.values.sum() == 0:
        return None
    try:
        loc = localisation(record, geometry, outline)
    except ValueError:  # a mask drawn for another size of this scan: say nothing rather than guess
        return None
    hit = "peak inside the outline" if loc.hit else "peak outside the outline"
    share = f"{loc.mask_share:.0%} of the relevance inside it (its area: {loc.area_share:.0%})"
    return f"on this scan: {hit}, {share}"


def map_notes(method: str, record: Heatmap, view: dict, geometry: Geometry | None = None) -> list[str]:
    """Caption parts under a map: trust on this model, localisation on this scan, a sign-less signed view."""
    notes = [line] if (line := trust_line(method, view.get("trust"))) else []
    if geometry is not None and (here := scan_localisation(record, geometry, view.get("outline"))):
        notes.append(here)
    if view.get("signed") and not figures_trust.has_negative_evidence(record):
        notes.append("no evidence against the class in this map (magnitude-only or all positive)")
    return notes


def show_scale(view: dict) -> None:
    """The colour bar of the maps (positive or signed view) and what its scale and clipping mean."""
    top = DISPLAY_MAX_X_UNIFORM
    if view.get("signed"):
        widgets_eval.show_figure(figures_trust.build_signed_colourbar_figure(top), width=520)
    else:
        widgets_eval.show_figure(figures.build_colourbar_figure(view["cmap"], top), width=520)
    caption = SIGNED_CAPTION if view.get("signed") else SCALE_CAPTION
    st.caption(caption.format(top=top))
