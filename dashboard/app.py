"""Entry point and router: ``python -m streamlit run dashboard/app.py`` from the repo root.

Registers the seven pages with ``st.navigation``, draws the shared sidebar (model / evaluation / data folders)
and, after the page, the footer with the "research and teaching tool — not for diagnosis" notice.

Only Streamlit and ``dashboard.startup`` are imported here: on a cold start the navigation, the title and the
notice are on screen at once, and ``startup.load_dashboard`` imports the rest (torch, transformers) and loads
the model under a progress box.
"""

from __future__ import annotations

import streamlit as st

from dashboard import startup

st.set_page_config(page_title="mri-explain", page_icon=":material/neurology:", layout="wide")

PAGES = [
    st.Page(
        "../pages/overview.py", title="Overview", icon=":material/home:", url_path="overview", default=True
    ),
    st.Page(
        "../pages/explain.py", title="Explain a scan", icon=":material/image_search:", url_path="explain"
    ),
    st.Page(
        "../pages/performance.py", title="Performance", icon=":material/monitoring:", url_path="performance"
    ),
    st.Page("../pages/error_audit.py", title="Error audit", icon=":material/rule:", url_path="error-audit"),
    st.Page(
        "../pages/quality.py", title="Explanation quality", icon=":material/fact_check:", url_path="quality"
    ),
    st.Page("../pages/compare.py", title="Compare models", icon=":material/compare:", url_path="compare"),
    st.Page("../pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
]

page = st.navigation(PAGES)
layout = startup.load_dashboard()
layout.render_sidebar()
page.run()
layout.footer()
