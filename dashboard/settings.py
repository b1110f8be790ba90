"""Where the dashboard finds its model, saved evaluations and images: the only place that reads env vars.

Every value is read at call time, so a changed environment or sidebar field takes effect on the next rerun.
Precedence: the sidebar field (session state key) when non-empty, then the env var, then the bundled default.

| setting        | sidebar key (session state) | env var             | default                    |
|----------------|-----------------------------|---------------------|----------------------------|
| model source   | ``app.model_source``        | ``MRI_EXPLAIN_MODEL`` | ``<repo>/artifacts/model`` |
| evaluations    | ``app.eval_dir``            | ``MRI_EXPLAIN_EVAL``  | ``<repo>/artifacts/eval``  |
| data folder    | ``app.data_dir``            | ``MRI_EXPLAIN_DATA``  | none (pages say how to set it) |
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from model.provenance import manifest_path

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_MODEL = "MRI_EXPLAIN_MODEL"
ENV_EVAL = "MRI_EXPLAIN_EVAL"
ENV_DATA = "MRI_EXPLAIN_DATA"
KEY_MODEL = "app.model_source"
KEY_EVAL = "app.eval_dir"
KEY_DATA = "app.data_dir"


def _override(key: str) -> str | None:
    """The sidebar's value for ``key`` when one was typed, else None."""
    value = st.session_state.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _expand(value: str) -> str:
    """Expand ``~``; a relative path that exists under the repo root is taken from there; else unchanged
    (so a hub id such as ``owner/name`` passes through)."""
    if value.startswith("~"):
        return str(Path(value).expanduser())
    path = Path(value)
    if not path.is_absolute() and (REPO_ROOT / path).exists():
        return str(REPO_ROOT / path)
    return value


def default_model_source() -> str:
    """The model source before any sidebar edit: ``$MRI_EXPLAIN_MODEL`` or the bundled ``artifacts/model``."""
    return os.environ.get(ENV_MODEL, "").strip() or str(REPO_ROOT / "artifacts" / "model")


def default_eval_dir() -> str:
    """The evaluation folder before any sidebar edit: ``$MRI_EXPLAIN_EVAL`` or bundled ``artifacts/eval``."""
    return os.environ.get(ENV_EVAL, "").strip() or str(REPO_ROOT / "artifacts" / "eval")


def default_data_dir() -> str:
    """The data folder before any sidebar edit: ``$MRI_EXPLAIN_DATA`` or "" (not configured)."""
    return os.environ.get(ENV_DATA, "").strip()


def model_source() -> str:
    """The model to show: a ``save_pretrained`` folder (absolute path) or a Hugging Face hub id."""
    return _expand(_override(KEY_MODEL) or default_model_source())


def eval_dir() -> Path:
    """The folder holding ``{split}_results.json`` / ``{split}_predictions.csv`` / ``calibration.json``."""
    return Path(_expand(_override(KEY_EVAL) or default_eval_dir()))


def data_dir() -> Path | None:
    """The data root that evaluation paths (e.g. ``yes/Y1.jpg``) are relative to; None when not configured."""
    value = _override(KEY_DATA) or default_data_dir()
    return Path(_expand(value)) if value else None


def data_help() -> str:
    """One sentence telling the user how to point the app at the images."""
    return (
        "No data folder is configured, so case images cannot be shown. Type the folder that holds yes/ and "
        "no/ in the sidebar's *Data folder* field, or start the app with "
        f"`{ENV_DATA}=/path/to/brain_tumor_dataset`."
    )


def manifest_file(model_source: str) -> Path | None:
    """The split manifest the model was trained on (from its ``training_config.json``), or None."""
    return manifest_path(model_source, REPO_ROOT)
