"""``python -m model.train``: the stage's main CLI, :func:`model.train.run.main`."""

from __future__ import annotations

import sys

from model.train.run import main

sys.exit(main())
