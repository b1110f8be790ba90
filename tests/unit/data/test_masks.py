from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from model.data.masks import MaskError, load_mask, read_mask_index

COLUMNS = [
    "mask",
    "image",
    "image_sha256",
    "mask_sha256",
    "mask_w",
    "mask_h",
    "image_w",
    "image_h",
    "size_match",
    "fg_fraction",
]


def _write_masks(root, rows):
    (root / "masks").mkdir(parents=True)
    with (root / "masks.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for name, image, sha, (h, w_), (ih, iw) in rows:
            pixels = np.zeros((h, w_), np.uint8)
            pixels[2:5, 3:7] = 250  # JPEG-like: near-white tumour
            pixels[0, 0] = 8  # compression fuzz near black stays background
            Image.fromarray(pixels).convert("RGB").save(root / "masks" / name)
            w.writerow([f"masks/{name}", image, sha, "m", w_, h, iw, ih, (h, w_) == (ih, iw), 0.1])


def test_lookup_by_hash_or_case_insensitive_name_and_mismatched_masks_are_skipped(tmp_path):
    _write_masks(
        tmp_path,
        [
            ("Y1.jpg", "../brain_tumor_dataset/yes/Y1.jpg", "AA11", (10, 12), (10, 12)),
            ("Y100.jpg", "../brain_tumor_dataset/yes/Y100.JPG", "bb22", (10, 12), (10, 12)),
            ("Y163.jpg", "../brain_tumor_dataset/yes/Y163.JPG", "cc33", (10, 12), (11, 12)),
        ],
    )
    index = read_mask_index(tmp_path)
    assert len(index) == 2
    assert index.find(sha256="aa11").image == "yes/Y1.jpg"
    assert index.find(image="yes/y100.jpg").image == "yes/Y100.JPG"
    assert index.find(image="YES/Y100.JPG") is index.find(image="Y100.jpg")
    assert index.find(image="yes/Y163.JPG") is None and index.find(sha256="cc33") is None
    assert index.find(image="no/1 no.jpeg") is None
    mask = load_mask(index.find(sha256="AA11"))
    assert mask.dtype == bool and mask.shape == (10, 12)
    assert mask.sum() == 12 and mask[2:5, 3:7].all() and not mask[0, 0]


def test_missing_or_malformed_index_raises_with_the_fix(tmp_path):
    with pytest.raises(MaskError, match="--masks"):
        read_mask_index(tmp_path)
    (tmp_path / "masks.csv").write_text("mask,image\nmasks/a.jpg,yes/a.jpg\n")
    with pytest.raises(MaskError, match="lacks columns"):
        read_mask_index(tmp_path)


@pytest.mark.realdata
def test_real_masks_index(real_masks):
    index = read_mask_index(real_masks)
    assert len(index) == 127  # 128 masks, Y163's belongs to Y49
    assert index.find(image="yes/Y163.JPG") is None
    y49 = index.find(image="yes/y49.jpg")
    mask = load_mask(y49)
    assert mask.shape == (307, 271)
    assert mask.mean() == pytest.approx(0.0133, abs=0.002)  # masks.csv fg_fraction
