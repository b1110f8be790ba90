"""One map on the Explain page: composited as an array at display size and shown as an image.

The positive view (the default) never goes through matplotlib: :mod:`model.overlay` blends the map over the
scan reduced once to display size, so a rerun (opacity, colour map) costs milliseconds at any scan size. The
signed view keeps its matplotlib figure (a diverging scale centred at 0, drawn under the matplotlib lock).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from numpy.typing import NDArray

from dashboard import resources, trust_view, widgets_eval
from model import overlay
from model.data.scan import Scan
from model.explain.heatmap import Heatmap
from model.preprocess import Geometry


def map_picture(
    scan: Scan, data: bytes, record: Heatmap, geometry: Geometry, view: dict
) -> NDArray[np.uint8]:
    """(h, w, 3) uint8: the map over the display-size scan, with the tumour outline when there is one."""
    scan_rgb = resources.display_scan_cached(scan.sha256, data)
    size = scan_rgb.shape[:2]
    outline = view.get("outline")
    usable = outline is not None and outline.shape == tuple(geometry.original_size) and outline.any()
    edge = overlay.outline_edge(outline, size) if usable else None
    heat = overlay.display_heat(record, geometry, size)
    return overlay.composite(scan_rgb, heat, view["cmap"], view["opacity"], edge)


def show_map(scan: Scan, data: bytes, record: Heatmap, geometry: Geometry, title: str, view: dict) -> None:
    """Draw one map titled ``title`` (a method label) in the current container."""
    if view.get("signed"):
        widgets_eval.show_figure(trust_view.build_map(scan.image, record, geometry, title, view))
        return
    st.image(map_picture(scan, data, record, geometry, view), caption=title, output_format="JPEG")
