"""``python -m model.explain``: batch maps and quality scores (:func:`model.explain.batch.main`)."""

from __future__ import annotations

from model.cli import run_cli
from model.explain.batch import main

run_cli(main)
