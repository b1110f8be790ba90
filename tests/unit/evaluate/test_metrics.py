"""Metrics against hand-computed values, degenerate record sets, curves and the group bootstrap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.evaluate.metrics import (
    SCALARS,
    average_precision,
    bootstrap_intervals,
    compute_metrics,
    pr_curve_points,
    predict_indices,
    reliability_bins,
    roc_auc,
    roc_curve_points,
)
from model.labels import LABELS

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "metrics_small.json"
# Hand-computed values are exact fractions; the only error is float rounding (the NLL is given to 10 digits).
HAND_TOL = 1e-9


def records(p_tumor, labels, groups=None) -> pd.DataFrame:
    """Binary records with p_tumor and its complement."""
    p = np.asarray(p_tumor, dtype=np.float64)
    return pd.DataFrame(
        {
            "path": [f"img{i}.png" for i in range(p.size)],
            "group": groups if groups is not None else [f"g{i}" for i in range(p.size)],
            "label": labels,
            "p_no tumor": 1 - p,
            "p_tumor": p,
        }
    )


def golden_records() -> tuple[dict, pd.DataFrame]:
    spec = json.loads(GOLDEN.read_text())
    rows = spec["records"]
    frame = records([r["p_tumor"] for r in rows], [r["label"] for r in rows], [r["group"] for r in rows])
    return spec, frame


def test_golden_record_set_matches_hand_computed_metrics():
    # Working for the golden file (threshold 0.5; T = tumour, N = no tumour):
    # predictions a,b,d,e -> T; c,f,g,h -> N. Confusion [[3,1],[1,3]] -> every rate 3/4.
    # ROC-AUC: pairs pos>neg: .92->4, .83->4, .64->3, .35->2 + tie 0.5 = 13.5 / 16.
    # AP: ranked .92P .83P .71N .64P {.35P .35N} -> .25*1 + .25*1 + .25*.75 + .25*4/6.
    # Brier: (.08^2+.17^2+.65^2+.36^2+.71^2+.18^2+.07^2+.35^2)/8 = 1.2513/8.
    # ECE (top label): bins .9:{.92,.93 ok} .8:{.83,.82 ok} .7:{.71 wrong} .6:{.65 wrong,.64 ok,.65 ok}
    #   -> (2*.075 + 2*.175 + .71 + 3*.02)/8 = 1.27/8.
    spec, frame = golden_records()
    out = compute_metrics(frame, tuple(spec["labels"]), spec["positive"], spec["threshold"], n_resamples=0)
    expected = spec["expected"]
    assert out["confusion"] == expected["confusion"]
    for name in SCALARS:
        assert out["metrics"][name] == pytest.approx(expected["metrics"][name], abs=HAND_TOL), name
    for label, stats in expected["metrics"]["per_class"].items():
        assert out["metrics"]["per_class"][label] == pytest.approx(stats), label
    assert out["undefined"] == {}
    bins = out["reliability"]["top_label"]
    nonempty = [
        dict(bin=i, **{k: b[k] for k in ("count", "confidence", "accuracy")})
        for i, b in enumerate(bins)
        if b["count"]
    ]
    assert nonempty == [pytest.approx(b) for b in expected["reliability_top_label_nonempty"]]


def test_nll_is_the_mean_negative_log_of_the_true_class_probability():
    _, frame = golden_records()
    out = compute_metrics(frame, LABELS, n_resamples=0)
    hand = -sum(map(math.log, [0.92, 0.83, 0.35, 0.64, 1 - 0.71, 1 - 0.18, 1 - 0.07, 1 - 0.35])) / 8
    assert out["metrics"]["nll"] == pytest.approx(hand, abs=HAND_TOL)


def test_threshold_changes_the_decisions_as_computed_by_hand():
    # At 0.3, c (.35, tumour) and h (.35, no tumour) flip to tumour: no-row [2, 2], tumour-row [0, 4].
    _, frame = golden_records()
    out = compute_metrics(frame, LABELS, threshold=0.3, n_resamples=0)
    assert out["confusion"] == [[2, 2], [0, 4]]
    m = out["metrics"]
    assert (m["sensitivity"], m["specificity"], m["accuracy"]) == (1.0, 0.5, 0.75)
    assert m["per_class"]["tumor"]["precision"] == pytest.approx(4 / 6)
    assert m["roc_auc"] == pytest.approx(0.84375)  # threshold-free metrics do not move


def test_positive_bins_count_cases_by_positive_probability():
    _, frame = golden_records()
    bins = reliability_bins(frame, LABELS, positive="tumor")
    assert [b["count"] for b in bins] == [1, 1, 0, 2, 0, 0, 1, 1, 1, 1]
    assert bins[3]["confidence"] == pytest.approx(0.35) and bins[3]["accuracy"] == 0.5
    assert math.isnan(bins[2]["confidence"]) and math.isnan(bins[2]["accuracy"])


def test_split_with_one_class_gives_nan_with_reasons_not_a_crash():
    frame = records([0.9, 0.4, 0.7], ["tumor"] * 3)
    out = compute_metrics(frame, LABELS, n_resamples=50)
    m, why = out["metrics"], out["undefined"]
    for name in ("roc_auc", "specificity"):
        assert math.isnan(m[name]) and why[name]
    assert "both positive and negative" in why["roc_auc"]
    assert math.isnan(m["per_class"]["no tumor"]["recall"]) and "no 'no tumor' case" in why["recall/no tumor"]
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)  # the mean recall over classes that are present
    assert m["pr_auc"] == 1.0  # every case is positive: precision is 1 at every threshold
    assert all(math.isnan(v) for v in out["ci95"]["roc_auc"])


def test_all_predictions_one_class_leaves_precision_of_the_other_undefined():
    frame = records([0.6, 0.9, 0.55, 0.8], ["tumor", "tumor", "no tumor", "no tumor"])
    out = compute_metrics(frame, LABELS, n_resamples=0)
    m, why = out["metrics"], out["undefined"]
    assert out["confusion"] == [[0, 2], [0, 2]]
    assert math.isnan(m["per_class"]["no tumor"]["precision"])
    assert "predicted 'no tumor'" in why["precision/no tumor"]
    assert math.isnan(m["macro_precision"]) and "macro_precision" in why
    assert m["per_class"]["no tumor"]["f1"] == 0.0 and m["macro_f1"] == pytest.approx(1 / 3)
    assert (m["sensitivity"], m["specificity"], m["accuracy"]) == (1.0, 0.0, 0.5)
    assert m["roc_auc"] == pytest.approx(0.75)  # positives (.6, .9), negatives (.55, .8): 3 of 4 pairs right


def test_constant_scores_give_chance_auc_and_prevalence_ap():
    is_pos = np.array([True, False, False, True, False])
    scores = np.full(5, 0.3)
    assert roc_auc(scores, is_pos) == 0.5
    assert average_precision(scores, is_pos) == pytest.approx(2 / 5)
    assert math.isnan(average_precision(scores, np.zeros(5, bool)))


def test_rank_auc_equals_trapezoid_area_under_roc_points_with_ties():
    rng = np.random.default_rng(3)
    labels = np.where(rng.random(80) < 0.4, "tumor", "no tumor")
    p = np.round(np.clip(0.5 + 0.3 * (labels == "tumor") - 0.15 + 0.25 * rng.standard_normal(80), 0, 1), 1)
    frame = records(p, labels)
    roc = roc_curve_points(frame, LABELS)
    area = float(np.sum(np.diff(roc["fpr"]) * (roc["tpr"].to_numpy()[1:] + roc["tpr"].to_numpy()[:-1]) / 2))
    auc = compute_metrics(frame, LABELS, n_resamples=0)["metrics"]["roc_auc"]
    assert auc == pytest.approx(area, abs=1e-12)
    assert (roc.iloc[0][["fpr", "tpr"]] == 0).all() and (roc.iloc[-1][["fpr", "tpr"]] == 1).all()


def test_average_precision_is_the_step_area_of_the_pr_points():
    rng = np.random.default_rng(4)
    labels = np.where(rng.random(60) < 0.5, "tumor", "no tumor")
    frame = records(np.round(rng.random(60), 1), labels)
    pr = pr_curve_points(frame, LABELS)
    step_area = float(np.sum(np.diff(pr["recall"]) * pr["precision"].to_numpy()[1:]))
    assert compute_metrics(frame, LABELS, n_resamples=0)["metrics"]["pr_auc"] == pytest.approx(step_area)
    assert pr["recall"].iloc[-1] == 1.0
    assert pr["precision"].iloc[-1] == pytest.approx((labels == "tumor").mean())


def test_predict_indices_falls_back_to_the_likeliest_other_class():
    probs = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    assert predict_indices(probs, pos=2, threshold=0.4).tolist() == [0, 2, 1]
    assert predict_indices(probs, pos=1, threshold=0.5).tolist() == [0, 2, 1]


def random_records(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.5, "tumor", "no tumor")
    p = np.clip(0.5 + 0.25 * np.where(labels == "tumor", 1, -1) + 0.3 * rng.standard_normal(n), 0.01, 0.99)
    return records(p, labels, [f"g{i // 3}" for i in range(n)])


def test_bootstrap_is_deterministic_per_seed_and_differs_between_seeds():
    frame = random_records(60, 0)
    a = compute_metrics(frame, LABELS, n_resamples=200, seed=1)["ci95"]
    b = compute_metrics(frame, LABELS, n_resamples=200, seed=1)["ci95"]
    c = compute_metrics(frame, LABELS, n_resamples=200, seed=2)["ci95"]
    assert a == b
    assert a["brier"] != c["brier"] and a["roc_auc"] != c["roc_auc"]
    for name in ("accuracy", "roc_auc", "brier"):
        low, high = a[name]
        assert low <= high and 0 <= low and high <= 1


def test_bootstrap_resamples_groups_not_cases():
    # With every case in one group, each resample is the whole set: the interval collapses onto the estimate.
    frame = random_records(30, 5)
    y = frame["label"].map({"no tumor": 0, "tumor": 1}).to_numpy()
    probs = frame[["p_no tumor", "p_tumor"]].to_numpy()
    point = compute_metrics(frame, LABELS, n_resamples=0)["metrics"]
    one_group = bootstrap_intervals(y, probs, ["all"] * 30, LABELS, 1, 0.5, n_resamples=50)
    assert one_group["accuracy"] == [pytest.approx(point["accuracy"])] * 2
    per_case = bootstrap_intervals(y, probs, [str(i) for i in range(30)], LABELS, 1, 0.5, n_resamples=50)
    assert per_case["accuracy"][0] < point["accuracy"] < per_case["accuracy"][1]


def test_bad_input_is_refused_with_a_reason():
    frame = random_records(6, 1)
    with pytest.raises(ValueError, match="no records"):
        compute_metrics(frame.iloc[:0], LABELS)
    with pytest.raises(ValueError, match="not one of"):
        compute_metrics(frame, LABELS, positive="glioma")
    with pytest.raises(ValueError, match="threshold"):
        compute_metrics(frame, LABELS, threshold=1.5)
    with pytest.raises(ValueError, match="calibrated"):
        compute_metrics(frame, LABELS, calibrated=True)
    with pytest.raises(ValueError, match="not among"):
        compute_metrics(frame.assign(label="glioma"), LABELS)
