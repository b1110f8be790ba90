"""App-test fixtures: a tiny ViT model folder, synthetic saved evaluations and a phantom data folder.

Shared by every ``tests/app`` file (Explain/Learn here; Overview/Performance/Error audit/Quality too):

- ``app_artifacts`` (session): :class:`AppArtifacts` with ``model_dir`` (tiny ViT via ``save_classifier``,
  with an ``input_reference.json`` built from phantoms), ``eval_dir`` (``validation`` and ``test`` evaluations
  and ``calibration.json``, written by ``model.evaluate.run.evaluate_manifest`` from a split manifest of the
  phantoms, as ``python -m model.evaluate --manifest`` writes them),
  ``data_dir`` (phantom ``yes/`` + ``no/`` folder the evaluation paths are relative to).
- ``app_env``: points ``MRI_EXPLAIN_MODEL`` / ``MRI_EXPLAIN_EVAL`` / ``MRI_EXPLAIN_DATA`` at those, clears the
  Streamlit caches before and after; ``no_data_env``: the same without a data folder;
  ``empty_env``: model only, an empty evaluation folder and no data folder.
- ``app_test(page=None)``: an ``AppTest`` of ``dashboard/app.py`` (timeout 60 s), already run once
  and switched to
  ``page`` (e.g. ``"../pages/explain.py"``) and run again when given.
- ``phantom_png(seed, tumour)``: PNG bytes of a generated phantom, for uploads.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from model.data.input_check import build_input_reference, save_input_reference
from model.data.scan import load_scan
from model.data.split import write_manifest
from model.data.synthetic import phantom_image
from model.evaluate.artifacts import write_calibration
from model.evaluate.calibration import TemperatureFit
from model.evaluate.run import EvaluateConfig, evaluate_manifest, save_evaluation
from model.loading import Classifier, load_classifier, save_classifier
from model.preprocess import PreprocessConfig
from tests.conftest import make_tiny_vit
from tests.phantoms import write_phantom_dataset

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
APP_TIMEOUT_S = 60
BOOTSTRAP_RESAMPLES = 20  # intervals exist but stay cheap; their values are not what app tests check


@dataclass(frozen=True)
class AppArtifacts:
    model_dir: Path
    eval_dir: Path
    data_dir: Path


def _cases(data_dir: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(data_dir.glob("*/*")):
        rel = path.relative_to(data_dir).as_posix()
        rows.append(
            {
                "path": rel,
                "sha256": load_scan(path).sha256,
                "group": rel,
                "label": "tumor" if rel.startswith("yes/") else "no tumor",
            }
        )
    return pd.DataFrame(rows)


def _write_evaluations(model_dir: Path, data_dir: Path, root: Path) -> Path:
    """Evaluate the phantoms with ``model.evaluate.run``: every other case in validation, the rest in test."""
    cases = _cases(data_dir)
    manifest = write_manifest(
        cases.assign(split=np.where(np.arange(len(cases)) % 2 == 0, "validation", "test")),
        root / "split_manifest.csv",
    )
    cfg = EvaluateConfig(
        model=str(model_dir),
        data=str(data_dir),
        out=str(root / "eval"),
        manifest=str(manifest),
        bootstrap=BOOTSTRAP_RESAMPLES,
        no_progress=True,
    )
    evaluate_manifest(load_classifier(model_dir), cfg)
    return root / "eval"


def _save_fixed(
    eval_dir: Path,
    name: str,
    cases: pd.DataFrame,
    p_tumor: np.ndarray,
    classifier: Classifier,
    fit: TemperatureFit | None = None,
    **meta: object,
) -> pd.DataFrame:
    """Save evaluation ``name`` of ``cases`` with these tumour probabilities instead of the model's own."""
    logits = np.column_stack([np.zeros_like(p_tumor), np.log(p_tumor / (1 - p_tumor))])  # softmax -> p_tumor
    _, records = save_evaluation(
        eval_dir, name, cases, logits, classifier, fit, n_resamples=BOOTSTRAP_RESAMPLES, **meta
    )
    return records


def _by_folder(cases: pd.DataFrame, values: dict[str, tuple[float, ...]]) -> np.ndarray:
    """``values[folder][k]`` for the k-th case (in ``cases`` order) of each class folder (``yes``/``no``)."""
    folder = cases["path"].str.split("/").str[0]
    index = cases.groupby(folder).cumcount()
    return np.array([values[f][i] for f, i in zip(folder, index, strict=True)])


@pytest.fixture(scope="session")
def app_artifacts(tmp_path_factory) -> AppArtifacts:
    root = tmp_path_factory.mktemp("app_artifacts")
    model_dir = save_classifier(
        make_tiny_vit(seed=3), PreprocessConfig(image_size=32), root / "model", {"arch": "tiny-test"}
    )
    data_dir = write_phantom_dataset(root / "data", n_per_class=6, duplicates=0)
    images = [load_scan(p).image for p in sorted(data_dir.glob("*/*"))]
    save_input_reference(build_input_reference(images, "phantom training scans"), model_dir)
    return AppArtifacts(model_dir, _write_evaluations(model_dir, data_dir, root), data_dir)


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_env(monkeypatch, app_artifacts) -> AppArtifacts:
    monkeypatch.setenv("MRI_EXPLAIN_MODEL", str(app_artifacts.model_dir))
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(app_artifacts.eval_dir))
    monkeypatch.setenv("MRI_EXPLAIN_DATA", str(app_artifacts.data_dir))
    _clear_caches()
    yield app_artifacts
    _clear_caches()


@pytest.fixture
def no_data_env(app_env, monkeypatch) -> AppArtifacts:
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    return app_env


@pytest.fixture
def empty_env(app_env, monkeypatch, tmp_path) -> AppArtifacts:
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(tmp_path / "no_eval"))
    monkeypatch.delenv("MRI_EXPLAIN_DATA")
    return app_env


@pytest.fixture
def app_test():
    def make(page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT_S).run()
        if page is not None:
            at.switch_page(page).run()
        return at

    return make


@pytest.fixture
def phantom_png():
    def make(seed: int = 5, tumour: bool = True, size: tuple[int, int] = (96, 112)) -> bytes:
        buf = io.BytesIO()
        phantom_image(seed, size, tumour).save(buf, format="PNG")
        return buf.getvalue()

    return make


# --- evaluation pages (dashboard-analysis): saved evaluations with spread-out, hand-chosen probabilities ---
# The tiny random ViT scores every phantom near 0.5, so threshold tests use these records instead: the phantom
# cases of ``app_artifacts.data_dir`` with fixed tumour probabilities, written through
# model.evaluate.artifacts.
SPREAD_P_TUMOR = {"no": (0.05, 0.20, 0.40, 0.60, 0.85, 0.48), "yes": (0.15, 0.45, 0.65, 0.80, 0.95, 0.52)}
SPREAD_TEMPERATURE = 2.0


@dataclass(frozen=True)
class SpreadEval:
    eval_dir: Path
    records: pd.DataFrame  # path, label, p_tumor, pcal_tumor of the "test" evaluation


@pytest.fixture(scope="session")
def spread_eval(app_artifacts, tmp_path_factory) -> SpreadEval:
    classifier = load_classifier(app_artifacts.model_dir)
    cases = _cases(app_artifacts.data_dir)
    p = _by_folder(cases, SPREAD_P_TUMOR)
    fit = TemperatureFit(SPREAD_TEMPERATURE, "validation", len(p), 1.0, 0.9)
    eval_dir = tmp_path_factory.mktemp("spread_eval")
    write_calibration(eval_dir, fit, classifier.fingerprint)
    parts = {
        "validation": np.arange(len(p)) % 2 == 0,
        "test": np.ones(len(p), bool),
        "external": np.ones(len(p), bool),
    }
    written = {
        name: _save_fixed(
            eval_dir,
            name,
            cases[rows].reset_index(drop=True),
            p[rows],
            classifier,
            fit,
            kind="external" if name == "external" else "split",
        )
        for name, rows in parts.items()
    }
    return SpreadEval(eval_dir, written["test"][["path", "label", "p_tumor", "pcal_tumor"]])


@pytest.fixture
def spread_env(app_env, spread_eval, monkeypatch) -> SpreadEval:
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(spread_eval.eval_dir))
    return spread_eval


# --- Compare page: a second tiny ViT as baseline A; fixed probabilities for A and B on the same scans ---
# At threshold 0.5: A is right on 8 of 12, B on 10; only A right on 1 scan, only B on 3 (4 disagreements).
COMPARE_P_TUMOR = {
    "A": {"no": (0.2, 0.3, 0.6, 0.7, 0.4, 0.1), "yes": (0.8, 0.4, 0.3, 0.9, 0.6, 0.7)},
    "B": {"no": (0.1, 0.2, 0.3, 0.8, 0.2, 0.1), "yes": (0.9, 0.7, 0.6, 0.9, 0.4, 0.8)},
}


@dataclass(frozen=True)
class CompareArtifacts:
    baseline_dir: Path  # side A: model/ (tiny ViT, another seed) and eval/ (its "test" evaluation)
    b_eval_dir: Path  # side B: the app model's "test" evaluation on the same scans
    records: pd.DataFrame  # path, label, p_a, p_b


@pytest.fixture(scope="session")
def compare_artifacts(app_artifacts, tmp_path_factory) -> CompareArtifacts:
    root = tmp_path_factory.mktemp("compare")
    baseline = root / "baseline"
    a_model = save_classifier(
        make_tiny_vit(seed=11), PreprocessConfig(image_size=32), baseline / "model", {"arch": "tiny-test"}
    )
    cases = _cases(app_artifacts.data_dir)
    p = {side: _by_folder(cases, COMPARE_P_TUMOR[side]) for side in "AB"}
    _save_fixed(baseline / "eval", "test", cases, p["A"], load_classifier(a_model))
    _save_fixed(root / "b_eval", "test", cases, p["B"], load_classifier(app_artifacts.model_dir))
    frame = cases[["path", "label"]].assign(p_a=p["A"], p_b=p["B"])
    return CompareArtifacts(baseline, root / "b_eval", frame)


@pytest.fixture
def compare_env(app_env, compare_artifacts, monkeypatch) -> CompareArtifacts:
    monkeypatch.setenv("MRI_EXPLAIN_BASELINE", str(compare_artifacts.baseline_dir))
    monkeypatch.setenv("MRI_EXPLAIN_EVAL", str(compare_artifacts.b_eval_dir))
    return compare_artifacts
