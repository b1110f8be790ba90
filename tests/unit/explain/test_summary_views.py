from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from model.explain.summary import ExplanationArtifactError, read_explanation_summary

SAVED = Path(__file__).resolve().parents[3] / "artifacts" / "eval" / "explanations"


def _real(value: object) -> float:
    return math.nan if value is None else value


def _same(a: float, b: object) -> bool:
    return (math.isnan(a) and b is None) or a == b


def test_typed_summary_holds_the_saved_numbers():
    summary = read_explanation_summary(SAVED)
    raw, info = summary.summary, summary.info
    assert (
        info.split == raw["split"] and info.checkpoint == raw["checkpoint"] and info.n_cases == raw["n_cases"]
    )
    assert (
        info.sanity_threshold == raw["settings"]["sanity_threshold"]
        and info.steps == raw["settings"]["steps"]
    )
    assert list(info.methods) == list(raw["methods"])
    for name, m in raw["methods"].items():
        got = info.methods[name]
        assert got.label == m["label"] and got.n_cases == m["n_cases"]
        assert _same(got.deletion_auc.mean, m["deletion_auc"]["mean"])
        assert _same(got.insertion_auc.ci95.high, m["insertion_auc"]["ci95"][1])
        assert _same(got.mask_share.area_share, m["mask_share"]["area_share"])
        assert _same(got.pointing_game.chance, m["pointing_game"]["chance"])
        assert got.sanity.passed is m["sanity"]["passed"]
        assert got.curves is not None and list(got.curves.deletion) == m["curves"]["deletion"]
    assert info.methods["random"].sanity.passed is None and math.isnan(
        info.methods["random"].pointing_game.hit_rate
    )


def test_a_malformed_method_entry_is_refused_with_the_fix(tmp_path):
    folder = shutil.copytree(SAVED, tmp_path / "explanations")
    data = json.loads((folder / "summary.json").read_text())
    del data["methods"]["gradcam"]["pointing_game"]["chance"]
    (folder / "summary.json").write_text(json.dumps(data))
    with pytest.raises(ExplanationArtifactError, match="malformed entry.*python -m model.explain"):
        read_explanation_summary(folder)
