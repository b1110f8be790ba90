"""``python -m model.evaluate``: the stage's main CLI, :func:`model.evaluate.run.main`."""

from __future__ import annotations

from model.cli import run_cli
from model.evaluate.run import main

run_cli(main)
