"""``python -m model.train``: the stage's main CLI, :func:`model.train.run.main`."""

from __future__ import annotations

from model.cli import run_cli
from model.train.run import main

run_cli(main)
