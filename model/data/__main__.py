"""``python -m model.data``: the stage's main CLI, :func:`model.data.split.main`."""

from __future__ import annotations

from model.cli import run_cli
from model.data.split import main

run_cli(main)
