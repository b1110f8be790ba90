"""Streamlit UI helpers for mri-explain (entry script: dashboard/app.py)."""
