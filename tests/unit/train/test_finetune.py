"""Top-block fine-tuning on cached tokens: the split forward, sampling weights, folds, and a tiny run."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from model.cli import parse_config
from model.data.pool import write_pool_manifest
from model.loading import load_classifier, save_classifier
from model.preprocess import PreprocessConfig
from model.train.finetune import (
    FinetuneConfig,
    cli_parser,
    cv_folds,
    frozen_tokens,
    main,
    sample_weights,
    top_logits,
)
from tests.conftest import make_tiny_vit
from tests.phantoms import write_phantom_dataset
from tests.unit.train.test_train import _phantom_manifest


@pytest.mark.parametrize("blocks", [0, 1, 2])
def test_frozen_then_top_equals_the_full_forward(blocks):
    model = make_tiny_vit(seed=3)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = model(pixel_values=x).logits
        split = top_logits(model, frozen_tokens(model, x, blocks), blocks)
    torch.testing.assert_close(split, full, rtol=0, atol=1e-5)  # same ops in the same order


def test_sample_weights_balance_labels_and_damp_big_sources():
    labels = np.array([1] * 90 + [1] * 10 + [0] * 20)
    sources = ["fig"] * 90 + ["nick"] * 10 + ["nick"] * 20
    w = sample_weights(labels, sources, power=0.5)
    assert w.sum() == pytest.approx(1) and (w > 0).all()
    assert w[labels == 1].sum() == pytest.approx(0.5) and w[labels == 0].sum() == pytest.approx(0.5)
    fig, nick = w[:90].sum(), w[90:100].sum()
    assert fig / nick == pytest.approx(np.sqrt(90) / np.sqrt(10))  # n ** 0.5 per source
    assert sample_weights(labels, sources, power=0.0)[:90].sum() == pytest.approx(0.25)  # sources equal
    np.testing.assert_allclose(sample_weights(labels, sources, 1.0)[:100], 0.005)  # images equal


def test_cv_folds_keep_groups_whole_and_stratify():
    rng = np.random.default_rng(0)
    groups = [f"g{i}" for i in rng.integers(0, 60, 200)]
    label_of = {g: ("tumor" if int(g[1:]) % 3 else "no tumor") for g in groups}
    own = pd.DataFrame({"group": groups, "label": [label_of[g] for g in groups]})
    folds = cv_folds(own, 5, seed=1)
    assert set(folds) == set(range(5))
    assert (own.assign(f=folds).groupby("group")["f"].nunique() == 1).all()
    counts = np.bincount(folds, minlength=5)
    assert counts.max() - counts.min() <= max(own.groupby("group").size())
    for _, rows in own.assign(f=folds).groupby("label"):
        per_fold = np.bincount(rows["f"], minlength=5)
        assert per_fold.min() > 0


def _pool(root):
    write_phantom_dataset(root, n_per_class=6, duplicates=0)
    rows = []
    for folder, label in (("no", "no tumor"), ("yes", "tumor")):
        for i, path in enumerate(sorted((root / folder).iterdir())):
            rows.append(
                {
                    "path": f"{folder}/{path.name}",
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "label": label,
                    "group": f"pool-{folder}{i}",
                    "source": "a" if i % 2 else "b",
                    "split": "holdout" if i == 0 else "train",
                }
            )
    return write_pool_manifest(pd.DataFrame(rows), root / "pool_manifest.csv")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    own, pool = root / "own", root / "pool"
    manifest = _phantom_manifest(own)
    frame = pd.read_csv(manifest, dtype=str)
    test_path = own / frame.loc[frame["split"] == "test", "path"].iloc[0]
    test_path.write_bytes(b"unreadable")  # the test split must never be read
    base = save_classifier(make_tiny_vit(seed=1), PreprocessConfig(image_size=32), root / "base")
    cfg = dict(
        base=str(base),
        data=str(own),
        manifest=str(manifest),
        pool=str(pool),
        pool_manifest=str(_pool(pool)),
        out=str(root / "out"),
        cache=str(root / "cache"),
        frozen_blocks=1,
        views=2,
        epochs=3,
        samples_per_epoch=16,
        batch_size=8,
        seed=0,
    )
    args = ["train"] + [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()]
    assert main(args) == 0
    return root, cfg, args


def test_tiny_run_keeps_the_epoch_with_the_lowest_validation_loss(tiny_run):
    root, cfg, _ = tiny_run
    record = json.loads((root / "out" / "training_config.json").read_text())
    log = record["log"]
    best = min(log, key=lambda r: r["validation_loss"])
    assert record["outcome"]["best_epoch"] == best["epoch"]
    own = pd.read_csv(cfg["manifest"], dtype=str)
    pool = pd.read_csv(cfg["pool_manifest"], dtype=str)
    expected = {
        f"brain_tumor_dataset/{k}": int(n)
        for k, n in own[own["split"] == "train"].groupby("label").size().items()
    }
    expected |= {
        f"{s}/{k}": int(n)
        for (s, k), n in pool[pool["split"] == "train"].groupby(["source", "label"]).size().items()
    }
    assert record["outcome"]["n_train_by_source_label"] == expected
    assert record["config"]["frozen_blocks"] == 1 and record["schema_version"] == 1


def test_config_file_recreates_the_recorded_run(tiny_run, tmp_path):
    root, _, args = tiny_run
    recorded = root / "out" / "training_config.json"
    again = parse_config(cli_parser(), ["train", "--config", str(recorded)])
    assert again.run == parse_config(cli_parser(), args).run
    assert json.loads(recorded.read_text())["config"] == {
        **dataclasses.asdict(again.run),
        "augment": dataclasses.asdict(again.run.augment),
    }
    changed = parse_config(cli_parser(), ["cv", "--config", str(recorded), "--epochs", "7", "--folds", "3"])
    assert changed.run == dataclasses.replace(again.run, epochs=7) and changed.folds == 3


def test_tiny_run_saves_a_model_the_loader_reads_with_only_top_blocks_changed(tiny_run):
    root, cfg, _ = tiny_run
    tuned = load_classifier(root / "out").model
    base = load_classifier(cfg["base"]).model
    same = lambda a, b: torch.equal(a.half().float(), b.half().float())  # noqa: E731 - saved as fp16
    for name, p in base.state_dict().items():
        changed = not same(p, tuned.state_dict()[name])
        frozen = name.startswith(("vit.embeddings", "vit.layers.0."))
        assert not (frozen and changed), name
    assert not same(base.classifier.weight, tuned.classifier.weight)


def test_a_second_run_reads_the_cache_and_gives_the_same_weights(tiny_run, tmp_path):
    root, cfg, args = tiny_run
    cached = sorted(p.name for p in (root / "cache").iterdir())
    assert any(n.startswith("253-train-") for n in cached) and not any("test" in n for n in cached)
    out = tmp_path / "again"
    assert main([*args, f"--out={out}"]) == 0
    assert sorted(p.name for p in (root / "cache").iterdir()) == cached
    a, b = load_classifier(root / "out"), load_classifier(out)
    assert a.fingerprint == b.fingerprint


def test_bad_config_is_one_line(capsys, tmp_path):
    assert main(["train", "--base", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(ValueError, match="views >= 1"):
        FinetuneConfig(views=0)


def test_card_of_a_finetuned_model_names_sources_licences_and_the_cross_validation(tiny_run):
    from model.evaluate.card import write_card
    from model.evaluate.card_pretrained import CV_FILE

    root, _, _ = tiny_run
    out = root / "out"
    rows = []
    for i in range(20):  # perfectly separated out-of-fold scores: ROC-AUC 1, accuracy 1
        tumour = i % 2 == 1
        p = 0.9 if tumour else 0.2
        rows.append(
            {
                "path": f"x/{i}.png",
                "sha256": str(i),
                "group": f"g{i // 2}",
                "label": "tumor" if tumour else "no tumor",
                "fold": i % 5,
                "p_no tumor": 1 - p,
                "p_tumor": p,
            }
        )
    pd.DataFrame(rows).to_csv(out / CV_FILE, index=False)
    card = write_card(out).read_text()
    assert "## Data sources and licences" in card and "CC BY 4.0" in card and "doi:10.6084" in card
    assert "| roc_auc | 1.000 |" in card and "| accuracy | 1.000 |" in card
    assert "pool images" in card and "Blocks 1-1 stay frozen" in card
