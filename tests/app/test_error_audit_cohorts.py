"""AppTest of the Error audit (issue 13): class-specific thumbnails with a colour bar, and cohort filters."""

from __future__ import annotations

import shutil

from PIL import Image

from dashboard import audit_view, resources
from model.figures import audit as figures_audit
from tests.app.test_error_audit_page import _by_hand, _listed

PAGE = "../pages/error_audit.py"
BAND = (0.35, 0.65)


def test_thumbnails_explain_the_predicted_class_with_a_colour_bar(spread_env, app_test, monkeypatch):
    calls, figures = [], []
    real_explain, real_build = resources.explain_cached, figures_audit.build_thumbnail_figure
    monkeypatch.setattr(resources, "explain_cached", lambda *a: (calls.append(a), real_explain(*a))[1])
    monkeypatch.setattr(
        figures_audit,
        "build_thumbnail_figure",
        lambda *a, **k: figures.append(real_build(*a, **k)) or figures[-1],
    )
    at = app_test(PAGE)
    assert not at.exception
    expected = _by_hand(spread_env.records, 0.5, BAND)
    # calls: (source, fingerprint, sha256, bytes, method, target, params)
    assert {c[4] for c in calls} == {audit_view.AUDIT_METHOD} == {"gradient_rollout"}
    targets = {call[5] for call in calls}
    assert 1 in targets  # index of "tumor": false positives are explained as "why tumour"
    titles = [fig.axes[0].get_title() for fig in figures]
    for case in expected["false positive"]:
        assert f"{case} · why tumor" in titles
    for case in expected["false negative"]:
        assert f"{case} · why no tumor" in titles
    assert all(len(fig.axes) == 2 for fig in figures)  # the map and its colour bar
    peaks = " ".join(c.value for c in at.caption)
    assert "map peak:" in peaks
    assert any("Map peaks of these" in m.value for m in at.markdown)


def test_a_file_format_cohort_isolates_the_odd_files(spread_env, app_test, app_env, monkeypatch, tmp_path):
    data = shutil.copytree(app_env.data_dir, tmp_path / "data")
    odd = sorted(_by_hand(spread_env.records, 0.5, BAND)["false positive"])[0]
    with Image.open(data / odd) as img:
        img.convert("RGB").save(data / odd, format="JPEG")  # JPEG bytes under a .png name
    monkeypatch.setenv("MRI_EXPLAIN_DATA", str(data))
    at = app_test(PAGE)
    assert not at.exception
    key = "error_audit.cohort.file_format"
    assert "JPEG named .png" in at.multiselect(key=key).options
    at.multiselect(key=key).set_value(["JPEG named .png"]).run()
    assert not at.exception
    listed = _listed(at)
    assert listed["false positive"] == {odd} and not listed["false negative"] and not listed["low confidence"]
    counts = next(d.value for d in at.dataframe if d.value.index.names == ["cohort", "value"])
    assert counts.loc[("file format", "JPEG named .png"), "false positive"] == 1


def test_several_splits_are_audited_together_and_counted_per_split(spread_env, app_test, monkeypatch):
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    at = app_test(PAGE)
    at.multiselect(key="error_audit.splits").set_value(["test", "external"]).run()
    assert not at.exception
    frame = next(d.value for d in at.dataframe if "case" in d.value.columns)
    assert set(frame["split"]) == {"test", "external"}
    assert len(frame) == 2 * len(frame[frame["split"] == "test"])  # the two hold the same cases
    counts = next(d.value for d in at.dataframe if d.value.index.names == ["cohort", "value"])
    assert {"test", "external"} <= set(counts.loc["split"].index)
