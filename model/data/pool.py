"""The extra training pool (``../shared/data/brain_mri_pool``): its cases, and a held-out part by cluster.

The pool's ``labels.csv`` lists 2,730 public slices from four sources with a near-duplicate ``cluster`` per
image (see the pool's SOURCE.md). Source and label are confounded (figshare: tumour only), so the held-out
part is drawn per (source, label) cell, whole clusters at a time: every cell is represented and no cluster is
on both sides. The pool manifest has the split-manifest columns plus ``source``; its splits are ``train``
and ``holdout``.

CLI::

    python -m model.data.pool split --pool ../shared/data/brain_mri_pool --out artifacts/pool_manifest.csv
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.cli import add_subcommands, parse_config, run_cli
from model.data.split import read_checked_manifest, write_manifest
from model.errors import MriExplainError
from model.labels import DEFAULT_CLASS_MAP

POOL_LABELS_FILE = "labels.csv"
POOL_MANIFEST_COLUMNS = ("path", "sha256", "label", "group", "source", "split")
POOL_SPLITS = ("train", "holdout")
HOLDOUT_SHARE = 0.15  # of each (source, label) cell's images; enough no-tumour cases to see per-source errors
DEFAULT_SEED = 42
FIX_HINT = (
    "python -m model.data.pool split --pool ../shared/data/brain_mri_pool --out artifacts/pool_manifest.csv"
)


class PoolError(MriExplainError, ValueError):
    """The pool folder or pool manifest is missing or malformed; the message names the fix."""


def read_pool(root: str | Path) -> pd.DataFrame:
    """Read the pool's ``labels.csv`` as cases.

    Args:
        root: the pool folder (holding ``labels.csv``, ``yes/``, ``no/``).

    Returns:
        Frame with string columns path, sha256, label (a model label, e.g. ``tumor``), group
        (``pool-<cluster>``) and source, sorted by path.

    Raises:
        PoolError: ``labels.csv`` is missing or lacks a column, or holds an unknown label.
    """
    path = Path(root) / POOL_LABELS_FILE
    if not path.is_file():
        raise PoolError(f"{path} not found: pass the brain_mri_pool folder with --pool.")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if missing := [c for c in ("path", "label", "source", "sha256", "cluster") if c not in raw.columns]:
        raise PoolError(f"{path} lacks column(s) {missing}; it is not the pool's labels.csv.")
    if unknown := sorted(set(raw["label"]) - set(DEFAULT_CLASS_MAP)):
        raise PoolError(f"{path} has unknown label(s) {unknown}; expected {sorted(DEFAULT_CLASS_MAP)}.")
    frame = pd.DataFrame(
        {
            "path": raw["path"],
            "sha256": raw["sha256"],
            "label": raw["label"].map(DEFAULT_CLASS_MAP),
            "group": "pool-" + raw["cluster"],
            "source": raw["source"],
        }
    )
    return frame.sort_values("path", kind="stable").reset_index(drop=True)


def split_pool(cases: pd.DataFrame, share: float = HOLDOUT_SHARE, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Hold out about ``share`` of each (source, label) cell, whole groups at a time.

    A group belongs to the cell of its first image (groups never mix labels in the pool). Within a cell the
    groups are shuffled with ``seed`` and taken until the cell's held-out images reach ``share``.

    Args:
        cases: the pool's cases as :func:`read_pool` returns them (columns path, sha256, label, group,
            source).
        share: target held-out fraction of each cell's images, in (0, 1).
        seed: seed of the group shuffle; the same seed gives the same split.

    Returns:
        ``cases`` with a ``split`` column (``train`` | ``holdout``), same order.

    Raises:
        PoolError: ``share`` is not in (0, 1).
    """
    if not 0 < share < 1:
        raise PoolError(f"the held-out share must be in (0, 1), got {share}.")
    rng = np.random.default_rng(seed)
    first = cases.groupby("group", sort=True).first()
    sizes = cases.groupby("group", sort=True).size()
    held: set[str] = set()
    for _, cell in first.groupby(["source", "label"], sort=True):
        groups = list(cell.index)
        rng.shuffle(groups)
        target, taken = share * int(sizes[groups].sum()), 0
        for g in groups:
            if taken >= target:
                break
            held.add(g)
            taken += int(sizes[g])
    out = cases.copy()
    out["split"] = np.where(out["group"].isin(held), "holdout", "train")
    return out


def write_pool_manifest(frame: pd.DataFrame, out: str | Path) -> Path:
    """The pool manifest (:data:`POOL_MANIFEST_COLUMNS`), as :func:`~model.data.split.write_manifest`.

    Args:
        frame: the output of :func:`split_pool` (extra columns are dropped).
        out: CSV path to write, e.g. ``artifacts/pool_manifest.csv``.

    Returns:
        The path written.
    """
    return write_manifest(frame, out, POOL_MANIFEST_COLUMNS)


def read_pool_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a pool manifest (columns :data:`POOL_MANIFEST_COLUMNS`).

    Raises:
        PoolError: missing file or column, unknown split, duplicate path, or a group on both sides.
    """
    return read_checked_manifest(path, POOL_MANIFEST_COLUMNS, _pool_problems, PoolError, "Pool", FIX_HINT)


def _pool_problems(frame: pd.DataFrame) -> list[str]:
    if bad := sorted(set(frame["split"]) - set(POOL_SPLITS)):
        return [f"unknown split(s) {bad}"]
    if frame["path"].duplicated().any() or (frame.groupby("group")["split"].nunique() > 1).any():
        return ["duplicate paths or a group on both sides"]
    return []


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Images per source x label x split (a table for the card and the CLI)."""
    return frame.groupby(["source", "label", "split"]).size().unstack("split", fill_value=0)


@dataclass(frozen=True, kw_only=True)
class PoolSplitConfig:
    """``python -m model.data.pool split``: pool folder, manifest to write, held-out share, seed."""

    pool: str = "../shared/data/brain_mri_pool"
    out: str = "artifacts/pool_manifest.csv"
    share: float = HOLDOUT_SHARE
    seed: int = DEFAULT_SEED


def cli_parser() -> argparse.ArgumentParser:
    """The ``python -m model.data.pool`` parser, generated from :class:`PoolSplitConfig`."""
    parser = argparse.ArgumentParser(prog="python -m model.data.pool", description=__doc__.split("\n\n")[0])
    add_subcommands(parser, {"split": (PoolSplitConfig, "write the pool manifest with a held-out part")})
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m model.data.pool split``); returns the exit status.

    Args:
        argv: ``split`` and its options (``None``: the process's own).

    Returns:
        0 once the pool manifest is written.

    Raises:
        PoolError: the pool folder is unusable; ``run_cli`` prints the one line and exits 2.
    """
    cfg = parse_config(cli_parser(), argv)
    frame = split_pool(read_pool(cfg.pool), cfg.share, cfg.seed)
    print(f"wrote {write_pool_manifest(frame, cfg.out)}\n{summary(frame).to_string()}")
    return 0


if __name__ == "__main__":
    run_cli(main)
