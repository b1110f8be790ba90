"""Has the model seen this scan? Look a scan's sha256 up in the split manifest the model was trained on.

The manifest (``artifacts/split_manifest.csv``, columns ``path, sha256, label, group, split``; see
:mod:`model.data`) is named in the model folder's ``training_config.json`` (``manifest``, relative to the
repository root, with ``manifest_sha256``). A scan found there is reported with its split and true label,
so nobody mistakes a training scan for a fresh test of the model. The tumour mask of a found scan (when the
mask folder ``<data>_masks`` has one) is located by the same hash through :mod:`model.data.masks`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.data.masks import MaskError, MaskRecord, read_mask_index
from model.data.split import ManifestError, manifest_sha256, read_manifest
from model.evaluate.readings import training_size
from model.loading import RUN_CONFIG_FILE, path_text_problem

MASKS_SUFFIX = "_masks"  # the mask folder sits beside the data folder (as model.explain.batch assumes)


@dataclass(frozen=True)
class SplitMatch:
    """Where a scan sits in the training manifest.

    Attributes:
        path: data-root-relative path of the (first) manifest row with that hash.
        split: ``train``, ``validation`` or ``test``.
        label: its true label.
    """

    path: str
    split: str
    label: str

    def sentence(self) -> str:
        """E.g. "This scan is in the training split (true label tumor; yes/Y1.jpg)"."""
        where = {"train": "training", "validation": "validation", "test": "test"}.get(self.split, self.split)
        note = {
            "train": " The model learnt from it, so its answer here says nothing about new scans.",
            "validation": " It chose the model's best epoch and calibration, so the answer is optimistic.",
            "test": " It is a held-out test scan: the model never trained on it.",
        }.get(self.split, "")
        return f"This scan is in the {where} split (true label {self.label}; `{self.path}`).{note}"


def manifest_path(model_dir: str | Path, root: str | Path) -> Path | None:
    """The manifest a model was trained on, from its ``training_config.json``; None if unknown or changed.

    Args:
        model_dir: the model folder (a hub id or a folder without a run config gives None).
        root: folder a relative ``manifest`` entry is resolved against (the repository root).

    Returns:
        The manifest's path, or None when the run config is missing or unreadable, names no manifest, the
        file is absent, or its sha256 differs from the recorded ``manifest_sha256``.
    """
    if path_text_problem(str(model_dir)) is not None:
        return None  # not a usable folder name: the sidebar says why
    config = Path(model_dir) / RUN_CONFIG_FILE
    try:
        run = json.loads(config.read_text()) if config.is_file() else {}
    except (OSError, ValueError):
        return None
    if not isinstance(run, dict):
        return None
    # model.train writes flat keys; model.train.finetune writes {config: {manifest}, outcome:
    # {manifest_sha256}}
    manifest = run.get("manifest") or (run.get("config") or {}).get("manifest")
    expected = run.get("manifest_sha256") or (run.get("outcome") or {}).get("manifest_sha256")
    if not isinstance(manifest, str) or not manifest:
        return None
    path = Path(manifest)
    path = path if path.is_absolute() else Path(root) / path
    if not path.is_file():
        return None
    return path if not expected or manifest_sha256(path) == expected else None


def load_manifest(path: str | Path | None) -> pd.DataFrame | None:
    """The manifest frame, or None when there is none or it is invalid (the pages then say nothing)."""
    if path is None:
        return None
    try:
        return read_manifest(path)
    except ManifestError:
        return None


def find_in_manifest(manifest: pd.DataFrame | None, sha256: str) -> SplitMatch | None:
    """The manifest row whose ``sha256`` equals the scan's (training rows first), or None.

    Args:
        manifest: a split manifest as :func:`load_manifest` returns it, or None (then the answer is None).
        sha256: hex digest of the scan file (``Scan.sha256``, lower case as the manifest stores it).

    Returns:
        A :class:`SplitMatch` for the first matching row, ``train`` rows before the others, or None.
    """
    if manifest is None:
        return None
    rows = manifest[manifest["sha256"] == sha256]
    if rows.empty:
        return None
    rows = rows.sort_values("split", key=lambda s: s != "train", kind="stable")
    row = rows.iloc[0]
    return SplitMatch(str(row["path"]), str(row["split"]), str(row["label"]))


def training_size_text(manifest: pd.DataFrame | None) -> str:
    """ "202 training scans (159 distinct)" from the manifest, or "" when there is none."""
    if manifest is None:
        return ""
    n, groups = training_size(manifest)
    return f"{n} training scans ({groups} distinct after merging near-duplicates)"


def find_mask(data_dir: str | Path | None, sha256: str) -> MaskRecord | None:
    """The usable tumour mask drawn on the scan with this hash, from ``<data_dir>_masks``; None if none.

    Args:
        data_dir: the data folder; the mask folder is its sibling ``<name>_masks``. None gives None.
        sha256: hex digest of the scan file.

    Returns:
        The usable :class:`~model.data.masks.MaskRecord`, or None when there is no mask folder, it is
        malformed, or no usable mask has this hash.
    """
    if data_dir is None:
        return None
    folder = Path(data_dir).parent / f"{Path(data_dir).name}{MASKS_SUFFIX}"
    if not (folder / "masks.csv").is_file():
        return None
    try:
        record = read_mask_index(folder).find(sha256=sha256)
    except MaskError:
        return None
    return record if record is not None and record.usable else None
