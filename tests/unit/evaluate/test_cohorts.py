"""model.evaluate.cohorts: the cohort attributes the Error audit filters by, and where a map's peak lies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.evaluate.cohorts import (
    UNREADABLE,
    case_cohorts,
    cohort_counts,
    file_attributes,
    filter_cases,
    head_regions,
    map_peak,
    peak_region,
    size_bucket,
    source_of,
)


@pytest.mark.parametrize(
    ("size", "bucket"),
    [
        ((100, 200), "< 256 px"),
        ((300, 256), "256–511 px"),
        ((512, 40), "512–1023 px"),
        ((1900, 1), "≥ 1024 px"),
    ],
)
def test_size_bucket_by_the_longer_side(size, bucket):
    assert size_bucket(*size) == bucket


def test_source_comes_from_the_pool_file_name_prefix():
    assert source_of("no/nickparvar-notumor-Tr-no_0031.jpg", "brain_mri_pool") == "brain_mri_pool: nickparvar"
    assert source_of("yes/Y1.jpg", "brain_tumor_dataset") == "brain_tumor_dataset"
    assert source_of("no/1 no.jpeg", "brain_tumor_dataset") == "brain_tumor_dataset"


def test_file_attributes_read_the_header_and_name_a_disguised_format(tmp_path):
    (tmp_path / "yes").mkdir()
    Image.new("L", (300, 200)).save(tmp_path / "yes" / "a.jpg", format="PNG")  # as six files of the set
    Image.new("L", (90, 80)).save(tmp_path / "yes" / "b.jpeg", format="JPEG")
    (tmp_path / "yes" / "c.png").write_bytes(b"not an image")
    assert file_attributes(tmp_path, "yes/a.jpg") == {
        "file format": "PNG named .jpg",
        "image size": "256–511 px",
    }
    assert file_attributes(tmp_path, "yes/b.jpeg") == {"file format": "JPEG", "image size": "< 256 px"}
    assert file_attributes(tmp_path, "yes/c.png") == {"file format": UNREADABLE, "image size": UNREADABLE}
    assert file_attributes(tmp_path, "../outside.png")["file format"] == UNREADABLE  # confined to the folder
    assert file_attributes(None, "yes/a.jpg")["file format"] == ".jpg"


def test_case_cohorts_filter_and_count(tmp_path):
    (tmp_path / "no").mkdir()
    Image.new("L", (64, 64)).save(tmp_path / "no" / "x.png")
    records = pd.DataFrame({"path": ["no/x.png", "no/missing.png"]})
    cohorts = case_cohorts(records, "test", "set", tmp_path)
    assert list(cohorts.columns) == ["case", "split", "source", "file format", "image size"]
    assert cohorts["file format"].tolist() == ["PNG", UNREADABLE]
    cases = cohorts.assign(finding=["false positive", "false negative"])
    assert filter_cases(cases, {"file format": ["PNG"], "source": []})["case"].tolist() == ["no/x.png"]
    assert len(filter_cases(cases, {"file format": []})) == 2  # nothing chosen keeps all
    assert cohort_counts(cases, "file format").loc["PNG", "false positive"] == 1


def _head(size: int = 100) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (np.hypot(yy - size / 2, xx - size / 2) < size * 0.35).astype(float)  # a bright disc on black


def test_head_regions_split_inside_edge_and_background():
    regions = head_regions(_head())
    assert regions[50, 50] == 0 and regions[50, 50 + 34] == 1 and regions[2, 2] == 2


@pytest.mark.parametrize(
    ("where", "region"), [((50, 50), "inside the head"), ((50, 84), "head edge"), ((3, 3), "background")]
)
def test_peak_region_of_a_map(where, region):
    heat = np.zeros((100, 100))
    heat[where] = 5.0
    peak = map_peak(np.ma.masked_array(heat, mask=np.zeros_like(heat, bool)))
    assert peak == where and peak_region(_head(), peak) == region


def test_map_peak_ignores_masked_pixels():
    heat = np.ma.masked_array(np.array([[9.0, 1.0], [0.0, 2.0]]), mask=[[True, False], [False, False]])
    assert map_peak(heat) == (1, 1)
