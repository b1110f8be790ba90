"""Learn: what each explanation method computes, and how a ViT's attention builds up layer by layer.

Everything here runs on a generated phantom (a bright ellipse, optionally a bright blob), never a real scan.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from dashboard import explain_view, figures, layout, resources, widgets
from model.explain.registry import EXPLAINERS

layout.page_header(
    "Learn",
    "How the explanation methods work and how a Vision Transformer 'looks', shown on a "
    "generated phantom. The phantom has no disease: it only shows what each method does.",
)
classifier = layout.require_classifier()
name, data = explain_view.phantom_bytes(widgets.show_phantom(key="learn.phantom"))
sha = hashlib.sha256(data).hexdigest()
scan = resources.load_scan_cached(sha, data)
look = resources.first_look_cached(classifier.source, classifier.fingerprint, sha, data, 1.0)
target = look.prediction.predicted

st.header("What each method computes")
st.caption(
    f"Maps explain the model's predicted class for the phantom (**{classifier.labels[target]}**), on the "
    "shared colour scale of the Explain page."
)
draw_slow = widgets.show_slow_methods()
for method, explainer in EXPLAINERS.items():
    text, picture = st.columns([3, 2], gap="medium")
    with text:
        st.subheader(explainer.label)
        st.write(explainer.description)
        st.caption(
            f"{explainer.reference} · {explainer.speed} · "
            + ("class-specific" if explainer.class_specific else "the same map for every class")
        )
        if explainer.param_help:
            with st.expander("Parameters"):
                for param, help_text in explainer.param_help.items():
                    st.markdown(f"- `{param}` (default `{explainer.defaults[param]}`): {help_text}")
    with picture:
        if explainer.speed == "slow" and not draw_slow:
            st.info("Slow method: switch on “Draw the slow methods too” above to see it.")
            continue
        with st.spinner(f"Computing {explainer.label}…"):
            record = explain_view.map_record(classifier, sha, data, look, method, target)
        fig = figures.build_map_figure(scan.image, record, look.geometry, explainer.label)
        with resources.LOCK:
            st.pyplot(fig)

st.header("How attention builds up, layer by layer")
st.write(
    "Each head of a layer spreads the CLS token's attention over the patches. Rollout multiplies the layers' "
    "attention (plus the skip connection) to follow how much each patch can reach CLS by that layer."
)
maps = resources.layer_maps_cached(classifier.source, classifier.fingerprint, sha, data)
layer = widgets.show_layer(maps.heads.shape[0])
with resources.LOCK:
    st.pyplot(
        figures.build_heads_figure(
            scan.image, maps.heads[layer - 1], maps.rollout[layer - 1], maps.geometry, layer
        )
    )
    st.pyplot(figures.build_rollout_strip(scan.image, maps.rollout, maps.geometry, layer))
st.caption(
    "Colours use the Explain page's shared scale (× uniform, 0 to 5). Raw attention is not an explanation of "
    "the decision: heads attend for many reasons, and rollout ignores which class is being predicted. "
    "Compare with the class-specific methods above."
)
