"""The not-for-diagnosis notice, defined once in a module light enough to show before torch is imported.

``model.report.case`` (PNG/PDF reports) and ``dashboard.layout`` (sidebar, footer) re-use it; the entry script
shows it through ``dashboard.startup`` while the model is still loading.
"""

from __future__ import annotations

DISCLAIMER = "Research and teaching tool — not for diagnosis. Do not use it to make clinical decisions."
