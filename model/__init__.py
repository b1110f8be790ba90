"""mri-explain core: data, model I/O, training, evaluation and explanations (no Streamlit here)."""
