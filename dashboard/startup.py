"""The cold-start screen: title, notice and the progress of the model load, on screen within a second.

Importing torch and transformers and loading the model take 10 s or more on a cold server. The entry script
imports only this module (Streamlit plus :mod:`model.notice`, no torch) before that, so
:func:`load_dashboard` can draw the title and the not-for-diagnosis notice first, then import the rest of
the dashboard and load the model under an ``st.status`` box, and clear the screen once the page can draw.
Key: ``startup.ready`` (this session has seen the dashboard loaded; later reruns skip the screen).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import streamlit as st

from model.notice import DISCLAIMER

READY_KEY = "startup.ready"
LAYOUT_MODULE = "dashboard.layout"  # imports torch, transformers and the model code
TITLE = "mri-explain"
SUBTITLE = "Explainability dashboard for a brain-MRI Vision Transformer."


def _loaded() -> ModuleType | None:
    """The dashboard's layout module when this session already loaded it (a warm rerun), else None."""
    return sys.modules.get(LAYOUT_MODULE) if st.session_state.get(READY_KEY) else None


def load_dashboard() -> ModuleType:
    """Show the cold-start screen while importing :mod:`dashboard.layout` and loading the model.

    Returns:
        The imported ``dashboard.layout`` module (the entry script draws the sidebar and footer with it).
    """
    warm = _loaded()
    if warm is not None:
        return warm
    screen = st.empty()
    with screen.container():
        st.title(TITLE)
        st.caption(SUBTITLE)
        st.warning(DISCLAIMER, icon=":material/warning:")
        with st.status("Starting: loading the model…", expanded=True) as status:
            st.write("Importing PyTorch and transformers…")
            layout = importlib.import_module(LAYOUT_MODULE)
            st.write("Loading the model weights…")
            st.write(layout.preload_classifier())
            status.update(label="Ready", state="complete", expanded=False)
    screen.empty()
    st.session_state[READY_KEY] = True
    return layout
