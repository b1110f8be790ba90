"""model.data.input_check: reference ranges from training images, flags for unlike scans, round trip, CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.cli import exit_status
from model.data.input_check import (
    FEATURES,
    REFERENCE_FILE,
    InputReferenceError,
    build_input_reference,
    check_input_quality,
    image_features,
    load_input_reference,
    main,
    save_input_reference,
)
from model.data.scan import load_scan
from model.data.synthetic import phantom_image
from tests.phantoms import write_phantom_dataset


def _phantoms(seeds, **kw):
    return [phantom_image(s, (80 + 4 * (s % 5), 96 + 3 * (s % 7)), tumour=s % 2 == 0, **kw) for s in seeds]


@pytest.fixture(scope="module")
def reference():
    return build_input_reference(_phantoms(range(30)), "phantoms")


def test_features_of_a_grey_phantom():
    img = phantom_image(3, (80, 120))
    f = image_features(img)
    assert f["aspect_ratio"] == pytest.approx(120 / 80) and f["short_side_px"] == 80
    assert f["colour_saturation"] == 0.0 and f["histogram_distance"] == 0.0
    assert 0.0 < f["dark_fraction"] < 1.0 and 0.0 < f["head_brightness"] < 1.0
    assert set(f) == set(FEATURES)


def test_unseen_phantoms_pass(reference):
    for img in _phantoms(range(100, 110)):
        report = check_input_quality(img, reference)
        assert report.checked and report.flags == (), report.flags


def test_grey_scan_resaved_as_colour_jpeg_passes(reference):
    buf = io.BytesIO()
    _phantoms([101])[0].save(buf, format="JPEG", quality=90)
    assert check_input_quality(load_scan(buf.getvalue()).image, reference).flags == ()


def test_colourful_wide_image_is_flagged(reference):
    rng = np.random.default_rng(0)
    odd = Image.fromarray(rng.integers(0, 255, (60, 400, 3), dtype=np.uint8))
    flags = " ".join(check_input_quality(odd, reference).flags)
    for feature in ("colour_saturation", "aspect_ratio", "short_side_px", "dark_fraction"):
        assert FEATURES[feature] in flags


def test_large_scans_are_not_flagged_for_size(reference):
    big = phantom_image(3, (880, 1000))
    assert not any(FEATURES["short_side_px"] in f for f in check_input_quality(big, reference).flags)


def test_round_trip_and_disabled_check(tmp_path, reference):
    assert load_input_reference(tmp_path) is None
    report = check_input_quality(_phantoms([1])[0], None)
    assert not report.checked and REFERENCE_FILE in report.note
    save_input_reference(reference, tmp_path)
    assert load_input_reference(tmp_path) == reference


@pytest.mark.parametrize(
    "payload", ['{"schema_version": 99}', "not json", '{"schema_version": 1, "ranges": {}}']
)
def test_bad_reference_file_raises_with_the_fix(tmp_path, payload):
    (tmp_path / REFERENCE_FILE).write_text(payload)
    with pytest.raises(InputReferenceError, match="python -m model.data.input_check"):
        load_input_reference(tmp_path)


def test_reference_needs_two_images():
    with pytest.raises(ValueError, match="at least 2"):
        build_input_reference(_phantoms([1]), "one")


def test_cli_builds_the_reference_from_the_train_split(tmp_path, capsys):
    data = write_phantom_dataset(tmp_path / "data", n_per_class=4, duplicates=0)
    rows = [
        {
            "path": p.relative_to(data).as_posix(),
            "sha256": load_scan(p).sha256,
            "label": "tumor" if p.parent.name == "yes" else "no tumor",
            "group": p.name,
            "split": "train" if i % 4 else "test",
        }
        for i, p in enumerate(sorted(data.glob("*/*")))
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    assert (
        main(["--data", str(data), "--manifest", str(tmp_path / "manifest.csv"), "--model", str(model_dir)])
        == 0
    )
    saved = json.loads((model_dir / REFERENCE_FILE).read_text())
    assert saved["n_images"] == sum(r["split"] == "train" for r in rows) == 6
    argv = ["--data", str(tmp_path / "nowhere"), "--manifest", "m.csv", "--model", str(model_dir)]
    assert exit_status(main, argv) == 2
    assert "must be existing folders" in capsys.readouterr().err
