"""``python -m model.data``: the stage's main CLI, :func:`model.data.split.main`."""

from __future__ import annotations

import sys

from model.data.split import main

sys.exit(main())
