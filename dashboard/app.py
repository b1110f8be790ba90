"""Entry point: python -m streamlit run dashboard/app.py (placeholder until the pages land)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="mri-explain", layout="wide")
st.title("mri-explain")
st.warning("Research and teaching tool — not for diagnosis.")
