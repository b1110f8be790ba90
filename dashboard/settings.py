"""Where the dashboard finds its model, saved evaluations and images: the only place that reads env vars.

Every value is read at call time, so a changed environment or sidebar field takes effect on the next rerun.
Precedence: the sidebar field (session state key) when non-empty, then the env var, then the bundled default.

| setting        | sidebar key (session state) | env var             | default                    |
|----------------|-----------------------------|---------------------|----------------------------|
| model source   | ``app.model_source``        | ``MRI_EXPLAIN_MODEL`` | ``<repo>/artifacts/model`` |
| evaluations    | ``app.eval_dir``            | ``MRI_EXPLAIN_EVAL``  | ``<repo>/artifacts/eval``  |
| data folder    | ``app.data_dir``            | ``MRI_EXPLAIN_DATA``  | none (pages say how to set it) |
| baseline | Compare page, A | ``MRI_EXPLAIN_BASELINE`` | ``<repo>/artifacts/baselines/vit-scratch-64`` |

The Compare page compares A = the kept baseline (``model/`` and ``eval/`` inside the baseline folder) with
B = the bundled model and its evaluations (the model and evaluation defaults above).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from model.data.provenance import manifest_path
from model.loading import path_text_problem

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_MODEL = "MRI_EXPLAIN_MODEL"
ENV_EVAL = "MRI_EXPLAIN_EVAL"
ENV_DATA = "MRI_EXPLAIN_DATA"
KEY_MODEL = "app.model_source"
KEY_EVAL = "app.eval_dir"
KEY_DATA = "app.data_dir"
ENV_BASELINE = "MRI_EXPLAIN_BASELINE"
BASELINE_DIR = REPO_ROOT / "artifacts" / "baselines" / "vit-scratch-64"  # today's from-scratch 64 px ViT
BASELINE_MODEL, BASELINE_EVAL = "model", "eval"  # its save_pretrained folder and its evaluation folder


FIELD_NAMES = {KEY_MODEL: "Model", KEY_EVAL: "Evaluation folder", KEY_DATA: "Data folder"}


def _typed(key: str) -> str | None:
    """The sidebar's text for ``key`` when one was typed, else None."""
    value = st.session_state.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _override(key: str) -> str | None:
    """The typed folder for ``key`` when it can name a folder, else None (the default applies)."""
    value = _typed(key)
    return value if value is not None and path_text_problem(value) is None else None


def field_problems() -> dict[str, str]:
    """Field label -> one sentence, for every sidebar field whose text cannot name a folder or hub id.

    The Evaluation and Data folder fields then fall back to their defaults; the Model field is refused by
    ``model.loading`` with its own sentence (another model is never shown in its place).
    """
    problems = {}
    for key, label in FIELD_NAMES.items():
        value = _typed(key)
        if value is not None and (problem := path_text_problem(value)):
            fallback = "" if key == KEY_MODEL else " Until it is fixed, the default is used."
            problems[label] = f"The {label} field {problem}; correct it.{fallback}"
    return problems


def _expand(value: str) -> str:
    """Expand ``~``; a relative path that exists under the repo root is taken from there; else unchanged
    (so a hub id such as ``owner/name`` passes through). Text that cannot name a file is returned as it is,
    without asking the file system."""
    if path_text_problem(value):
        return value
    if value.startswith("~"):
        return str(Path(value).expanduser())
    path = Path(value)
    try:
        if not path.is_absolute() and (REPO_ROOT / path).exists():
            return str(REPO_ROOT / path)
    except OSError:  # e.g. a parent folder that may not be read: not under the repo root then
        return value
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


def default_baseline_dir() -> Path:
    """The baseline folder (holding ``model/`` and ``eval/``): ``$MRI_EXPLAIN_BASELINE`` or the kept one."""
    return Path(os.environ.get(ENV_BASELINE, "").strip() or BASELINE_DIR)


def default_comparison() -> dict[str, tuple[str, str]]:
    """Compare-page defaults: side -> (model source, evaluation folder); A = baseline, B = bundled model."""
    baseline = default_baseline_dir()
    return {
        "A": (str(baseline / BASELINE_MODEL), str(baseline / BASELINE_EVAL)),
        "B": (default_model_source(), default_eval_dir()),
    }


def resolve(value: str) -> str:
    """A typed folder or hub id as the app uses it (``~`` expanded, repo-relative paths made absolute)."""
    return _expand(value.strip())


def model_source() -> str:
    """The model to show: a ``save_pretrained`` folder (absolute path) or a Hugging Face hub id."""
    return _expand(_typed(KEY_MODEL) or default_model_source())


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
