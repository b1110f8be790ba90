"""The extra pool: reading labels.csv, the held-out part by cluster, and the pool manifest round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from model.data.pool import (
    PoolError,
    read_pool,
    read_pool_manifest,
    split_pool,
    write_pool_manifest,
)


def _labels_csv(root, rows):
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)


def _cases(n_groups: int = 40) -> pd.DataFrame:
    rows = []
    for g in range(n_groups):
        source = ("figshare", "nickparvar", "sartaj")[g % 3]
        label = "tumor" if source == "figshare" or g % 2 else "no tumor"
        for k in range(1 + g % 3):  # groups of 1-3 images
            rows.append(
                {
                    "path": f"x/{g}-{k}.jpg",
                    "sha256": f"{g}{k}",
                    "label": label,
                    "group": f"pool-{g}",
                    "source": source,
                }
            )
    return pd.DataFrame(rows)


def test_read_pool_maps_folder_labels_and_prefixes_groups(tmp_path):
    _labels_csv(
        tmp_path,
        [
            {"path": "yes/b.jpg", "label": "yes", "source": "figshare", "sha256": "1", "cluster": "7"},
            {"path": "no/a.jpg", "label": "no", "source": "sartaj", "sha256": "2", "cluster": "8"},
        ],
    )
    frame = read_pool(tmp_path)
    assert list(frame["path"]) == ["no/a.jpg", "yes/b.jpg"]
    assert list(frame["label"]) == ["no tumor", "tumor"]
    assert list(frame["group"]) == ["pool-8", "pool-7"]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"path": "yes/a.jpg", "label": "yes"}], "lacks column"),
        (
            [{"path": "yes/a.jpg", "label": "maybe", "source": "s", "sha256": "1", "cluster": "1"}],
            "unknown label",
        ),
    ],
)
def test_read_pool_refuses_malformed_files(tmp_path, rows, message):
    _labels_csv(tmp_path, rows)
    with pytest.raises(PoolError, match=message):
        read_pool(tmp_path)
    with pytest.raises(PoolError, match="not found"):
        read_pool(tmp_path / "missing")


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_holdout_keeps_groups_whole_and_covers_every_cell(seed):
    cases = _cases()
    out = split_pool(cases, share=0.2, seed=seed)
    assert (out.groupby("group")["split"].nunique() == 1).all()
    for _, cell in out.groupby(["source", "label"]):
        share = (cell["split"] == "holdout").mean()
        assert 0 < share < 0.6  # at least one group held out, most of each cell kept for training
    assert list(out["path"]) == list(cases["path"])


def test_holdout_is_reproducible_and_seed_dependent():
    cases = _cases()
    a, b, c = (split_pool(cases, 0.2, s)["split"].tolist() for s in (3, 3, 4))
    assert a == b and a != c


def test_pool_manifest_round_trips_byte_for_byte(tmp_path):
    frame = split_pool(_cases(), 0.2, 0)
    path = write_pool_manifest(frame, tmp_path / "m.csv")
    back = read_pool_manifest(path)
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True)[list(back.columns)])
    assert write_pool_manifest(back, tmp_path / "n.csv").read_bytes() == path.read_bytes()


def test_forged_pool_manifest_is_refused(tmp_path):
    frame = split_pool(_cases(), 0.2, 0)
    frame.loc[0, "split"] = "test"
    write_pool_manifest(frame, tmp_path / "m.csv")
    with pytest.raises(PoolError, match="unknown split"):
        read_pool_manifest(tmp_path / "m.csv")
    frame = split_pool(_cases(), 0.2, 0)
    other = "holdout" if frame.loc[0, "split"] == "train" else "train"
    twin = frame.iloc[[0]].assign(path="x/twin.jpg", split=other)  # same group, other side
    write_pool_manifest(pd.concat([frame, twin], ignore_index=True), tmp_path / "n.csv")
    with pytest.raises(PoolError, match="duplicate paths or a group on both sides"):
        read_pool_manifest(tmp_path / "n.csv")
