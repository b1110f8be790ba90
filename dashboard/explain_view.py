"""The Explain page's sections: choose a scan, show the answer first, then stream the maps in.

Hand-over from other pages (e.g. Error audit): set ``st.session_state["explain.case_path"]`` to a path
relative to the data root (as in ``{split}_predictions.csv``, e.g. ``"yes/Y12.jpg"``) and
``st.switch_page("../pages/explain.py")``, or link to ``explain?case=yes/Y12.jpg``. Either opens that case
with the source set to "A case from a saved evaluation" (the data folder must be configured).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Callable

import streamlit as st

from dashboard import layout, map_view, resources, settings, trust_view, widgets
from dashboard.safe_text import plain
from model.data.case_files import CaseFileError, read_case
from model.data.input_check import InputReferenceError
from model.data.scan import Scan, ScanError
from model.data.synthetic import phantom_image
from model.explain.heatmap import Heatmap
from model.explain.registry import EXPLAINERS
from model.inference import FirstLook
from model.loading import Classifier

CASE_KEY, HANDOFF_SEEN_KEY, QUERY_KEY = "explain.case_path", "explain.handoff_seen", "case"
QUERY_SEEN_KEY = "explain.query_seen"  # the last ?case= value applied or written, so it is applied only once
PHANTOM_SIZE = (224, 240)  # (H, W): a scan-like size, so the input check compares like with like
MAP_COLUMNS = 3


def apply_handoff() -> None:
    """Open a case handed over by query parameter ``case`` or session key ``explain.case_path`` (once)."""
    query = st.query_params.get(QUERY_KEY)
    if query and query != st.session_state.get(QUERY_SEEN_KEY):
        st.session_state[CASE_KEY] = st.session_state[QUERY_SEEN_KEY] = query
    path = st.session_state.get(CASE_KEY)
    if path and st.session_state.get(HANDOFF_SEEN_KEY) != path:
        st.session_state["explain.source"] = "case"
        st.session_state[HANDOFF_SEEN_KEY] = path


def _case_bytes() -> tuple[str, bytes] | None:
    data = settings.data_dir()
    if data is None:
        st.info(settings.data_help())
        return None
    evaluations, problems = resources.load_evaluations(settings.eval_dir())
    split = widgets.show_split([ev.name for ev in evaluations])
    if split is None:
        st.info(
            f"No saved evaluation in {plain(settings.eval_dir())} to pick cases from. "
            + " ".join(plain(p) for p in problems.values())
        )
        return None
    records = next(ev for ev in evaluations if ev.name == split).records
    captions = {r.path: f"{r.path} — true: {r.label}, predicted: {r.predicted}" for r in records.itertuples()}
    path = widgets.show_case(list(records["path"]), captions)
    if not path:
        return None
    try:  # confined to the data folder: a ?case= link cannot open any other file
        data_bytes = read_case(data, path)
    except CaseFileError as err:
        st.warning(plain(err))
        return None
    st.query_params[QUERY_KEY] = st.session_state[QUERY_SEEN_KEY] = path
    return path, data_bytes


def phantom_bytes(tumour: bool = True) -> tuple[str, bytes]:
    """(name, PNG bytes) of the demo phantom (generated; never a real scan)."""
    buf = io.BytesIO()
    phantom_image(7, PHANTOM_SIZE, tumour=tumour).save(buf, format="PNG")
    return f"phantom{'-blob' if tumour else ''}.png", buf.getvalue()


def choose_scan() -> tuple[str, bytes] | None:
    """(name, bytes) of the scan to explain: an upload, a saved case or the demo phantom; None if none yet."""
    apply_handoff()
    source = widgets.show_source()
    if source != "case":  # leaving the case view: the next hand-over of any case must open it again
        st.query_params.pop(QUERY_KEY, None)
        for key in (HANDOFF_SEEN_KEY, QUERY_SEEN_KEY, CASE_KEY):
            st.session_state.pop(key, None)
    if source == "case":
        return _case_bytes()
    if source == "phantom":
        return phantom_bytes(widgets.show_phantom())
    return widgets.show_upload()


def decode(name: str, data: bytes) -> tuple[str, Scan]:
    """(sha256, decoded scan); a bad file shows its ScanError message, the footer, and stops the page."""
    sha = hashlib.sha256(data).hexdigest()
    try:
        return sha, resources.load_scan_cached(sha, data)
    except ScanError as err:
        layout.stop_with(f"Cannot use {plain(name)}: {plain(err)}", "error")


def scan_caption(name: str, scan: Scan) -> str:
    """Markdown caption of the shown scan: its (escaped) name, decoded size, working size when reduced."""
    width, height = scan.decoded_size
    size = f"{width}×{height} px"
    if scan.image.size != scan.decoded_size:
        size += f" (shown and analysed at {scan.image.width}×{scan.image.height})"
    return f"{plain(name)} · {size} · {scan.source_format}"


def quality_warning(classifier: Classifier, sha: str, data: bytes) -> tuple[str, ...]:
    """Warn when the scan looks unlike the training scans (or say why the check is off); returns the flags."""
    try:
        report = resources.quality_cached(classifier.source, classifier.fingerprint, sha, data)
    except InputReferenceError as err:
        st.caption(f"Input-quality check unavailable: {plain(err)}")
        return ()
    if report.flags:
        st.warning(
            "This scan looks unlike the training scans, so the answer below is unreliable:\n\n- "
            + "\n- ".join(report.flags)
        )
    elif not report.checked:
        st.caption(report.note)
    return report.flags


def map_record(
    classifier: Classifier,
    sha: str,
    data: bytes,
    look: FirstLook,
    method: str,
    target: int,
    params: tuple = (),
) -> Heatmap:
    """A method's map for the target class; rollout reuses the first forward pass (it is class-agnostic)."""
    if method == look.rollout.method:
        return dataclasses.replace(look.rollout, target=target)
    return resources.explain_cached(
        classifier.source, classifier.fingerprint, sha, data, method, target, params
    )


def _fill(
    slot: st.delta_generator.DeltaGenerator,
    classifier: Classifier,
    scan: Scan,
    look: FirstLook,
    method: str,
    target: int,
    view: dict,
) -> tuple[Heatmap, dict | None]:
    params = trust_view.method_params(method)
    record = map_record(classifier, scan.sha256, view["data"], look, method, target, params)
    score = None
    if view["score"]:
        curves = resources.faithfulness_cached(
            classifier.source, classifier.fingerprint, scan.sha256, view["data"], method, target, params
        )
        score = {"deletion": curves.deletion_auc, "insertion": curves.insertion_auc}
        score = trust_view.score_with_reference(classifier, scan.sha256, view["data"], target, score)
    with slot.container():
        map_view.show_map(scan, view["data"], record, look.geometry, EXPLAINERS[method].label, view)
        notes = [trust_view.score_text(score)] if score else []
        notes += ["no evidence for this class anywhere (empty map)"] if not record.values.any() else []
        notes += trust_view.map_notes(method, record, view, look.geometry)
        st.caption(" · ".join(notes) or EXPLAINERS[method].description.split(". ")[0] + ".")
        trust_view.show_delta(record)
    return record, score


def render_maps(
    classifier: Classifier,
    scan: Scan,
    look: FirstLook,
    target: int,
    methods: list[str],
    view: dict,
    then: Callable[[], None] | None = None,
) -> tuple[dict[str, Heatmap], dict[str, dict]]:
    """Maps side by side on one colour scale: fast ones at once, slow ones streamed in under a status box.

    Args:
        view: ``data`` (scan bytes), ``cmap``, ``opacity``, ``score`` (compute deletion/insertion).
        then: called after the fast maps and before the slow ones (the answer's TTA stability).

    Returns:
        (method label -> map, method label -> {"deletion", "insertion"}) for the report.
    """
    trust_view.show_scale(view)
    by_speed = sorted(methods, key=lambda m: EXPLAINERS[m].speed != "fast")
    ordered = methods if view.get("order") == "trust" else by_speed
    columns = [c for _ in range(0, len(ordered), MAP_COLUMNS) for c in st.columns(MAP_COLUMNS)]
    slots = {m: col.empty() for m, col in zip(ordered, columns, strict=False)}
    records, scores = {}, {}

    def run(method: str) -> None:
        record, score = _fill(slots[method], classifier, scan, look, method, target, view)
        records[EXPLAINERS[method].label] = record
        if score:
            scores[EXPLAINERS[method].label] = score

    slow = [m for m in ordered if EXPLAINERS[m].speed != "fast" or view["score"]]
    for method in ordered:
        if method not in slow:
            run(method)
    if then is not None:
        then()
    if slow:
        with st.status(f"Computing {len(slow)} map(s)…", expanded=False) as status:
            for i, method in enumerate(slow):
                status.update(label=f"Computing {EXPLAINERS[method].label} ({i + 1}/{len(slow)})…")
                run(method)
            status.update(label="All maps ready", state="complete")
    return {EXPLAINERS[m].label: records[EXPLAINERS[m].label] for m in methods}, scores
