"""Every page under hostile input (issue 14): forged evaluations, crafted ``?case=`` links, markdown in names,
odd sidebar fields, formula cells in the CSV download, and one decode per uploaded scan."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dashboard import resources, tables
from dashboard.safe_text import csv_text, plain
from model.data import scan as scan_module
from model.evaluate.artifacts import build_records, build_results, read_evaluation, write_evaluation
from model.labels import LABELS

PAGES = ["overview", "explain", "performance", "error_audit", "quality", "learn"]
EXPLAIN = "../pages/explain.py"
INJECTION = "x`](https://evil.example) **bold** ![i](https://evil.example/p.png) www.evil.example"


def _page(name: str) -> str:
    return f"../pages/{name}.py"


@pytest.fixture
def forged_env(app_env, tmp_path, monkeypatch):
    folder = shutil.copytree(app_env.eval_dir, tmp_path / "eval")
    path = folder / "test_results.json"
    data = json.loads(path.read_text())
    data["reliability"], data["metrics"]["accuracy"] = {}, 1.5  # forged; validation stays valid
    path.write_text(json.dumps(data))
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(folder))
    return folder


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_a_folder_with_a_forged_evaluation(forged_env, app_test, page):
    at = app_test(_page(page))
    assert not at.exception


def _case_link(app_test, case: str):
    at = app_test()
    at.query_params["case"] = case
    return at.switch_page(EXPLAIN).run()


def test_a_case_link_outside_the_data_folder_is_refused_like_a_missing_one(
    app_env, app_test, phantom_png, tmp_path
):
    outside = tmp_path / "outside.png"
    outside.write_bytes(phantom_png())
    messages = {}
    for case in (str(outside), "../../" + outside.name, "yes/absent.png"):
        at = _case_link(app_test, case)
        assert not at.exception and not at.metric  # nothing outside the folder is shown or scored
        assert len(at.warning) == 1
        messages[case] = at.warning[0].value.replace(plain(case), "CASE")
    assert len(set(messages.values())) == 1, messages  # missing and outside read the same


def test_a_crafted_case_link_is_shown_as_text(app_env, app_test):
    at = _case_link(app_test, INJECTION)
    assert not at.exception
    warning = at.warning[0].value
    assert plain(INJECTION) in warning and "](" not in warning.replace("\\](", "")


def test_an_upload_name_with_markdown_is_shown_as_text(app_env, app_test):
    at = app_test(EXPLAIN)
    at.file_uploader(key="explain.upload").set_value((INJECTION + ".png", b"not an image", "image/png")).run()
    assert not at.exception
    assert plain(INJECTION + ".png") in at.error[0].value


@pytest.mark.parametrize("key", ["app.model_source", "app.eval_dir", "app.data_dir"])
def test_a_5000_character_field_gives_one_sentence_and_every_page_keeps_working(app_env, app_test, key):
    at = app_test()
    at.text_input(key=key).set_value("a" * 5000).run()
    for page in PAGES:
        at.switch_page(_page(page)).run()
        assert not at.exception, page
        sidebar = [e.value for e in at.sidebar.error]
        assert any("5000 characters long" in e for e in sidebar), (page, sidebar)
        assert all("a" * 100 not in e.value for e in at.error), page


def test_formula_cells_in_the_audit_list_are_neutralised(tmp_path):
    paths = ["=HYPERLINK(evil).png", "+SUM(1).png", "plain.png", "@cmd.png"]  # valid relative paths
    cases = pd.DataFrame({"path": paths, "sha256": ["0" * 64] * 4, "group": list("abcd")})
    cases["label"] = [LABELS[1], LABELS[0], LABELS[1], LABELS[0]]
    logits = np.array([[2.0, -1.0], [-1.0, 2.0], [0.0, 0.1], [0.1, 0.0]])
    records = build_records(cases, logits, LABELS)
    write_evaluation(
        tmp_path, "test", build_results("test", records, LABELS, "f" * 12, n_resamples=0), records
    )
    ev = read_evaluation(tmp_path, "test")
    listed = tables.audit_cases(ev, 0.5, (0.4, 0.6))
    back = pd.read_csv(io.StringIO(csv_text(listed)), dtype=str, keep_default_na=False)
    assert not back.map(lambda v: v.startswith(("=", "+", "-", "@"))).to_numpy().any()
    assert "'=HYPERLINK(evil).png" in set(back["case"])


def test_an_uploaded_scan_is_decoded_once_across_reruns(app_env, app_test, monkeypatch):
    calls = []
    real = scan_module.load_scan

    def counting(source, *args, **kwargs):
        calls.append(1)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(resources, "load_scan", counting)
    buf = io.BytesIO()
    Image.fromarray((np.arange(300 * 280) % 251).astype(np.uint8).reshape(300, 280)).save(buf, format="PNG")
    at = app_test(EXPLAIN)
    at.file_uploader(key="explain.upload").set_value(("scan.png", buf.getvalue(), "image/png")).run()
    assert not at.exception and at.metric
    at.slider(key="explain.opacity").set_value(0.8).run()
    at.toggle(key="explain.score").set_value(True).run()
    assert not at.exception
    assert len(calls) == 1  # prediction, quality check, maps and scores all reuse the one decode
