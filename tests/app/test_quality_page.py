"""AppTest of the Explanation-quality page on a synthetic batch-job summary (written by model.explain)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from model.evaluate.artifacts import read_evaluation
from model.explain import summary as xs
from model.explain.registry import EXPLAINERS
from model.loading import load_classifier
from tests.app.explanation_summary import write_explanation_summary

PAGE = "../pages/quality.py"
METHODS = ("attention_rollout", "gradcam")
SANITY_RHO = {"attention_rollout": 0.9, "gradcam": 0.1}  # rollout fails (>= 0.5), Grad-CAM passes
SANITY_CASES = 3
THRESHOLD = 0.5


def _rows(records: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i, case in enumerate(records.to_dict("records")):
        tumour = case["label"] == "tumor"
        base = {k: case[k] for k in ("path", "sha256", "group", "label")} | {"index": i, "target": 1}
        rows.append(
            base | {"method": xs.RANDOM_REFERENCE, "seconds": 0.0, "deletion_auc": 0.5, "insertion_auc": 0.5}
        )
        for method in METHODS:
            masked = {"pointing_hit": float(i % 2), "mask_share": 0.3, "area_share": 0.1, "chance_hit": 0.2}
            row = base | {
                "method": method,
                "seconds": 0.1,
                "deletion_auc": rng.uniform(0.1, 0.4),
                "insertion_auc": rng.uniform(0.5, 0.9),
            }
            row |= masked if tumour else dict.fromkeys(masked, np.nan)
            if i < SANITY_CASES:
                row |= {"sanity_spearman": SANITY_RHO[method], "sanity_stage_0": SANITY_RHO[method]}
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def quality_env(spread_env, app_env, monkeypatch, tmp_path):
    """A copy of the spread evaluations plus an explanations/ summary for two methods."""
    eval_dir = shutil.copytree(spread_env.eval_dir, tmp_path / "eval")
    records = read_evaluation(eval_dir, "test").records
    rng = np.random.default_rng(0)
    cases = _rows(records, rng)
    settings = {
        "steps": 4,
        "sanity_threshold": THRESHOLD,
        "sanity_stages": ["up to embeddings"],
        "sanity_cases": SANITY_CASES,
    }
    maps = {
        xs.map_key(m, 1, sha): rng.dirichlet(np.ones(16)).reshape(4, 4)
        for m in METHODS
        for sha in records["sha256"]
    }
    fingerprint = load_classifier(app_env.model_dir).fingerprint
    write_explanation_summary(eval_dir, cases, fingerprint, settings, maps)
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(eval_dir))
    return cases


def _table(at) -> pd.DataFrame:
    return at.dataframe[1].value  # [0] is the verdict table


def test_summary_table_shows_each_method_with_intervals_and_verdicts(quality_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    table = _table(at)
    labels = [EXPLAINERS[m].label for m in METHODS]
    assert list(table.index) == [*labels, "Random ranking (reference)"]
    for method, label in zip(METHODS, labels, strict=True):
        deletion = quality_env.loc[quality_env["method"] == method, "deletion_auc"].mean()
        assert table.loc[label, "deletion AUC ↓"].startswith(f"{deletion:.2f} (")
    assert table.loc[labels[0], "sanity: median ρ ↓"] == "0.90 (fail)"
    assert table.loc[labels[1], "sanity: median ρ ↓"] == "0.10 (pass)"
    assert table.loc["Random ranking (reference)", "sanity: median ρ ↓"] == "n/a (not checked)"


def test_figures_and_one_trained_vs_randomised_pair_are_drawn(quality_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    # deletion/insertion + sanity + pointing game, then the saved and the randomised map of the default method
    assert len(at.main.get("image")) == 3 + 2
    assert at.multiselect(key="quality.methods").value == ["attention_rollout"]
    at.multiselect(key="quality.methods").set_value(list(METHODS)).run()
    assert not at.exception
    assert len(at.main.get("image")) == 3 + 2 * len(METHODS)
    captions = " ".join(c.value for c in at.caption)
    assert "ρ = 0.90" in captions and "ρ = 0.10" in captions


def test_sanity_cases_are_the_ones_the_batch_job_checked(quality_env, app_test):
    at = app_test(PAGE)
    checked = quality_env.loc[quality_env["sanity_spearman"].notna(), "path"].unique()
    assert sorted(at.selectbox(key="quality.case").options) == sorted(checked)
    assert len(checked) == SANITY_CASES


def test_without_data_folder_the_comparison_explains_how_to_configure_it(quality_env, app_test, monkeypatch):
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    at = app_test(PAGE)
    assert not at.exception
    assert any("MRI_EXPLAIN_DATA" in i.value for i in at.info)
    assert len(at.main.get("image")) == 3


def test_missing_summary_shows_the_command_that_makes_it(spread_env, app_test):
    at = app_test(PAGE)
    assert not at.exception
    assert not at.dataframe
    assert any("python -m model.explain" in i.value for i in at.info)
