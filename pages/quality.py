"""Explanation quality: per-method faithfulness, sanity checks and localisation from the saved batch job."""

from __future__ import annotations

from dashboard import layout

layout.page_header("Explanation quality", "Which explanation methods can be trusted on this model?")
layout.stop_with("Work in progress: the batch job's summary reader is not wired in yet.")
