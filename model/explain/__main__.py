"""``python -m model.explain``: batch maps and quality scores (:func:`model.explain.batch.main`)."""

from __future__ import annotations

import sys

from model.explain.batch import main

sys.exit(main())
