"""``python -m model.evaluate``: the stage's main CLI, :func:`model.evaluate.run.main`."""

from __future__ import annotations

import sys

from model.evaluate.run import main

sys.exit(main())
