"""Explain a scan: the model's answer, how sure it is, where it looked, and how far to trust each map.

Hand-over from other pages: set ``st.session_state["explain.case_path"]`` to a data-root-relative path
(as in ``{split}_predictions.csv``) then ``st.switch_page("../pages/explain.py")``, or open
``explain?case=<path>``. See ``dashboard.explain_view`` for the details.
"""

from __future__ import annotations

import streamlit as st

from dashboard import (
    answer_view,
    explain_view,
    layout,
    report_view,
    resources,
    settings,
    widgets,
)
from dashboard.trust_view import show_trust

layout.page_header(
    "Explain a scan",
    "What does the model say, how sure is it, where did it look, and can the "
    "map be trusted? Nothing you upload is stored.",
)
classifier = layout.require_classifier()
chosen = explain_view.choose_scan()
if chosen is None:
    layout.stop_with("Upload a scan, pick a case from a saved evaluation, or try the generated phantom.")
name, data = chosen
sha, scan = explain_view.decode(name, data)

left, right = st.columns([1, 2], gap="large")
with left:
    st.image(resources.display_scan_cached(sha, data), caption=explain_view.scan_caption(name, scan))
with right:
    flags = explain_view.quality_warning(classifier, sha, data)  # first: a failed check marks the answer
    answer = answer_view.show_answer(classifier, sha, data, flags)  # one forward pass; TTA after the maps
    look = answer.look
    match = answer_view.show_provenance(sha)
    for note in scan.notes:
        st.caption(note)

st.subheader("Where did the model look?")
c1, c2, c3, c4 = st.columns([1.2, 2.4, 1, 1])
with c1:
    target = widgets.show_target(classifier.labels, look.prediction.predicted, sha)
with c2:
    methods = widgets.show_methods()
with c3:
    opacity = widgets.show_opacity()
with c4:
    cmap = widgets.show_cmap()
score = widgets.show_score_toggle()
methods, trust = show_trust(classifier, methods)
if not methods:
    answer.finish()
    layout.stop_with("Choose at least one method above.")

outline = resources.mask_cached(str(settings.data_dir()), sha) if settings.data_dir() else None
view = {"data": data, "cmap": cmap, "opacity": opacity, "score": score, "outline": outline, **trust}
if outline is not None:
    st.caption("Dashed cyan line: the tumour outline hand-drawn for this scan (rough; not ground truth).")
maps, scores = explain_view.render_maps(classifier, scan, look, target, methods, view, then=answer.finish)
answer.finish()

st.subheader("Download")
report = report_view.case_report(answer, scan, (target, maps, scores, view), match)
report_view.downloads(report, view, name)
