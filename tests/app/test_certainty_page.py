"""AppTests of how sure the app says it is (issue 13): borderline and unreliable answers, known scans, the one
raw/calibrated choice, plain readings of the numbers and the training-set size read from the manifest.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.certainty import UNSURE_BAND, is_unsure
from model.data.scan import load_scan
from model.data.split import manifest_sha256
from model.evaluate.readings import evaluation_readings
from tests.app.test_explain_page import PAGE, _upload

EDGE_TOL = 0.011  # the page shows whole percent: closer than this to a band edge, either reading is right


def _walk(node) -> list:
    """Elements of a tree in display order (depth first)."""
    out = []
    for child in getattr(node, "children", {}).values():
        out.append(child)
        out += _walk(child)
    return out


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _known_env(app_env, tmp_path, monkeypatch) -> pd.DataFrame:
    """A copy of the model whose training config names a manifest (yes/ = train, no/ = test), and masks."""
    model_dir = tmp_path / "model"
    shutil.copytree(app_env.model_dir, model_dir)
    data_dir = tmp_path / "data"
    shutil.copytree(app_env.data_dir, data_dir)
    rows = []
    for path in sorted(data_dir.glob("*/*")):
        rel = path.relative_to(data_dir).as_posix()
        yes = rel.startswith("yes/")
        rows.append(
            (rel, load_scan(path).sha256, "tumor" if yes else "no tumor", rel, "train" if yes else "test")
        )
    manifest = pd.DataFrame(rows, columns=["path", "sha256", "label", "group", "split"])
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    config = {
        "manifest": str(tmp_path / "manifest.csv"),
        "manifest_sha256": manifest_sha256(tmp_path / "manifest.csv"),
    }
    (model_dir / "training_config.json").write_text(json.dumps(config))
    first = data_dir / manifest["path"].iloc[-1]  # a yes/ scan: give it a mask
    w, h = Image.open(first).size
    masks = tmp_path / "data_masks"
    (masks / "masks").mkdir(parents=True)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : h // 2, w // 4 : w // 2] = 255
    Image.fromarray(mask).save(masks / "masks" / "m.png")
    sha = manifest["sha256"].iloc[-1]
    (masks / "masks.csv").write_text(
        "mask,image,image_sha256,mask_w,mask_h,image_w,image_h,size_match\n"
        f"masks/m.png,../data/{manifest['path'].iloc[-1]},{sha},{w},{h},{w},{h},True\n"
    )
    monkeypatch.setenv("MRI_EXPLAIN_MODEL", str(model_dir))
    monkeypatch.setenv("MRI_EXPLAIN_DATA", str(data_dir))
    return manifest


def test_borderline_answers_say_so_in_the_headline(app_env, app_test, phantom_png):
    at = _upload(app_test(PAGE), phantom_png())
    assert not at.exception
    p = int(_metric(at, "P(tumor)").rstrip("%")) / 100
    headline = _metric(at, "Prediction")
    if min(abs(p - edge) for edge in UNSURE_BAND) > EDGE_TOL:
        assert headline.startswith("borderline") == is_unsure(p), (p, headline)
        assert (headline in ("tumor", "no tumor")) == (not is_unsure(p))
    assert any("measures stability, not the chance of being right" in c.value for c in at.caption)


def test_failed_input_check_comes_first_and_marks_the_answer_unreliable(app_env, app_test):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (60, 300, 3), dtype=np.uint8)).save(buf, format="PNG")
    at = _upload(app_test(PAGE), buf.getvalue())
    assert not at.exception
    assert _metric(at, "Prediction").startswith("unreliable")
    kinds = [type(e).__name__ for e in _walk(at.main)]
    assert kinds.index("Warning") < kinds.index("Metric")


def test_a_training_scan_is_recognised_and_its_mask_outlined(app_env, app_test, tmp_path, monkeypatch):
    manifest = _known_env(app_env, tmp_path, monkeypatch)
    at = app_test()
    at.session_state["explain.case_path"] = manifest["path"].iloc[-1]  # a yes/ (train) scan with a mask
    at.switch_page(PAGE).run()
    assert not at.exception
    label = manifest["label"].iloc[-1]
    assert any(f"in the training split (true label {label}" in w.value for w in at.warning)
    assert any("tumour outline" in c.value for c in at.caption)
    n_train = int((manifest["split"] == "train").sum())
    assert any(f"Trained on {n_train} training scans" in c.value for c in at.caption)
    at = app_test()
    at.session_state["explain.case_path"] = manifest["path"].iloc[0]  # a no/ (test) scan, no mask
    at.switch_page(PAGE).run()
    assert any("in the test split" in i.value for i in at.info)
    assert not any("tumour outline" in c.value for c in at.caption)


def test_an_unknown_scan_is_not_called_a_training_scan(app_env, app_test, tmp_path, monkeypatch, phantom_png):
    _known_env(app_env, tmp_path, monkeypatch)
    at = _upload(app_test(PAGE), phantom_png(seed=123))
    assert not at.exception
    assert not any("split (true label" in w.value for w in [*at.warning, *at.info])


@pytest.mark.parametrize("calibrated", [False, True])
def test_one_probability_choice_is_labelled_on_every_page(spread_env, app_test, calibrated):
    at = app_test("../pages/performance.py")
    at.toggle(key="settings.calibrated").set_value(calibrated).run()
    kind = "calibrated" if calibrated else "raw (uncalibrated)"
    for page in ("../pages/performance.py", "../pages/error_audit.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert at.toggle(key="settings.calibrated").value is calibrated
        assert any(f"Probabilities: {kind}" in c.value for c in at.caption), page


def test_performance_reads_the_numbers_in_plain_words(spread_env, app_test):
    at = app_test("../pages/performance.py")
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    ev = json.loads((spread_env.eval_dir / "test_results.json").read_text())
    for line in evaluation_readings(ev):
        assert line in shown
    base = max(np.sum(ev["confusion"], axis=1)) / ev["n"]
    assert f"the {base:.2f} of always answering" in shown and f"n = {ev['n']}" in shown
