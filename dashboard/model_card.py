"""The model card in brief, for the Overview page: architecture facts and chosen sections of ``README.md``.

The card itself is written by ``python -m model.evaluate.card`` into the model folder; this module reads its
sections back with the card's own parser (:func:`model.evaluate.card_format.parse_card`), so the page shows
parts instead of the whole markdown wall. When a
folder has no card (a hub model, an untrained folder), the data caveats and intended use that
:mod:`model.evaluate.card` would have written are shown instead, flagged as generic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model.data.split import SPLIT_FRACTIONS, SPLITS
from model.evaluate import card
from model.evaluate.card_format import parse_card
from model.loading import RUN_CONFIG_FILE, Classifier, flat_run_record, path_text_problem

DATA_SECTION, SPLIT_SECTION = "Training data and its caveats", "Split"
USE_SECTION, LIMITS_SECTION = "Intended use", "Limitations"
CARD_COMMAND = "python -m model.evaluate.card --model MODEL_DIR --eval EVAL_DIR"
SPLIT_COMMAND = "python -m model.data split --data DIR --out artifacts/split_manifest.csv"


def _model_file(source: str, name: str) -> Path | None:
    """``source/name`` when it is a readable file; None for a hub id, a missing file or an impossible name
    (the file system is not asked about text that cannot be a path)."""
    if path_text_problem(source):
        return None
    path = Path(source) / name
    try:
        return path if path.is_file() else None
    except OSError:  # a folder that may not be listed
        return None


def read_card(source: str) -> dict[str, str]:
    """Sections of the card in model folder ``source``; empty when there is no card (e.g. a hub id)."""
    path = _model_file(source, card.CARD_FILE)
    try:
        return parse_card(path.read_text(encoding="utf-8")).section_bodies() if path else {}
    except (OSError, UnicodeDecodeError):
        return {}


def generic_sections() -> dict[str, str]:
    """What every model trained here shares: data caveats, split method, intended use, limitations."""
    fractions = "/".join(f"{round(100 * f)}" for f in SPLIT_FRACTIONS)
    split = (
        f"Group-aware split (`{SPLIT_COMMAND}`): exact and near-duplicate images form groups, and "
        f"each group goes wholly to {', '.join(SPLITS)} (about {fractions}), stratified by class, so "
        "copies of one picture never sit on both sides of the split. The manifest is "
        "`artifacts/split_manifest.csv`."
    )
    return {
        DATA_SECTION: card.DATA_CAVEATS,
        SPLIT_SECTION: split,
        USE_SECTION: card.INTENDED_USE,
        LIMITS_SECTION: card.LIMITATIONS,
    }


def read_run_config(source: str) -> dict:
    """``training_config.json`` of a model folder (a training record flattened), or {} when there is none."""
    path = _model_file(source, RUN_CONFIG_FILE)
    try:
        record = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return flat_run_record(record) if isinstance(record, dict) else {}


def architecture_frame(classifier: Classifier, run: dict) -> pd.DataFrame:
    """Architecture (from ``config.json``) and training origin (from the run): index = fact, one column."""
    cfg = classifier.model.config
    rows, cols = classifier.patch_grid
    n_params = sum(p.numel() for p in classifier.model.parameters())
    if run.get("from_scratch"):
        origin = f"trained from scratch (ViT-{run.get('arch', '?')} family)"
    else:
        origin = f"fine-tuned from {run['base']}" if run.get("base") else "not recorded (no run config)"
    facts = {
        "Model": f"Vision Transformer (`{type(classifier.model).__name__}`)",
        "Input": f"{classifier.preprocess.image_size} × {classifier.preprocess.image_size} px, "
        f"{'brain-cropped' if classifier.preprocess.crop_brain else 'not cropped'}",
        "Patches": f"{cfg.patch_size} px → {rows} × {cols} grid + CLS token",
        "Encoder": f"{cfg.num_hidden_layers} layers, hidden size {cfg.hidden_size}, "
        f"{cfg.num_attention_heads} attention heads, MLP {cfg.intermediate_size}",
        "Parameters": f"{n_params:,}",
        "Classes": ", ".join(classifier.labels),
        "Training": origin,
        "Weights fingerprint": classifier.fingerprint,
    }
    return pd.DataFrame({"value": list(facts.values())}, index=pd.Index(list(facts), name="fact"))
