"""The data set index, duplicate groups and the leak-free train/validation/test split manifest.

A data set is a folder with one sub-folder per class (``yes/``, ``no/``); labels come from a folder -> label
map (:data:`model.labels.DEFAULT_CLASS_MAP`). Every file is decoded by content
(:func:`model.data.scan.load_scan`),
so wrong extensions do not matter; unreadable files are skipped and listed. Exact and near duplicates are
grouped (:mod:`model.data.duplicates`) and whole groups go to one split, stratified by class, so the same
picture
never appears in both training and test data.

CLI::

    python -m model.data split --data DIR --out artifacts/split_manifest.csv [--seed 42]
    python -m model.data groups --data DIR [--reference DIR/near_duplicate_groups.csv]
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm import tqdm

from model.cli import add_subcommands, parse_config, run_cli
from model.data.duplicates import NEAR_DUPLICATE_MAX_BITS, Groups, compare_groups, find_groups, fingerprint
from model.data.scan import ScanError, load_scan
from model.errors import MriExplainError
from model.io import write_csv
from model.labels import DEFAULT_CLASS_MAP

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SPLIT_FRACTIONS: tuple[float, ...] = (0.8, 0.1, 0.1)
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "sha256", "label", "group", "split")
DEFAULT_SEED = 42
FIX_HINT = "python -m model.data split --data DIR --out FILE"


class DataError(MriExplainError, ValueError):
    """The data folder is unusable (missing, or without the expected class sub-folders)."""


class ManifestError(MriExplainError, ValueError):
    """A split manifest is missing or malformed; the message says how to regenerate it."""


@dataclass(frozen=True, eq=False)
class DatasetIndex:
    """All readable images of a class-folder data set, sorted by path.

    Attributes:
        root: the data folder.
        paths: N paths relative to ``root``, posix ("yes/Y1.jpg").
        sha256: N content hashes of the file bytes.
        labels: N labels (from the class map).
        prints: (N, 2, 2, 64) bool perceptual fingerprints (see :func:`model.data.duplicates.fingerprint`).
        skipped: (path, reason) of files that could not be decoded.
    """

    root: Path
    paths: tuple[str, ...]
    sha256: tuple[str, ...]
    labels: tuple[str, ...]
    prints: NDArray[np.bool_]
    skipped: tuple[tuple[str, str], ...]

    def groups(self, max_bits: int = NEAR_DUPLICATE_MAX_BITS) -> Groups:
        """Exact + near duplicate groups of this index (see :func:`model.data.duplicates.find_groups`)."""
        return find_groups(self.paths, self.sha256, self.labels, self.prints, max_bits)


def _class_files(root: Path, class_map: Mapping[str, str]) -> list[tuple[Path, str]]:
    """(file, label) for every file directly inside each class folder, sorted by relative path."""
    expected = ", ".join(f"{k}/" for k in class_map)
    if not root.is_dir():
        raise DataError(
            f"Data folder {root} does not exist; pass --data pointing at a folder with "
            f"one sub-folder per class ({expected})."
        )
    if missing := [f"{k}/" for k in class_map if not (root / k).is_dir()]:
        raise DataError(
            f"Data folder {root} lacks the class sub-folder(s) {', '.join(missing)}; "
            f"expected one sub-folder per class: {expected}."
        )
    files = [(p, label) for k, label in class_map.items() for p in (root / k).iterdir() if p.is_file()]
    return sorted(files, key=lambda f: f[0].relative_to(root).as_posix())


def index_dataset(
    root: str | Path, class_map: Mapping[str, str] = DEFAULT_CLASS_MAP, progress: bool = False
) -> DatasetIndex:
    """Decode, hash and fingerprint every image of a class-folder data set.

    Args:
        root: folder with one sub-folder per key of ``class_map``.
        class_map: folder name -> label.
        progress: show a tqdm bar (on stderr).

    Returns:
        :class:`DatasetIndex`; files that do not decode are listed in ``skipped``, not raised.

    Raises:
        DataError: ``root`` or a class folder is missing, or no file decodes.
    """
    root = Path(root)
    paths, hashes, labels, prints, skipped = [], [], [], [], []
    for path, label in tqdm(_class_files(root, class_map), desc="hashing", unit="img", disable=not progress):
        rel = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
            scan = load_scan(data)
        except (ScanError, OSError, ValueError) as err:
            skipped.append((rel, str(err)))
            continue
        paths.append(rel)
        hashes.append(hashlib.sha256(data).hexdigest())
        labels.append(label)
        prints.append(fingerprint(scan.image))
    if not paths:
        raise DataError(
            f"No readable image in {root} ({len(skipped)} file(s) skipped); check the --data folder."
        )
    return DatasetIndex(root, tuple(paths), tuple(hashes), tuple(labels), np.stack(prints), tuple(skipped))


def _assign(sizes: list[int], n_total: int, fractions: tuple[float, ...]) -> list[int]:
    """Greedy: each group (in the given order) goes to the split furthest below its target image count."""
    targets = np.asarray(fractions) * n_total
    filled = np.zeros(len(fractions))
    out = []
    for size in sizes:
        k = int(np.argmax(targets - filled))  # first split on ties, so the order of SPLITS breaks them
        filled[k] += size
        out.append(k)
    return out


def split_groups(
    index: DatasetIndex,
    groups: Groups,
    seed: int = DEFAULT_SEED,
    fractions: tuple[float, ...] = SPLIT_FRACTIONS,
) -> dict[str, str]:
    """Stratified, group-aware split: whole groups go to one split; each class is split on its own.

    Within a class (a group's label; a cross-class group forms its own stratum), group ids are sorted,
    shuffled with ``numpy.random.default_rng(seed)``, then greedily assigned to the split that most lacks
    images of that class, so each split misses its share by less than one group. Groups are not placed
    largest first: that would put every duplicated image in train and leave test without any.

    Args:
        index: the data set index.
        groups: its duplicate groups.
        seed: shuffle seed.
        fractions: share of images per split, in the order of :data:`SPLITS`; sums to 1.

    Returns:
        path -> split name, for every path of the index.
    """
    label_of = dict(zip(index.paths, index.labels, strict=True))
    members = groups.members()
    strata: dict[str, list[str]] = {}
    for gid, items in sorted(members.items()):
        strata.setdefault("+".join(sorted({label_of[i] for i in items})), []).append(gid)
    rng = np.random.default_rng(seed)
    split_of: dict[str, str] = {}
    for stratum in sorted(strata):
        gids = [strata[stratum][k] for k in rng.permutation(len(strata[stratum]))]
        sizes = [len(members[g]) for g in gids]
        for gid, k in zip(gids, _assign(sizes, sum(sizes), fractions), strict=True):
            split_of.update({item: SPLITS[k] for item in members[gid]})
    return split_of


def build_manifest(index: DatasetIndex, seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, Groups]:
    """The split manifest (columns :data:`MANIFEST_COLUMNS`, rows sorted by path) and the groups used.

    Args:
        index: the data set index from :func:`index_dataset`.
        seed: shuffle seed of :func:`split_groups`; the same index and seed give the same manifest.

    Returns:
        The manifest frame (string columns path, sha256, label, group, split) and the duplicate
        :class:`~model.data.duplicates.Groups` it was split by.
    """
    groups = index.groups()
    split_of = split_groups(index, groups, seed)
    frame = pd.DataFrame(
        {
            "path": index.paths,
            "sha256": index.sha256,
            "label": index.labels,
            "group": [groups.group[p] for p in index.paths],
            "split": [split_of[p] for p in index.paths],
        }
    )
    return frame.sort_values("path", kind="stable").reset_index(drop=True), groups


def write_manifest(frame: pd.DataFrame, out: str | Path, columns: tuple[str, ...] = MANIFEST_COLUMNS) -> Path:
    """Write a manifest's ``columns`` as UTF-8 CSV, "\\n" line ends (byte-identical for identical frames).

    Args:
        frame: the manifest, e.g. from :func:`build_manifest`; columns outside ``columns`` are dropped.
        out: CSV path to write atomically, e.g. ``artifacts/split_manifest.csv``.
        columns: the columns to write, in this order.

    Returns:
        The path written.
    """
    return write_csv(out, frame.loc[:, list(columns)])


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a split manifest.

    Args:
        path: CSV written by :func:`write_manifest`.

    Returns:
        Frame with string columns path, sha256, label, group, split (split in :data:`SPLITS`).

    Raises:
        ManifestError: missing file, missing columns, empty cells, unknown split names, duplicate paths or
            a group spanning two splits; the message names the command that regenerates it.
    """
    return read_checked_manifest(path, MANIFEST_COLUMNS, _split_problems, ManifestError, "Split", FIX_HINT)


def _split_problems(frame: pd.DataFrame) -> list[str]:
    problems = []
    if (frame[list(MANIFEST_COLUMNS)] == "").any().any():
        problems.append("empty cells")
    if bad := sorted(set(frame["split"]) - set(SPLITS)):
        problems.append(f"unknown split(s) {bad} (allowed: {list(SPLITS)})")
    if frame["path"].duplicated().any():
        problems.append("duplicate paths")
    if (frame.groupby("group")["split"].nunique() > 1).any():
        problems.append("a duplicate group spans two splits")
    return problems


def read_checked_manifest(
    path: str | Path,
    columns: tuple[str, ...],
    problems: Callable[[pd.DataFrame], list[str]],
    error: type[MriExplainError],
    kind: str,
    fix_hint: str,
) -> pd.DataFrame:
    """Read a manifest CSV (all cells as strings) and refuse it, naming the command that regenerates it.

    Args:
        path: the CSV file.
        columns: the columns it must hold; the frame returned holds these, in this order.
        problems: the content's problems (one phrase each) once every column is there.
        error: the project error to raise.
        kind: the manifest's name in messages (``"Split"``: "Split manifest PATH not found").
        fix_hint: the command that regenerates the manifest.

    Returns:
        The frame with exactly ``columns``.

    Raises:
        error: the file is missing, a column is missing, or ``problems`` names any.
    """
    path = Path(path)
    fix = f"Regenerate it with `{fix_hint}`."
    if not path.is_file():
        raise error(f"{kind} manifest {path} not found. {fix}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if missing := [c for c in columns if c not in frame.columns]:
        found = [f"missing column(s) {missing}"]
    else:
        found = problems(frame)
    if found:
        raise error(f"{kind} manifest {path} is invalid: {'; '.join(found)}. {fix}")
    return frame.loc[:, list(columns)]


def manifest_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a manifest file's bytes, to record which split a model was trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_reference_groups(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """Read a reference grouping CSV (columns path, group, sha256; unlisted images are singletons).

    Returns:
        (path -> group id, path -> sha256) for the listed paths.

    Raises:
        DataError: the file is missing or lacks those columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"Reference groups file {path} not found; pass --reference with a CSV of path,group,sha256."
        )
    ref = pd.read_csv(path, dtype=str, keep_default_na=False)
    if missing := {"path", "group", "sha256"} - set(ref.columns):
        raise DataError(f"Reference groups file {path} lacks column(s) {sorted(missing)}.")
    paths = ref["path"].tolist()
    return dict(zip(paths, ref["group"], strict=True)), dict(zip(paths, ref["sha256"], strict=True))


def _summary(index: DatasetIndex, groups: Groups) -> str:
    n_multi = groups.count("exact") + groups.count("near")
    n_exact = len({h for h in index.sha256 if index.sha256.count(h) > 1})
    lines = [
        f"{len(index.paths)} images, {len(groups.kind)} groups after de-duplication; "
        f"{n_multi} duplicate groups ({groups.count('near')} near, "
        f"{groups.count('exact')} purely exact); "
        f"{n_exact} exact-duplicate (same bytes) groups; cross-class groups: {len(groups.cross_class)}"
    ]
    lines += [f"  cross-class: {g}" for g in groups.cross_class]
    lines += [f"  skipped {p}: {why}" for p, why in index.skipped]
    return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class SplitConfig:
    """``python -m model.data split``: index, group duplicates and write the split manifest CSV."""

    data: Path = field(metadata={"help": "folder with one sub-folder per class"})
    out: Path = field(metadata={"help": "manifest CSV to write"})
    seed: int = DEFAULT_SEED


@dataclass(frozen=True, kw_only=True)
class GroupsConfig:
    """``python -m model.data groups``: report duplicate groups and agreement with a reference CSV."""

    data: Path = field(metadata={"help": "folder with one sub-folder per class"})
    reference: Path | None = field(
        default=None,
        metadata={"help": "CSV with path,group,sha256 (default: DATA/near_duplicate_groups.csv if present)"},
    )


def _cmd_split(args: SplitConfig) -> None:
    index = index_dataset(args.data, progress=True)
    frame, groups = build_manifest(index, args.seed)
    out = write_manifest(frame, args.out)
    print(_summary(index, groups))
    counts = pd.crosstab(frame["split"], frame["label"], margins=True, margins_name="all")
    print(counts.reindex([*SPLITS, "all"]).to_string())
    print(f"wrote {out} (sha256 {manifest_sha256(out)[:12]})")


def _cmd_groups(args: GroupsConfig) -> None:
    index = index_dataset(args.data, progress=True)
    groups = index.groups()
    print(_summary(index, groups))
    ref_path = args.reference or Path(args.data) / "near_duplicate_groups.csv"
    if args.reference is None and not ref_path.is_file():
        return
    ref_group, ref_sha = read_reference_groups(ref_path)
    a = compare_groups(groups, dict(zip(index.paths, index.sha256, strict=True)), ref_group, ref_sha)
    print(f"agreement with {ref_path}:")
    print(
        f"  exact-duplicate groups identical: {a.exact_match} (ours {a.n_exact[0]}, reference {a.n_exact[1]})"
    )
    print(f"  same-group pairs: precision {a.pair_precision:.3f}, recall {a.pair_recall:.3f}")
    print(f"  near pairs (bytes differ): precision {a.near_precision:.3f}, recall {a.near_recall:.3f}")
    print(f"  adjusted Rand index: {a.adjusted_rand:.3f}")
    print("".join(f"  missed: {p} ~ {q}\n" for p, q in a.missed), end="")
    print("".join(f"  extra:  {p} ~ {q}\n" for p, q in a.extra), end="")
    print("".join(f"  sha256 differs from reference: {p}\n" for p in a.hash_mismatches), end="")


def cli_parser() -> argparse.ArgumentParser:
    """The ``python -m model.data`` parser, generated from :class:`SplitConfig` and :class:`GroupsConfig`."""
    parser = argparse.ArgumentParser(prog="python -m model.data", description=__doc__.split("\n")[0])
    add_subcommands(
        parser,
        {
            "split": (SplitConfig, "index, group duplicates and write the split manifest CSV"),
            "groups": (GroupsConfig, "report duplicate groups and agreement with a reference CSV"),
        },
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m model.data split|groups``).

    Args:
        argv: the subcommand and its options (``None``: the process's own).

    Returns:
        0 once the manifest is written or the groups are reported.

    Raises:
        DataError: the data folder cannot be indexed, or the reference grouping is missing or lacks a
            column (``run_cli`` prints it and exits 2).
    """
    cfg = parse_config(cli_parser(), argv)
    (_cmd_split if isinstance(cfg, SplitConfig) else _cmd_groups)(cfg)
    return 0


if __name__ == "__main__":
    run_cli(main)
