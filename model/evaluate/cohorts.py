"""Cohorts of scans for the error audit: data set and source, image size, file format, split, map peak.

A shortcut shows up as errors piling up in one cohort (all false positives are PNGs, or come from one
source, or have their map's peak on the skull edge). These functions describe each case by such
attributes so a page can filter and count by them. They read only file headers (PIL opens lazily), never
decode whole scans, and never raise for an unreadable file (its cells say "unreadable").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from model.data.case_files import CaseFileError, resolve_case

COHORT_COLUMNS = ("split", "source", "file format", "image size")
UNREADABLE = "unreadable"
# Longer image side, in pixels: bucket edges of "image size" (the set ranges from ~150 to ~1,900 px).
SIZE_EDGES = (256, 512, 1024)
SOURCE_PREFIX = re.compile(r"^([a-z]+)-")  # pool file names start with their source: "figshare-...jpg"
HEAD_LEVEL = 0.1  # share of the scan's intensity range above which a pixel counts as head, not background
EDGE_PX_SHARE = 0.04  # the head's rim: this share of the longer side inward from the head's outline
PEAK_REGIONS = ("inside the head", "head edge", "background")


def size_bucket(width: int, height: int) -> str:
    """``"< 256 px"``, ``"256–511 px"``, ``"512–1023 px"`` or ``"≥ 1024 px"`` by the longer side.

    Args:
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        The bucket label (edges :data:`SIZE_EDGES`).
    """
    side = max(width, height)
    low = 0
    for edge in SIZE_EDGES:
        if side < edge:
            return f"< {edge} px" if low == 0 else f"{low}–{edge - 1} px"
        low = edge
    return f"≥ {SIZE_EDGES[-1]} px"


def source_of(path: str, data_name: str) -> str:
    """The case's data set, with its source where the file name carries one (``"brain_mri_pool: figshare"``).

    Args:
        path: data-root-relative path, e.g. ``"no/nickparvar-notumor-Tr-no_0031.jpg"``.
        data_name: the evaluation's data folder name (``results["data"]``).

    Returns:
        ``data_name``, followed by ``": <source>"`` when the file name starts with ``"<source>-"``.
    """
    match = SOURCE_PREFIX.match(Path(path).name)
    return f"{data_name}: {match.group(1)}" if match else data_name


def file_attributes(data_dir: Path | None, path: str) -> dict[str, str]:
    """``file format`` (``"JPEG"``, ``"PNG named .jpg"``) and ``image size`` of one case, from its header.

    Args:
        data_dir: the data root, or None (only the extension is known then).
        path: data-root-relative path.

    Returns:
        ``{"file format", "image size"}``; both :data:`UNREADABLE` for a file that cannot be opened or is
        outside the data root (never raises for it).
    """
    extension = Path(path).suffix.lower().lstrip(".") or "none"
    if data_dir is None:
        return {"file format": f".{extension}", "image size": "unknown (no data folder)"}
    try:
        with Image.open(resolve_case(data_dir, path)) as img:  # reads the header only
            kind, (width, height) = img.format or "unknown", img.size
    except (CaseFileError, OSError, UnidentifiedImageError):
        return {"file format": UNREADABLE, "image size": UNREADABLE}
    named = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "dcm": "DICOM"}.get(extension)
    fmt = kind if named == kind else f"{kind} named .{extension}"
    return {"file format": fmt, "image size": size_bucket(width, height)}


def case_cohorts(records: pd.DataFrame, split: str, data_name: str, data_dir: Path | None) -> pd.DataFrame:
    """The cohort attributes of every case of one evaluation.

    Args:
        records: the evaluation's per-case records (``path`` column).
        split: the evaluation's name.
        data_name: its data folder name.
        data_dir: the configured data root, or None.

    Returns:
        One row per record, in order: ``case`` plus the :data:`COHORT_COLUMNS`.
    """
    rows = []
    for path in records["path"]:
        rows.append(
            {
                "case": path,
                "split": split,
                "source": source_of(path, data_name),
                **file_attributes(data_dir, path),
            }
        )
    return pd.DataFrame(rows, columns=["case", *COHORT_COLUMNS])


def filter_cases(cases: pd.DataFrame, chosen: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Keep the rows whose value in each column is one of the chosen values (an empty choice keeps all).

    Args:
        cases: a frame holding the cohort columns.
        chosen: column -> allowed values.

    Returns:
        The kept rows, in order, with a fresh 0..n-1 index.
    """
    keep = np.ones(len(cases), dtype=bool)
    for column, values in chosen.items():
        if values:
            keep &= cases[column].isin(list(values)).to_numpy()
    return cases[keep].reset_index(drop=True)


def cohort_counts(cases: pd.DataFrame, column: str) -> pd.DataFrame:
    """Findings per cohort value: rows = values of ``column``, columns = findings, cells = counts.

    Args:
        cases: one row per case with ``column`` and a ``finding`` column (e.g. "false positive").
        column: the cohort column to count by, e.g. one of :data:`COHORT_COLUMNS`.

    Returns:
        An int64 cross-table, index named ``column``, one column per finding that occurs.
    """
    return pd.crosstab(cases[column], cases["finding"]).rename_axis(index=column, columns=None)


def head_regions(gray: NDArray[np.floating]) -> NDArray[np.int8]:
    """Label each pixel 0 inside the head, 1 on its edge (skull and rim), 2 background.

    Args:
        gray: (H, W) scan intensities, any range.

    Returns:
        (H, W) int8 codes indexing :data:`PEAK_REGIONS`.
    """
    g = np.asarray(gray, dtype=np.float64)
    span = float(g.max() - g.min()) or 1.0
    head = ndimage.binary_fill_holes((g - g.min()) / span > HEAD_LEVEL)
    labels, n = ndimage.label(head)
    if n > 1:  # keep the largest blob: on-screen text and markers are not head
        sizes = ndimage.sum(head, labels, index=range(1, n + 1))
        head = labels == 1 + int(np.argmax(sizes))
    rim = max(1, round(EDGE_PX_SHARE * max(g.shape)))
    inner = ndimage.binary_erosion(head, iterations=rim)
    return np.where(inner, 0, np.where(head, 1, 2)).astype(np.int8)


def map_peak(heat: NDArray[np.floating] | np.ma.MaskedArray) -> tuple[int, int]:
    """(row, col) of a map's strongest pixel; masked and NaN pixels never count.

    Args:
        heat: (H, W) map on the scan's pixels, any float range; NaN or masked where not defined.

    Returns:
        (row, col) of the first maximum in row-major order.
    """
    values = np.ma.filled(np.ma.masked_invalid(np.ma.asarray(heat, dtype=np.float64)), -np.inf)
    row, col = np.unravel_index(int(np.argmax(values)), values.shape)
    return int(row), int(col)


def peak_region(gray: NDArray[np.floating], peak: tuple[int, int]) -> str:
    """Where a map's peak lies on the scan: one of :data:`PEAK_REGIONS`.

    Args:
        gray: (H, W) scan intensities.
        peak: (row, col) from :func:`map_peak`, on the same pixels.

    Returns:
        ``"inside the head"``, ``"head edge"`` or ``"background"`` (by :func:`head_regions`).
    """
    return PEAK_REGIONS[int(head_regions(gray)[peak])]
