from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from model.cli import exit_status
from model.data.scan import load_scan
from model.data.synthetic import phantom
from model.evaluate import artifacts
from model.explain.batch import main, sanity_cases
from model.explain.registry import EXPLAINERS
from model.explain.summary import ExplanationArtifactError, map_key, read_explanation_summary
from model.labels import LABELS
from model.loading import load_classifier, save_classifier
from model.preprocess import PreprocessConfig, preprocess
from tests.conftest import make_tiny_vit
from tests.phantoms import write_phantom_dataset
from tests.unit.explain_toys import one_torch_thread

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

N_PER_CLASS = 3
METHODS = ["attention_rollout", "gradcam", "occlusion"]


def _cases(data_dir) -> pd.DataFrame:
    rows = []
    for folder, label in (("no", LABELS[0]), ("yes", LABELS[1])):
        for path in sorted((data_dir / folder).iterdir()):
            if "_copy" in path.name:
                continue
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            rows.append(
                {"path": f"{folder}/{path.name}", "sha256": sha, "group": f"g:{path.stem}", "label": label}
            )
    return pd.DataFrame(rows)


def _write_masks(data_dir, masks_dir, cases) -> int:
    """Masks of the phantom tumours (the blob is the only pixel value 230), as the masks README describes."""
    (masks_dir / "masks").mkdir(parents=True)
    with (masks_dir / "masks.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mask", "image", "image_sha256", "mask_w", "mask_h", "image_w", "image_h", "size_match"])
        for _, row in cases[cases["label"] == LABELS[1]].iterrows():
            i = int(row["path"].split("/")[1][3:].split(".")[0])
            size = (80 + 4 * (i % 5), 96 + 3 * (i % 7))  # as write_phantom_dataset
            mask = (phantom(i, size, True) == 230).astype(np.uint8) * 255
            name = f"masks/Y{i}.png"
            Image.fromarray(mask).save(masks_dir / name)
            w.writerow(
                [
                    name,
                    f"../data/{row['path'].upper()}",
                    row["sha256"],
                    size[1],
                    size[0],
                    size[1],
                    size[0],
                    True,
                ]
            )
    return int((cases["label"] == LABELS[1]).sum())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("explain_batch")
    data = write_phantom_dataset(root / "data", n_per_class=N_PER_CLASS, duplicates=1)
    cases = _cases(data)
    n_masks = _write_masks(data, root / "data_masks", cases)
    clf = load_classifier(tiny_model_dir)
    x = torch.stack([preprocess(load_scan(data / p).image, clf.preprocess)[0] for p in cases["path"]])
    with torch.no_grad():
        logits = clf.model(pixel_values=x).logits.numpy()
    records = artifacts.build_records(cases, logits, clf.labels)
    results = artifacts.build_results("test", records, clf.labels, clf.fingerprint, n_resamples=0)
    artifacts.write_evaluation(root / "eval", "test", results, records)
    return {
        "root": root,
        "data": data,
        "model": tiny_model_dir,
        "clf": clf,
        "cases": cases,
        "n_masks": n_masks,
    }


def _run(ws, out, *extra) -> int:
    argv = ["--model", str(ws["model"]), "--data", str(ws["data"]), "--eval", str(ws["root"] / "eval")]
    return exit_status(
        main, [*argv, "--split", "test", "--out", str(out), "--steps", "4", "--sanity-cases", "1", *extra]
    )


def test_batch_writes_a_versioned_summary_the_dashboard_can_read(workspace, tmp_path):
    out = tmp_path / "explanations"
    assert _run(workspace, out, "--methods", *METHODS) == 0
    fp = workspace["clf"].fingerprint
    saved = read_explanation_summary(out, expected_fingerprint=fp)
    n = len(workspace["cases"])
    assert saved.summary["n_cases"] == n and saved.summary["split"] == "test"
    assert list(saved.summary["methods"]) == ["random", *METHODS]
    assert len(saved.cases) == n * (len(METHODS) + 1)
    for name in METHODS:
        entry = saved.summary["methods"][name]
        assert entry["pointing_game"]["n"] == workspace["n_masks"]
        assert entry["sanity"]["n"] == 1 and len(entry["sanity"]["stages"]) == 3
        low, high = entry["deletion_auc"]["ci95"]
        assert low <= entry["deletion_auc"]["mean"] <= high
        assert len(entry["curves"]["deletion"]) == 5 and entry["curves"]["fractions"][-1] == 1.0
        assert entry["params"] == dict(EXPLAINERS[name].defaults)
    row = saved.cases[saved.cases["method"] == "gradcam"].iloc[0]
    grid = saved.map_for("gradcam", int(row["target"]), row["sha256"])
    assert grid.shape == (4, 4) and grid.sum() == pytest.approx(1.0, abs=1e-2)
    table = pd.read_csv(out / "summary.csv")
    assert list(table["method"]) == ["random", *METHODS]
    assert {"pointing_hit_rate", "pointing_low", "pointing_high", "sanity_pass_rate"} <= set(table.columns)
    json.loads((out / "summary.json").read_text())  # strict JSON: NaN written as null


def test_sanity_cases_are_spread_over_both_classes():
    assert sanity_cases(26, 6) == {0, 5, 10, 15, 20, 25}
    assert sanity_cases(3, 6) == {0, 1, 2}
    assert sanity_cases(10, 0) == frozenset()


def test_tumour_class_maps_are_saved_for_localisation(workspace, tmp_path):
    out = tmp_path / "ex"
    assert _run(workspace, out, "--methods", "gradcam", "--limit", "6") == 0
    saved = read_explanation_summary(out)
    yes = saved.cases[(saved.cases["method"] == "gradcam") & saved.cases["path"].str.startswith("yes/")]
    for sha in yes["sha256"]:
        assert saved.map_for("gradcam", 1, sha) is not None  # tumour class, whatever was predicted
    assert saved.map_for("gradcam", 1, "0" * 64) is None
    assert map_key("gradcam", 1, "ab") == "gradcam|1|ab"


def test_reader_errors_name_the_fix(workspace, tmp_path):
    with pytest.raises(ExplanationArtifactError, match="python -m model.explain"):
        read_explanation_summary(tmp_path / "nothing")
    out = tmp_path / "ex"
    assert _run(workspace, out, "--methods", "attention_rollout", "--limit", "2", "--sanity-cases", "0") == 0
    with pytest.raises(ExplanationArtifactError, match="not the loaded model"):
        read_explanation_summary(out, expected_fingerprint="000000000000")
    doc = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**doc, "schema_version": 99}))
    with pytest.raises(ExplanationArtifactError, match="schema version 99"):
        read_explanation_summary(out)


def test_bad_input_exits_2_with_one_line(workspace, tmp_path, capsys):
    assert _run(workspace, tmp_path / "a", "--methods", "lime") == 2
    assert "Unknown method" in capsys.readouterr().err
    ws = {**workspace, "root": tmp_path}  # no evaluation in tmp_path/eval, and no manifest given
    assert _run(ws, tmp_path / "b", "--methods", "gradcam") == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # earlier lines: transformers' loading bar
    assert last.startswith("error:") and "model.evaluate" in last and "--manifest" in last


def test_manifest_fallback_when_no_evaluation_exists(workspace, tmp_path):
    manifest = workspace["cases"].assign(split="test")
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    ws = {**workspace, "root": tmp_path}
    out = tmp_path / "ex"
    assert (
        _run(ws, out, "--methods", "gradcam", "--limit", "2", "--manifest", str(tmp_path / "manifest.csv"))
        == 0
    )
    assert read_explanation_summary(out).summary["n_cases"] == 2


def test_masks_with_a_model_without_a_tumour_class_are_refused_not_skipped(workspace, tmp_path, capsys):
    model = tmp_path / "hub_like"
    hub_like = make_tiny_vit(labels=("glioma", "meningioma"))
    save_classifier(hub_like, PreprocessConfig(image_size=32), model, {})
    assert _run({**workspace, "model": model}, tmp_path / "out", "--methods", "gradcam") == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error:") and "'tumor' class" in last and "masks" in last
    assert not (tmp_path / "out").exists()
