"""A saved explanation-quality summary for the app tests, written through :mod:`model.explain.summary`.

Used by ``test_quality_page.py`` and ``test_trust_pages.py``, which each make up their own per-case rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.explain import summary as xs
from model.explain.registry import EXPLAINERS

RANDOM_LABEL = "Random ranking (reference)"


def write_explanation_summary(
    eval_dir: Path, cases: pd.DataFrame, fingerprint: str, settings: dict, maps: dict | None = None
) -> Path:
    """Save ``cases`` as the explanation summary of the ``test`` evaluation in ``eval_dir``.

    Every method gets the same straight deletion and insertion curves over ``settings["steps"]`` steps; the
    methods and their order are those of the ``method`` column.

    Args:
        eval_dir: the evaluation folder; the summary goes to its ``explanations/`` subfolder.
        cases: one row per case and method (``cases.csv`` columns), the same cases for every method.
        fingerprint: the checkpoint the summary claims to be of.
        settings: the batch job's settings (``steps``, ``sanity_threshold``, ...).
        maps: the saved maps by :func:`model.explain.summary.map_key` (none when omitted).

    Returns:
        Path of the written ``summary.json``.
    """
    methods = list(dict.fromkeys(cases["method"]))
    n_cases = int((cases["method"] == methods[0]).sum())
    fractions = np.linspace(0, 1, settings["steps"] + 1)
    curves = np.stack([np.stack([1 - fractions, fractions])] * n_cases)  # (N, 2, steps + 1)
    entries = {
        m: {"label": EXPLAINERS[m].label if m in EXPLAINERS else RANDOM_LABEL, "params": {}}
        | xs.method_summary(cases[cases["method"] == m], curves, fractions, settings)
        for m in methods
    }
    summary = {
        "schema_version": xs.SCHEMA_VERSION,
        "checkpoint": fingerprint,
        "split": "test",
        "n_cases": n_cases,
        "labels": ["no tumor", "tumor"],
        "settings": settings,
        "versions": {},
        "note": xs.NOTE,
        "methods": entries,
    }
    return xs.write_explanations(Path(eval_dir) / xs.EVAL_SUBDIR, summary, cases, maps or {})
