"""dashboard.quality_view.sanity_case: one sanity-checked scan's row, picked by its path."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import quality_view

CASES = pd.DataFrame(
    {
        "path": ["yes/y1.jpg", "no/n2.jpg"],
        "sha256": ["a" * 64, "b" * 64],
        "target": [1, 0],
        "gradcam": [0.12, 0.31],
    }
)


def test_sanity_case_is_the_row_of_that_path():
    case = quality_view.sanity_case(CASES, "no/n2.jpg")
    assert case == {"path": "no/n2.jpg", "sha256": "b" * 64, "target": 0, "gradcam": 0.31}


def test_an_unknown_path_is_refused_by_name():
    with pytest.raises(KeyError, match="yes/absent.jpg"):
        quality_view.sanity_case(CASES, "yes/absent.jpg")
