"""Benchmarks: how fast explanations and evaluations are, against the obvious alternatives (issue #8).

Run ``python -m benchmarks.run [--quick] [--out benchmarks] [--models base,bundled]`` from the repo root;
see :mod:`benchmarks.run`. Every figure is measured on the project's own code (``model/``,
``dashboard/resources.py``) and also given as a ratio to one forward pass measured in the same run, so
results compare across machines.

The benchmarks call the dashboard's cached functions outside ``streamlit run`` ("bare mode"), where streamlit
logs a warning at every cache decorator and cached call. Importing this package quietens those two loggers
(and nothing else), before any dashboard module is imported.
"""

from __future__ import annotations

import logging

from streamlit.logger import get_logger

BARE_MODE_LOGGERS = (
    "streamlit.runtime.caching.cache_data_api",
    "streamlit.runtime.scriptrunner_utils.script_run_context",
)
for _name in BARE_MODE_LOGGERS:
    get_logger(_name).setLevel(logging.ERROR)
