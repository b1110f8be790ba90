from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from model import io as mio
from model.evaluate.artifacts import read_evaluation

ROOT = Path(__file__).resolve().parents[3]
EVAL = ROOT / "artifacts" / "eval"
SAVED_JSON = sorted(EVAL.glob("*.json")) + [EVAL / "explanations" / "summary.json"]


@pytest.mark.parametrize("path", SAVED_JSON, ids=lambda p: p.name)
def test_committed_json_artifacts_rewrite_to_the_same_bytes(path):
    """The bundled files were written by the code this module replaced: the same bytes from their content."""
    assert mio.json_bytes(json.loads(path.read_text())) == path.read_bytes()


def test_a_read_evaluation_writes_back_byte_identically():
    ev = read_evaluation(EVAL, "test")  # nulls read back as NaN, written back as null
    assert mio.json_bytes(ev.results) == (EVAL / "test_results.json").read_bytes()
    assert mio.csv_bytes(ev.records) == (EVAL / "test_predictions.csv").read_bytes()


def test_committed_csv_artifacts_rewrite_to_the_same_bytes():
    cases = EVAL / "explanations" / "cases.csv"
    frame = pd.read_csv(cases, dtype={"sha256": str, "path": str, "group": str}, float_precision="round_trip")
    assert mio.csv_bytes(frame) == cases.read_bytes()
    for manifest in (ROOT / "artifacts" / "split_manifest.csv", ROOT / "artifacts" / "pool_manifest.csv"):
        frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
        assert mio.csv_bytes(frame) == manifest.read_bytes()


def test_nan_and_inf_become_null_and_null_reads_back_as_nan():
    data = {"a": math.nan, "b": [1.0, math.inf, (2, -math.inf)], "c": "x", "d": None}
    text = mio.json_bytes(data)
    assert json.loads(text) == {"a": None, "b": [1.0, None, [2, None]], "c": "x", "d": None}
    back = mio.null_to_nan(json.loads(text))
    assert math.isnan(back["a"]) and math.isnan(back["b"][1]) and back["b"][0] == 1.0 and back["c"] == "x"
    assert text.endswith(b"}\n") and b'\n  "a": null' in text


def test_json_bytes_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError):
        mio.json_bytes({"a": object()})


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        ({"schema_version": 1}, True),
        ({"schema_version": 2}, False),
        ({"schema_version": True}, False),
        ({"schema_version": "1"}, False),
        ({}, False),
        ([1], False),
    ],
)
def test_schema_version_problem(data, ok):
    problem = mio.schema_version_problem(data, 1, "f.json")
    assert (problem is None) == ok
    if not ok:
        assert problem.startswith("f.json has schema version") and problem.endswith("this code reads 1")


def test_writes_replace_atomically_and_leave_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.json"
    assert mio.write_json(target, {"x": 1}) == target
    assert target.read_bytes() == b'{\n  "x": 1\n}\n'
    mio.write_text(target, "new\n")
    assert target.read_text() == "new\n"
    mio.write_csv(tmp_path / "t.csv", pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert (tmp_path / "t.csv").read_bytes() == b"a,b\n1,x\n2,y\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name.startswith(".")) == []


def test_a_killed_writers_temp_is_removed_and_a_live_ones_kept(tmp_path):
    stale, live = tmp_path / ".a.json.999999999.tmp", tmp_path / f".b.json.{os.getpid()}.tmp"
    stale.write_text("half"), live.write_text("busy")
    mio.atomic_write(tmp_path / "a.json", b"{}\n")
    assert not stale.exists() and live.exists() and (tmp_path / "a.json").read_bytes() == b"{}\n"


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = mio.write_text(tmp_path / "card.md", "old\n")

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(mio.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        mio.write_text(target, "new\n")
    assert target.read_text() == "old\n"
