"""Hand-drawn tumour masks for localisation scores (``brain_tumor_dataset_masks``; see its README).

The masks are rough student outlines, not ground truth: use them for tolerant scores (pointing game with a
dilated mask, share of relevance inside the mask), never for Dice. One mask is known not to fit its image:
``Y163`` (the mask belongs to ``Y49``, a near-duplicate crop, and differs in size), so masks whose size does
not match their image are skipped (``Y49`` keeps its own, correct mask).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from model.errors import MriExplainError

MASKS_CSV = "masks.csv"
# JPEG masks carry compression fuzz near 0 and 255; the README's threshold (fewer than 0.02 % of pixels fall
# between 30 and 225, so the exact value hardly matters).
MASK_THRESHOLD = 127
_REQUIRED = ("mask", "image", "image_sha256", "mask_w", "mask_h", "image_w", "image_h", "size_match")


class MaskError(MriExplainError, ValueError):
    """The mask folder is missing or malformed; the message names the fix."""


@dataclass(frozen=True)
class MaskRecord:
    """One row of ``masks.csv``.

    Attributes:
        image: image path relative to the data root, as stored there (e.g. ``"yes/Y100.JPG"``).
        mask_path: absolute path of the mask file.
        image_sha256: content hash of the image the mask was drawn on.
        image_size: (height, width) of that image.
        usable: False when the mask does not fit its image (size mismatch, e.g. Y163).
    """

    image: str
    mask_path: Path
    image_sha256: str
    image_size: tuple[int, int]
    usable: bool


@dataclass(frozen=True)
class MaskIndex:
    """Masks looked up by image path/name (case-insensitive) or by image content hash.

    Some images occur twice with identical bytes (and a mask each), so a name identifies a mask exactly and
    a hash only up to such duplicates.
    """

    records: tuple[MaskRecord, ...]
    by_sha256: dict[str, MaskRecord]
    by_name: dict[str, MaskRecord]

    def find(self, image: str = "", sha256: str = "") -> MaskRecord | None:
        """The usable mask for an image, by path or file name first, else by hash; None when there is none.

        Args:
            image: image path relative to the data root (e.g. ``"yes/Y100.JPG"``) or a bare file name;
                matched case-insensitively, backslashes read as ``/``. ``""`` skips the name lookup.
            sha256: hex content hash of the image (any case); used only when the name finds nothing.

        Returns:
            The matching :class:`MaskRecord` if it is usable, else None.
        """
        rec = None
        if image:
            key = image.replace("\\", "/").lower()
            rec = self.by_name.get(key) or self.by_name.get(PurePosixPath(key).name)
        if rec is None and sha256:
            rec = self.by_sha256.get(sha256.lower())
        return rec if rec is not None and rec.usable else None

    def __len__(self) -> int:
        return sum(r.usable for r in self.records)


def _record(row: dict[str, str], root: Path) -> MaskRecord:
    image = PurePosixPath(row["image"].replace("\\", "/"))
    rel = "/".join(image.parts[-2:])  # "../brain_tumor_dataset/yes/Y1.jpg" -> "yes/Y1.jpg"
    size_ok = row["size_match"].strip().lower() == "true" and (row["mask_w"], row["mask_h"]) == (
        row["image_w"],
        row["image_h"],
    )
    return MaskRecord(
        rel,
        root / row["mask"],
        row["image_sha256"].lower(),
        (int(row["image_h"]), int(row["image_w"])),
        size_ok,
    )


def read_mask_index(masks_dir: str | Path) -> MaskIndex:
    """Read ``masks.csv`` from the mask folder.

    Args:
        masks_dir: folder holding ``masks.csv`` and ``masks/``.

    Returns:
        A :class:`MaskIndex` (unusable masks are kept but never returned by :meth:`MaskIndex.find`).

    Raises:
        MaskError: ``masks.csv`` missing or lacking a required column.
    """
    root = Path(masks_dir)
    path = root / MASKS_CSV
    if not path.exists():
        raise MaskError(f"No {MASKS_CSV} in '{root}'; pass the brain_tumor_dataset_masks folder (--masks).")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise MaskError(
                f"{path} lacks columns {missing}; it is not the masks.csv described in the README."
            )
        records = [_record(row, root) for row in reader]
    by_name: dict[str, MaskRecord] = {}
    for r in records:
        by_name[r.image.lower()] = r
        by_name[PurePosixPath(r.image.lower()).name] = r
    by_sha256 = {r.image_sha256: r for r in records if r.usable}
    return MaskIndex(tuple(records), by_sha256, by_name)


def load_mask(record: MaskRecord) -> NDArray[np.bool_]:
    """Read one mask as an (H, W) bool array (True = tumour), checked against its image's size.

    Args:
        record: the mask's row from :func:`read_mask_index`.

    Returns:
        (H, W) bool array, H x W equal to ``record.image_size``; True where the grey mask is over
        :data:`MASK_THRESHOLD`.

    Raises:
        MaskError: the file is missing or its size differs from the image's.
    """
    if not record.mask_path.exists():
        raise MaskError(
            f"Mask file {record.mask_path} is missing; check the masks folder against MANIFEST.sha256."
        )
    with Image.open(record.mask_path) as im:
        mask = np.asarray(im.convert("L")) > MASK_THRESHOLD
    if mask.shape != record.image_size:
        raise MaskError(
            f"Mask {record.mask_path.name} is {mask.shape}, its image {record.image_size}; skip it."
        )
    return mask
