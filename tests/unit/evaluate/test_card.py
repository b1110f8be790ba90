from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from model.cli import exit_status
from model.evaluate.artifacts import ArtifactError, read_evaluation
from model.evaluate.card import EXPERIMENTS_FILE, NOTES_FILE, main, write_card
from model.evaluate.run import main as evaluate_main
from model.train.run import save_run, train
from tests.unit.train.test_train import _config, _phantom_manifest


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A tiny model trained on phantoms, and its evaluation by the evaluation CLI."""
    root = tmp_path_factory.mktemp("card")
    manifest = _phantom_manifest(root / "data")
    cfg = _config(root / "data", manifest, root / "model", epochs=3)
    out = save_run(cfg, train(cfg))
    assert (
        evaluate_main(
            [
                "--model",
                str(out),
                "--data",
                str(root / "data"),
                "--manifest",
                str(manifest),
                "--out",
                str(root / "eval"),
                "--bootstrap",
                "50",
                "--no-progress",
            ]
        )
        == 0
    )
    return out, root / "eval", manifest


def _front_matter(text: str) -> str:
    assert text.startswith("---\n")
    return text.split("\n---\n", 1)[0]


def test_card_without_evaluation_says_how_to_get_one(trained, tmp_path):
    out, _, _ = trained
    text = write_card(out).read_text()
    assert "model-index" not in _front_matter(text)
    assert "license: unknown" in _front_matter(text)
    assert "Not evaluated yet" in text and "python -m model.evaluate" in text
    assert "not a diagnostic device" in text and "Y248" in text and "group" in text.lower()


def test_card_reports_the_evaluation_cli_numbers(trained):
    out, eval_dir, _ = trained
    assert main(["--model", str(out), "--eval", str(eval_dir)]) == 0
    text = (out / "README.md").read_text()
    test = read_evaluation(eval_dir, "test")
    accuracy, (low, high) = test.results["metrics"]["accuracy"], test.results["ci95"]["accuracy"]
    assert f"value: {accuracy:.4f}" in _front_matter(text)
    assert f"| Accuracy | {accuracy:.3f} | {low:.3f} - {high:.3f} |" in text
    cm = test.confusion()
    assert f"| no tumor | {cm[0][0]} | {cm[0][1]} |" in text
    assert f"(n={test.results['n']}," in text


def test_card_lists_experiments(trained, tmp_path):
    out, _, _ = trained
    rows = [{"run": "baseline", "val_accuracy": 0.5}, {"run": "more augmentation", "val_accuracy": 0.75}]
    pd.DataFrame(rows).to_csv(out / EXPERIMENTS_FILE, index=False)
    (out / NOTES_FILE).write_text("Brightness was a shortcut.\n")
    try:
        text = write_card(out).read_text()
    finally:
        (out / EXPERIMENTS_FILE).unlink()
        (out / NOTES_FILE).unlink()
    section = text.split("## What was tried", 1)[1].split("\n## ", 1)[0]
    assert "Brightness was a shortcut." in section
    assert "| run | val_accuracy |" in section and "| more augmentation | 0.750 |" in section


def test_evaluation_of_other_weights_is_refused(trained, tmp_path, capsys):
    out, eval_dir, _ = trained
    other = tmp_path / "other"
    cfg = json.loads((out / "training_config.json").read_text())["config"]
    manifest = Path(cfg["manifest"])
    retrained = _config(Path(cfg["data"]), manifest, other, epochs=1, seed=9)
    save_run(retrained, train(retrained))
    with pytest.raises(ArtifactError):
        write_card(other, eval_dir)
    capsys.readouterr()  # drop the training output
    assert exit_status(main, ["--model", str(other), "--eval", str(eval_dir)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after transformers' weight-loading bar
    assert last.startswith("error:") and "python -m model.evaluate" in last
