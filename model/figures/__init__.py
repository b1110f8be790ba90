"""Every figure of the project, drawn with matplotlib's object-oriented API (no pyplot, no Streamlit).

``build_*`` functions take plain arrays or records computed elsewhere in ``model/`` and return a
``matplotlib.figure.Figure``; pages show them with ``st.pyplot`` under ``dashboard.resources.LOCK``, and the
case report (:mod:`model.report`) draws with the same primitives. Here rather than in ``dashboard/`` because
``model/`` never imports ``dashboard/``.
"""
