"""The unsure band, answer readings, plain readings of metrics, manifest look-up and the mask outline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from model import certainty
from model.data import provenance
from model.evaluate import readings
from model.figures.maps import draw_overlay

LABELS = ("no tumor", "tumor")


@pytest.mark.parametrize(
    ("p", "unsure"), [(0.34, False), (0.35, True), (0.52, True), (0.65, True), (0.66, False)]
)
def test_unsure_band_is_closed_at_both_ends(p, unsure):
    assert certainty.is_unsure(p) is unsure


def test_reading_levels_follow_band_and_input_check():
    assert certainty.read_answer(0.94, LABELS, 1).headline == "tumor"
    assert certainty.read_answer(0.10, LABELS, 1).level == certainty.CLEAR
    borderline = certainty.read_answer(0.52, LABELS, 1)
    assert borderline.level == certainty.BORDERLINE and borderline.headline == "borderline (leans tumor)"
    bad = certainty.read_answer(0.94, LABELS, 1, input_flags=("colourful",))
    assert bad.level == certainty.UNRELIABLE and bad.headline.startswith("unreliable")


def test_stability_text_names_the_spread_and_what_it_is_not():
    text = certainty.stability_text(0.001, 6, "tumor")
    assert "stable" in text and "± 0.1%" in text and "not the chance of being right" in text
    assert "unstable" in certainty.stability_text(certainty.UNSTABLE_TTA_STD + 0.01, 6, "tumor")


def test_auc_interval_including_chance_is_said_so():
    assert "cannot be told apart from chance" in readings.auc_reading(0.65, 0.35, 0.94, 26)
    assert "better than chance" in readings.auc_reading(0.9, 0.8, 0.97, 26)


def test_rates_and_majority_baseline_by_hand():
    assert readings.rate_reading(0.6, 10, "healthy scans", "flagged").startswith("About 6 of 10 healthy")
    confusion = [[4, 6], [1, 15]]  # rows true (no, yes): 16 of 26 are tumour
    label, base = readings.majority_baseline(confusion, LABELS)
    assert label == "tumor" and base == pytest.approx(16 / 26)
    assert "not above the 0.62" in readings.accuracy_reading(0.6, confusion, LABELS)


def test_calibration_effect_warns_when_ece_rises():
    results = {"name": "test", "metrics": {"ece": 0.155}, "calibrated": {"metrics": {"ece": 0.166}}}
    helps, text = readings.calibration_effect(results)
    assert helps is False and "does not help" in text and "0.166" in text and "0.155" in text
    assert readings.calibration_effect({**results, "calibrated": None})[0] is None


def test_manifest_lookup_by_hash_and_training_size():
    manifest = pd.DataFrame(
        [
            ("yes/Y1.jpg", "a" * 64, "tumor", "g1", "train"),
            ("yes/Y1b.jpg", "a" * 64, "tumor", "g1", "train"),
            ("no/1 no.jpeg", "b" * 64, "no tumor", "g2", "test"),
        ],
        columns=["path", "sha256", "label", "group", "split"],
    )
    match = provenance.find_in_manifest(manifest, "a" * 64)
    assert match.split == "train" and "training split (true label tumor" in match.sentence()
    assert provenance.find_in_manifest(manifest, "c" * 64) is None
    assert readings.training_size(manifest) == (2, 1)


def test_manifest_path_needs_the_recorded_hash(tmp_path):
    (tmp_path / "m.csv").write_text("path,sha256,label,group,split\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "training_config.json").write_text('{"manifest": "m.csv", "manifest_sha256": "0"}')
    assert provenance.manifest_path(model, tmp_path) is None  # changed since training: not trusted
    (model / "training_config.json").write_text('{"manifest": "m.csv"}')
    assert provenance.manifest_path(model, tmp_path) == tmp_path / "m.csv"


def test_outline_is_drawn_only_for_a_matching_mask():
    image = Image.new("RGB", (20, 10))
    mask = np.zeros((10, 20), bool)
    mask[2:6, 3:9] = True
    ax = Figure().add_subplot()
    draw_overlay(ax, image, None, outline=mask)
    assert len(ax.collections) == 1
    ax = Figure().add_subplot()
    draw_overlay(ax, image, None, outline=mask.T)  # wrong shape: ignored
    assert len(ax.collections) == 0
