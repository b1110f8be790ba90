"""The Learn page's walk-through: one section per step of :data:`model.explain.lesson.STEPS`, in that order.

Each ``show_*`` draws one step on the lesson phantom; :func:`show_try_real_scan` hands over to the Explain
page. Keys: ``learn.phantom``, ``learn.layer``, ``learn.target``, ``learn.slow``, ``learn.try_real``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from dashboard import explain_view, resources, settings, widgets, widgets_eval
from dashboard.safe_text import plain
from model.data.scan import Scan
from model.evaluate.artifacts import ArtifactError
from model.explain import lesson
from model.explain.registry import EXPLAINERS
from model.figures import evaluation
from model.figures import learn as figures_learn
from model.figures import maps as figures
from model.inference import FirstLook
from model.loading import Classifier

EXPLAIN_PAGE = "../pages/explain.py"


@dataclass(frozen=True)
class Lesson:
    """What every step draws on: the model, the phantom (bytes, hash, decoded) and its first forward pass."""

    classifier: Classifier
    sha: str
    data: bytes
    scan: Scan
    look: FirstLook


def prepare(classifier: Classifier) -> Lesson:
    """The lesson phantom (blob on or off, centred on one of this model's patches) and its first look."""
    rows, _ = classifier.patch_grid
    _, data = lesson.lesson_phantom(rows, widgets.show_phantom(key="learn.phantom"))
    sha = hashlib.sha256(data).hexdigest()
    scan = resources.load_scan_cached(sha, data)
    with st.spinner("Running the model on the phantom…"):
        look = resources.first_look_cached(classifier.source, classifier.fingerprint, sha, data, 1.0)
    return Lesson(classifier, sha, data, scan, look)


def _step_header(key: str) -> None:
    index = next(i for i, step in enumerate(lesson.STEPS) if step.key == key)
    st.header(lesson.step_titles()[index])
    st.write(lesson.STEPS[index].text)


def show_image_and_patches(ls: Lesson) -> None:
    """Steps 1 and 2: the scan and the model's square input, then the patch grid and the CLS token."""
    layout, pixels, _ = lesson.patch_layout(ls.classifier, ls.scan.image)
    _step_header("image")
    left, right = st.columns(2)
    left.image(ls.scan.image, caption=f"The phantom, {ls.scan.image.width}×{ls.scan.image.height} px")
    right.image(pixels, caption=f"What the model receives: {layout.input_size}×{layout.input_size} px")
    _step_header("patches")
    text, picture = st.columns([3, 2], gap="medium")
    text.markdown(
        f"- **{layout.rows} × {layout.cols} patches** of {layout.patch_size} × {layout.patch_size} px\n"
        f"- plus **1 CLS token** = **{layout.tokens} tokens**\n"
        "- the outlined patch is the brightest one: the phantom's blob sits in its middle, so maps with one "
        "value per patch can line up with it."
    )
    with picture:
        widgets_eval.show_figure(
            figures_learn.build_patch_grid_figure(ls.scan.image, layout, "Patch grid on the phantom")
        )


def show_attention_and_rollout(ls: Lesson) -> None:
    """Steps 3 and 4: each head's CLS attention at a chosen layer, then rollout up to that layer."""
    with st.spinner("Reading the attention of every layer and head…"):
        maps = resources.layer_maps_cached(ls.classifier.source, ls.classifier.fingerprint, ls.sha, ls.data)
    _step_header("attention")
    layer = widgets.show_layer(maps.heads.shape[0])
    heads = figures.build_heads_figure(
        ls.scan.image, maps.heads[layer - 1], maps.rollout[layer - 1], maps.geometry, layer
    )
    widgets_eval.show_figure(heads)
    _step_header("rollout")
    strip = figures_learn.build_rollout_strip(ls.scan.image, maps.rollout, maps.geometry, layer)
    widgets_eval.show_figure(strip, width=figures_learn.strip_width_px(layer))
    st.caption(
        "Colours use the Explain page's shared scale (× uniform, 0 to 5). Move the layer slider above to "
        "add layers: early layers spread attention evenly, later ones concentrate it."
    )


def _map_figure(ls: Lesson, method: str, target: int) -> object:
    with st.spinner(f"Computing {EXPLAINERS[method].label}…"):
        record = explain_view.map_record(ls.classifier, ls.sha, ls.data, ls.look, method, target)
    explainer = EXPLAINERS[method]
    why = f"why {ls.classifier.labels[target]}" if explainer.class_specific else "any class"
    title = f"{explainer.label}: {why}"
    return figures.build_map_figure(ls.scan.image, record, ls.look.geometry, title)


def show_gradients(ls: Lesson) -> int:
    """Step 5: class-specific gradient maps beside rollout, with the class switch; returns the class."""
    _step_header("gradients")
    labels = ls.classifier.labels
    target = widgets.show_target(labels, ls.look.prediction.predicted, ls.sha, key="learn.target")
    columns = st.columns(len(lesson.GRADIENT_METHODS) + 1)
    for column, method in zip(columns, ("attention_rollout", *lesson.GRADIENT_METHODS), strict=True):
        with column:
            widgets_eval.show_figure(_map_figure(ls, method, target))
    st.caption(
        f"The model says **{labels[ls.look.prediction.predicted]}** for the phantom. Switch the class: the "
        "gradient maps change, attention rollout (left) stays the same."
    )
    return target


def show_perturbation(ls: Lesson, target: int) -> None:
    """Step 6: deletion / insertion of the gradient map's top patches against a random order."""
    _step_header("perturbation")
    cl, method = ls.classifier, lesson.PERTURBATION_METHOD
    with st.spinner("Hiding patches one step at a time…"):
        ranked = resources.faithfulness_cached(cl.source, cl.fingerprint, ls.sha, ls.data, method, target, ())
        rand = resources.random_faithfulness_cached(cl.source, cl.fingerprint, ls.sha, ls.data, target)
    curves = {
        EXPLAINERS[method].label: (ranked.fractions, ranked.deletion, ranked.insertion),
        "random order": (rand.fractions, rand.deletion, rand.insertion),
    }
    widgets_eval.show_figure(evaluation.build_deletion_insertion_figure(curves))
    reading = lesson.perturbation_reading(
        (ranked.deletion_auc, ranked.insertion_auc), (rand.deletion_auc, rand.insertion_auc)
    )
    st.markdown(f"**{reading}**")
    st.caption(
        f"Probability of *{cl.labels[target]}* as patches are hidden, most relevant first. Deletion area "
        f"{ranked.deletion_auc:.2f} for the map against {rand.deletion_auc:.2f} for a random order (lower is "
        f"better); insertion {ranked.insertion_auc:.2f} against {rand.insertion_auc:.2f} (higher is better). "
        "One scan is a hint only: the Explanation-quality page averages over many. Occlusion, in the list "
        "below, hides one patch at a time."
    )


def show_method_reference(ls: Lesson, target: int) -> None:
    """After the walk-through: every registered method in brief, with its map for the chosen class."""
    st.header("All methods at a glance")
    draw_slow = widgets.show_slow_methods()
    for method, explainer in EXPLAINERS.items():
        text, picture = st.columns([3, 2], gap="medium")
        with text:
            st.subheader(explainer.label)
            st.write(explainer.description)
            kind = "class-specific" if explainer.class_specific else "the same map for every class"
            st.caption(f"{explainer.reference} · {explainer.speed} · {kind}")
        with picture:
            if explainer.speed == "slow" and not draw_slow:
                st.info("Slow method: switch on “Draw the slow methods too” above to see it.")
                continue
            widgets_eval.show_figure(_map_figure(ls, method, target))


def _real_case() -> tuple[str, str] | None:
    """(data-root-relative path, split) of a correctly answered saved case, when there are images."""
    if settings.data_dir() is None:
        return None
    try:
        evaluations, _ = resources.load_evaluations(settings.eval_dir())
    except ArtifactError:
        return None
    for ev in sorted(evaluations, key=lambda e: e.name != "test"):  # the test split first
        right = ev.records[ev.records["label"] == ev.records["predicted"]]  # a correct answer to start with
        if len(right):
            return str(right["path"].iloc[0]), ev.name
    return None


def show_try_real_scan() -> None:
    """Button: open the Explain page on a real scan (a saved case when there are images, else an upload)."""
    st.header("Now try it on a real scan")
    case = _real_case()
    where = f"case {plain(case[0])} of the {plain(case[1])} split" if case else "an upload of your own"
    st.write(f"The Explain page shows the same maps, with the answer and how far to trust them, for {where}.")
    if st.button("Try the same on a real scan", key="learn.try_real", icon=":material/image_search:"):
        if case:
            st.session_state["explain.case_path"], st.session_state["explain.split"] = case
        else:
            st.session_state["explain.source"] = "upload"
        st.switch_page(EXPLAIN_PAGE)
