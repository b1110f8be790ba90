"""Compare-page sections: pick A and B, the paired table in plain words, curves, and the disagreement gallery.

A is the reference (default: the kept from-scratch baseline), B the candidate (default: the bundled model);
both defaults come from :func:`dashboard.settings.default_comparison`. Every number comes from
:func:`model.evaluate.comparison.compare_evaluations` (through ``resources.split_comparison``); this module
picks,
formats and arranges. Each disagreement shows both models' probabilities and the same method's map from each
model, drawn by ``audit_view.thumbnail`` on the one fixed "× uniform" colour scale. "Open in Explain with A/B"
points the sidebar's model and evaluation fields at that side, then hands the case over exactly as the Error
audit does (``audit_view.open_in_explain``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from dashboard import audit_view, resources, settings, tables, widgets_eval
from model.errors import MriExplainError
from model.evaluate.artifacts import Evaluation, list_evaluations
from model.evaluate.metrics import LOWER_IS_BETTER
from model.explain.registry import EXPLAINERS
from model.figures import compare as figures_compare
from model.figures import evaluation as figures_eval
from model.figures import maps as figures
from model.loading import Classifier

SIDES = ("A", "B")
SIDE_TITLES = {"A": "A (reference)", "B": "B (candidate)"}
GALLERY_MAX = 6  # disagreements drawn (two maps each); the table lists them all
SIGNIFICANCE = 0.05  # the conventional level, only to choose the wording of the McNemar sentence
MAP_WIDTH_PX = 300
DISAGREEMENT_COLUMNS = ("path", "label", "predicted_a", "p_a", "predicted_b", "p_b", "group", "sha256")


@dataclass(frozen=True)
class Side:
    """One model of the comparison: its name (A or B), evaluation folder and model source ("" for none)."""

    name: str
    eval_dir: Path
    model: str


def _field(label: str, key: str, default: str, help_text: str) -> str:
    st.session_state.setdefault(key, default)
    return st.text_input(label, key=key, help=help_text).strip()


def show_sides() -> tuple[Side, Side]:
    """Two columns of fields (evaluation folder, optional model folder or hub id) for A and B."""
    defaults = settings.default_comparison()
    sides = []
    for name, column in zip(SIDES, st.columns(2, gap="large"), strict=True):
        model_default, eval_default = defaults[name]
        with column:
            st.markdown(f"**{SIDE_TITLES[name]}**")
            folder = _field(
                "Evaluation folder",
                f"compare.{name.lower()}_eval",
                eval_default,
                "Written by python -m model.evaluate.",
            )
            model = _field(
                "Model for the maps (optional)",
                f"compare.{name.lower()}_model",
                model_default,
                "A save_pretrained folder or a hub id in the local cache; empty: no maps for this side.",
            )
        sides.append(Side(name, Path(settings.resolve(folder)), settings.resolve(model) if model else ""))
    return sides[0], sides[1]


def shared_names(a: Side, b: Side) -> list[str]:
    """Evaluation names saved in both folders, in the usual split order."""
    in_b = set(list_evaluations(b.eval_dir))
    return [n for n in list_evaluations(a.eval_dir) if n in in_b]


def no_shared_help(a: Side, b: Side) -> str:
    """One sentence for two folders without a shared evaluation."""
    found = {s.name: list_evaluations(s.eval_dir) for s in (a, b)}
    return (
        f"A (`{a.eval_dir}`: {found['A'] or 'nothing'}) and B (`{b.eval_dir}`: "
        f"{found['B'] or 'nothing'}) share no saved evaluation: evaluate both models on the same split "
        "manifest with `python -m model.evaluate`."
    )


def load(a: Side, b: Side, name: str) -> tuple[dict[str, Evaluation], dict]:
    """({"A": evaluation, "B": evaluation}, the split's comparison); raises ``ArtifactError`` with the fix."""
    result = resources.split_comparison(a.eval_dir, b.eval_dir, name)
    return {s.name: resources.load_evaluation(s.eval_dir, name) for s in (a, b)}, result


def describe(evs: dict[str, Evaluation], result: dict, name: str) -> str:
    """One line: the split, its size, both checkpoints."""
    same = evs["A"].checkpoint == evs["B"].checkpoint
    return (
        f"'{name}': the same {result['n']} scans ({result['n_groups']} duplicate groups) for both; A "
        f"is model `{evs['A'].checkpoint}`, B is model `{evs['B'].checkpoint}`; threshold "
        f"{tables.saved_threshold(evs['A']):.2f}. Every difference is B − A."
        + (" A and B have the same weights, so expect no difference." if same else "")
    )


def verdict(metric: str, low: float, high: float) -> str:
    """Plain words for a paired interval: which model is better, or that the data cannot tell."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval"
    if low == high == 0.0:
        return "no difference"
    if low <= 0.0 <= high:
        return "no clear difference"
    b_higher = low > 0.0
    return "B better" if b_higher != (metric in LOWER_IS_BETTER) else "A better"


def difference_cell(value: float, low: float, high: float) -> str:
    """``"+0.167 (−0.167 to +0.500)"``: signed, with "to" so negative bounds read unambiguously."""
    if not math.isfinite(value):
        return tables.NOT_AVAILABLE
    text = f"{value:+.3f}"
    if math.isfinite(low) and math.isfinite(high):
        text += f" ({low:+.3f} to {high:+.3f})"
    return text.replace("-", "−")


def paired_frame(result: dict) -> pd.DataFrame:
    """One row per metric: A and B with their intervals, B − A with its paired interval, and the verdict."""
    rows = {}
    for metric, title in tables.METRIC_NAMES.items():
        a, b, d = result["a"], result["b"], result["difference"][metric]
        cells = [
            tables.format_interval(s["metrics"][metric], *(s["ci95"] or {}).get(metric, (None, None)))
            for s in (a, b)
        ]
        rows[title] = {
            "A (95% CI)": cells[0],
            "B (95% CI)": cells[1],
            "B − A (paired 95% CI)": difference_cell(d["value"], *d["ci95"]),
            "reading": verdict(metric, *d["ci95"]),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "metric"
    return frame


def difference_figure(result: dict) -> Figure:
    """The paired differences of the headline metrics as a forest plot."""
    names = [tables.METRIC_NAMES[m] for m in tables.HEADLINE]
    diffs = [result["difference"][m] for m in tables.HEADLINE]
    return figures_compare.build_difference_figure(
        names, [d["value"] for d in diffs], [d["ci95"][0] for d in diffs], [d["ci95"][1] for d in diffs]
    )


def mcnemar_text(result: dict, name: str) -> str:
    """The exact McNemar test in plain words."""
    mc = result["mcnemar"]
    b, c, p = mc["only_a_correct"], mc["only_b_correct"], mc["p_value"]
    head = (
        f"On the {result['n']} scans of '{name}', both models are right on {mc['both_correct']} and "
        f"both wrong on {mc['both_wrong']}. Only A is right on **{b}**, only B on **{c}**."
    )
    if b + c == 0:
        return head + " They never disagree on right and wrong, so the test has nothing to weigh."
    tail = (
        f" If the two were equally accurate, a split of these {b + c} scans at least this uneven would "
        f"happen with probability **p = {p:.3g}** (exact McNemar test)"
    )
    if p < SIGNIFICANCE:
        return head + tail + f": unlikely to be chance; {'B' if c > b else 'A'} is more accurate here."
    return head + tail + ": it could well be chance; these scans cannot tell the two apart."


def roc_figure(sides: tuple[Side, Side], evs: dict[str, Evaluation], name: str) -> Figure:
    """Both models' ROC curves on the same scans, overlaid."""
    curves = {}
    for side in sides:
        ev = evs[side.name]
        roc, _ = resources.curves(side.eval_dir, ev, False)
        curves[SIDE_TITLES[side.name]] = (roc["fpr"], roc["tpr"], ev.results["metrics"]["roc_auc"])
    return figures_compare.build_roc_overlay_figure(curves, title=f"ROC curves, {name}")


def reliability_figure(side: Side, ev: Evaluation) -> Figure:
    """One model's reliability diagram (raw and, when saved, calibrated), for side-by-side display."""
    curves, ece = tables.reliability_curves(ev)
    return figures_eval.build_reliability_figure(curves, ece, title=f"Reliability, {SIDE_TITLES[side.name]}")


def _quality_cell(block: dict, value_key: str = "mean") -> str:
    return tables.format_interval(block.get(value_key), *(block.get("ci95") or (None, None)))


QUALITY_COLUMNS = {
    "deletion AUC ↓": lambda m: _quality_cell(m["deletion_auc"]),
    "insertion AUC ↑": lambda m: _quality_cell(m["insertion_auc"]),
    "pointing game ↑": lambda m: _quality_cell(m["pointing_game"], "hit_rate"),
    "sanity: median ρ ↓": lambda m: tables.format_interval(m["sanity"].get("median_spearman")),
}


def explanation_frame(block: dict) -> pd.DataFrame:
    """Explanation quality of the methods both summaries hold: one row per method, A and B per measure."""
    rows = {}
    for entry in block["methods"].values():
        row = {}
        for title, cell in QUALITY_COLUMNS.items():
            for side in SIDES:
                row[f"{title} · {side}"] = cell(entry[side.lower()])
        rows[entry["label"]] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = f"method ({block['split']} split)"
    return frame


def render_explanations(a: Side, b: Side, names: list[str]) -> None:
    """The side-by-side explanation-quality table, or a caption saying why there is none."""
    block, note = resources.explanation_comparison(a.eval_dir, b.eval_dir, names)
    if block is None:
        st.caption(f"No side-by-side explanation quality: {note}")
        return
    st.dataframe(explanation_frame(block))
    st.caption(f"From each folder's `explanations/summary.json` (python -m model.explain). {note}")


def _classifier(side: Side, ev: Evaluation) -> Classifier | str:
    """The side's model, or why no maps can be drawn for it."""
    if not side.model:
        return f"{side.name}: no model given, so no maps."
    try:
        loaded = resources.load_classifier_cached(side.model)
    except MriExplainError as err:  # ModelLoadError, LabelMismatchError
        return f"{side.name}: {err}"
    if loaded.fingerprint != ev.checkpoint:
        st.warning(
            f"{side.name}'s maps come from model `{loaded.fingerprint}`, but its evaluation was made with "
            f"`{ev.checkpoint}`: the two may disagree."
        )
    return loaded


def _prepare_explain(side: Side) -> None:
    """Button callback: point the sidebar's model and evaluation fields at this side before switching."""
    st.session_state[settings.KEY_MODEL] = side.model
    st.session_state[settings.KEY_EVAL] = str(side.eval_dir)


def _map_panel(
    side: Side, loaded: Classifier | str, case: dict, method: str, data_dir: Path, split: str
) -> None:
    p = case[f"p_{side.name.lower()}"]
    predicted = case[f"predicted_{side.name.lower()}"]
    if isinstance(loaded, str):
        st.caption(loaded)
    else:
        target = audit_view.class_target(loaded, case["positive"])
        title = f"{side.name}: {predicted}, P = {p:.2f}"
        drawn = (
            target
            if isinstance(target, str)
            else audit_view.thumbnail(loaded, data_dir, case["path"], target, method, title)
        )
        if isinstance(drawn, str):
            st.warning(drawn)
        else:
            widgets_eval.show_figure(drawn, width=MAP_WIDTH_PX)
    st.caption(f"{SIDE_TITLES[side.name]}: predicted {predicted}, P({case['positive']}) = {p:.3f}")
    key = f"compare.open.{side.name}.{case['path']}"
    if st.button(
        f"Open in Explain with {side.name}",
        key=key,
        icon=":material/open_in_new:",
        disabled=not side.model,
        on_click=_prepare_explain,
        args=(side,),
    ):
        audit_view.open_in_explain(case["path"], split)


def disagreement_frame(result: dict, evs: dict[str, Evaluation]) -> pd.DataFrame:
    """Every disagreement as a table (largest probability gap first; empty when the two always agree)."""
    positive = tables.positive_label(evs["A"])
    frame = pd.DataFrame(result["disagreements"], columns=DISAGREEMENT_COLUMNS)
    frame = frame.rename(columns={"path": "case", "label": "true label", "p_a": f"A: P({positive})"})
    return frame.rename(
        columns={"p_b": f"B: P({positive})", "predicted_a": "A says", "predicted_b": "B says"}
    )


def render_gallery(
    result: dict,
    sides: tuple[Side, Side],
    evs: dict[str, Evaluation],
    split: str,
    method: str,
    data_dir: Path,
) -> None:
    """Up to :data:`GALLERY_MAX` disagreements: both probabilities and both models' maps of ``method``."""
    positive = tables.positive_label(evs["A"])
    loaded = {side.name: _classifier(side, evs[side.name]) for side in sides}
    widgets_eval.show_figure(figures.build_colourbar_figure(), width=520)
    st.caption(f"{EXPLAINERS[method].label} of class '{positive}' from each model, on one colour scale.")
    for case in result["disagreements"][:GALLERY_MAX]:
        with st.container(border=True):
            st.markdown(f"**{case['path']}** · true label: {case['label']}")
            for side, column in zip(sides, st.columns(2), strict=True):
                with column:
                    _map_panel(
                        side, loaded[side.name], {**case, "positive": positive}, method, data_dir, split
                    )
    if len(result["disagreements"]) > GALLERY_MAX:
        st.caption(f"Showing the {GALLERY_MAX} largest probability gaps of {len(result['disagreements'])}.")


def show_method(key: str = "compare.method") -> str:
    """The explanation method drawn for both models in the gallery (fast ones first; default: rollout)."""
    names = sorted(EXPLAINERS, key=lambda m: EXPLAINERS[m].speed != "fast")
    st.session_state.setdefault(key, audit_view.THUMBNAIL_METHOD)
    return st.selectbox(
        "Map method (the same for both models)",
        names,
        key=key,
        format_func=lambda m: f"{EXPLAINERS[m].label} ({EXPLAINERS[m].speed})",
        help="Slow methods take seconds per scan and model on a CPU.",
    )
