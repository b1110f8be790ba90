"""Trust verdicts (model.explain.trust), the random-ranking reference, the signed map, and the trust views."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dashboard import trust_view
from model.data.synthetic import phantom_image
from model.explain import trust as tr
from model.explain.heatmap import Heatmap, heatmap_from_raw, signed_shares
from model.explain.reference import random_reference
from model.explain.registry import EXPLAINERS
from model.explain.summary import RANDOM_REFERENCE, ExplanationSummary
from model.figures import maps
from model.preprocess import preprocess

N_SCANS = 12


def _cases(methods: dict[str, dict], rng: np.random.Generator) -> pd.DataFrame:
    """Rows of cases.csv: per scan the random reference and each method's scores (``spec`` per method)."""
    rows = []
    for i in range(N_SCANS):
        base = {"sha256": f"s{i}", "target": 1, "group": f"g{i}"}
        rows.append(base | {"method": RANDOM_REFERENCE, "deletion_auc": 0.58, "insertion_auc": 0.58})
        for name, spec in methods.items():
            rows.append(
                base
                | {
                    "method": name,
                    "deletion_auc": spec["deletion"] + rng.normal(0, spec.get("noise", 0.01)),
                    "insertion_auc": spec["insertion"] + rng.normal(0, spec.get("noise", 0.01)),
                    "pointing_hit": float(spec["hit"]),
                    "chance_hit": 0.1,
                    "mask_share": spec["share"],
                    "area_share": 0.07,
                }
            )
    return pd.DataFrame(rows)


def _summary(methods: dict[str, dict], sanity: dict[str, bool] | None = None) -> ExplanationSummary:
    entries = {m: {"label": m.title(), "sanity": {"passed": (sanity or {}).get(m, True)}} for m in methods}
    body = {"methods": {RANDOM_REFERENCE: {}, **entries}}
    return ExplanationSummary(body, pd.DataFrame(), _cases(methods, np.random.default_rng(0)), Path("."))


# The issue's run: areas around the random ranking's; Grad-CAM 1 % of its relevance in a 7 % mask, never hit.
ISSUE = {
    "gradcam": {"deletion": 0.55, "insertion": 0.60, "noise": 0.08, "hit": False, "share": 0.01},
    "smoothgrad": {"deletion": 0.57, "insertion": 0.59, "noise": 0.08, "hit": True, "share": 0.2},
}
CLEAR = {"occlusion": {"deletion": 0.30, "insertion": 0.90, "hit": True, "share": 0.3}}


def test_compare_paired_words():
    groups = pd.Series([f"g{i}" for i in range(6)])
    ref = pd.Series([0.5] * 6)
    up = pd.Series([0.7, 0.72, 0.68, 0.71, 0.69, 0.7])
    assert tr.compare_paired(up, ref, groups, higher_better=True).word == tr.BETTER
    assert tr.compare_paired(up, ref, groups, higher_better=False).word == tr.WORSE
    mixed = pd.Series([0.4, 0.6, 0.45, 0.55, 0.5, 0.5])
    assert tr.compare_paired(mixed, ref, groups, higher_better=True).word == tr.UNCLEAR
    few = pd.Series([0.9, np.nan, np.nan, np.nan, np.nan, np.nan])
    assert tr.compare_paired(few, ref, groups, higher_better=True).word == tr.UNKNOWN


@pytest.mark.parametrize(
    ("deletion", "insertion", "verdict"),
    [
        (tr.BETTER, tr.BETTER, tr.SUPPORTED),
        (tr.BETTER, tr.UNCLEAR, tr.MIXED),
        (tr.UNCLEAR, tr.UNCLEAR, tr.UNPROVEN),
        (tr.BETTER, tr.WORSE, tr.FAILS),
        (tr.UNKNOWN, tr.UNKNOWN, tr.UNKNOWN),
    ],
)
def test_faithfulness_word(deletion, insertion, verdict):
    assert tr.faithfulness_word(deletion, insertion) == verdict


def test_issue_run_gets_no_pass_and_gradcam_is_below_chance():
    verdicts = tr.summary_trust(_summary({**ISSUE, **CLEAR}))
    assert list(verdicts)[0] == "occlusion" and verdicts["occlusion"].faithfulness == tr.SUPPORTED
    for name in ISSUE:
        assert verdicts[name].faithfulness in (tr.UNPROVEN, tr.MIXED, tr.FAILS)
    assert verdicts["gradcam"].localisation == tr.WORSE
    assert verdicts["gradcam"].mask_share.reference == pytest.approx(0.07)
    assert list(verdicts)[-1] == "gradcam"  # least trusted last
    assert tr.can_rank(verdicts)  # occlusion's gains are clear of the others'


def test_exact_duplicates_are_paired_by_path_not_hash():
    summary = _summary(CLEAR)
    cases = summary.cases.assign(sha256="same", path=[f"p{i // 2}" for i in range(len(summary.cases))])
    t = tr.method_trust(ExplanationSummary(summary.summary, pd.DataFrame(), cases, Path(".")), "occlusion")
    assert t.deletion.n == N_SCANS and t.pointing.gain == pytest.approx(0.9)


def test_too_wide_to_rank_is_said():
    verdicts = tr.summary_trust(_summary(ISSUE))
    assert not tr.can_rank(verdicts)
    assert trust_view.TOO_WIDE in trust_view.verdict_caption(verdicts)
    frame = trust_view.trust_frame(verdicts)
    assert not frame["faithfulness"].str.endswith(tr.SUPPORTED).any()


def test_order_and_filter_by_trust():
    verdicts = tr.summary_trust(_summary({**ISSUE, **CLEAR}))
    chosen = ["gradcam", "smoothgrad", "occlusion", "attention_rollout"]  # rollout: no saved verdict
    ordered = trust_view.order_methods(chosen, verdicts, "trust", hide_failing=False)
    assert ordered[0] == "occlusion" and ordered[-1] == "gradcam"
    assert trust_view.order_methods(chosen, verdicts, "chosen", hide_failing=False) == chosen
    kept = trust_view.order_methods(chosen, verdicts, "chosen", hide_failing=True)
    assert "gradcam" not in kept and "attention_rollout" in kept
    assert trust_view.order_methods(chosen, None, "trust", hide_failing=True) == chosen


def test_signed_map_kept_beside_positive_shares():
    raw = np.array([[2.0, -1.0], [0.0, -1.0]])
    heat = heatmap_from_raw(raw, grid="patch", method="m", target=0, input_size=(4, 4), params={})
    signed = np.asarray(heat.extras["signed"])
    assert np.abs(signed).sum() == pytest.approx(1.0)
    assert signed[0, 1] < 0 and signed[0, 0] == pytest.approx(0.5)
    assert heat.values.min() >= 0 and heat.values[0, 0] == pytest.approx(1.0)
    assert not signed_shares(np.zeros((2, 2))).any()


def test_random_reference_starts_at_the_intact_probability(tiny_classifier):
    image = phantom_image(3, (48, 48), tumour=True)
    ref = random_reference(tiny_classifier, image, target=1)
    again = random_reference(tiny_classifier, image, target=1)
    assert ref == again  # seeded
    pixel_values, _ = preprocess(image, tiny_classifier.preprocess)
    with torch.no_grad():
        p = tiny_classifier.model(pixel_values=pixel_values[None]).logits.softmax(-1)[0, 1].item()
    assert ref.start_probability == pytest.approx(p, abs=1e-6)
    assert 0 <= ref.deletion_auc <= 1 and 0 <= ref.insertion_auc <= 1 and ref.n_rankings >= 1


def test_score_text_has_reference_and_start():
    text = trust_view.score_text(
        {
            "deletion": 0.45,
            "insertion": 0.7,
            "random_deletion": 0.58,
            "random_insertion": 0.57,
            "start_probability": 0.93,
            "blurred_probability": 0.4,
        }
    )
    assert "(random 0.58)" in text and "(random 0.57)" in text and "93%" in text


def _ig_record(delta: float, change: float, steps: int = 32) -> Heatmap:
    extras = {
        "convergence_delta": delta,
        "relative_delta": abs(delta) / abs(change) if change else None,
        "logit": change,
        "baseline_logit": 0.0,
        "steps": steps,
        "delta_target": 0.05,
    }
    return Heatmap(
        np.full((2, 2), 0.25, np.float32), "patch", "integrated_gradients", 1, (4, 4), extras=extras
    )


def test_ig_delta_is_flagged_when_large_relative_to_the_score_change():
    small = trust_view.delta_text(_ig_record(0.01, 2.0, steps=15))
    large = trust_view.delta_text(_ig_record(0.62, 2.0, steps=32))
    flat = trust_view.delta_text(_ig_record(1e-9, 0.0))
    assert small is not None and not small[1] and "0.5%" in small[0] and "within the 5% target" in small[0]
    assert large == (
        "the map's attributions miss the score change by 31% even at 32 steps (target 5%): read it as "
        "approximate",
        True,
    )
    assert flat is not None and not flat[1] and "cannot be judged" in flat[0]
    assert trust_view.delta_text(Heatmap(np.zeros((2, 2), np.float32), "patch", "x", 0, (4, 4))) is None


def test_only_perceptually_uniform_colour_maps_are_offered():
    assert set(maps.COLOUR_MAPS) <= {"inferno", "viridis", "magma", "cividis", "plasma"}


def test_scan_localisation_says_whether_this_map_hits_the_outline(tiny_classifier):
    image = phantom_image(3, (64, 64), tumour=True)
    _, geometry = preprocess(image, tiny_classifier.preprocess)
    values = np.zeros((4, 4), np.float32)
    values[0, 0] = 1.0  # all relevance in the top-left patch
    record = Heatmap(values, "patch", "m", 1, tuple(geometry.input_size))
    top, left, bottom, right = geometry.crop_box
    on = np.zeros(geometry.original_size, bool)
    on[top : top + (bottom - top) // 4, left : left + (right - left) // 4] = True
    off = np.zeros_like(on)
    off[bottom - 4 : bottom, right - 4 : right] = True
    inside = trust_view.scan_localisation(record, geometry, on)
    assert "peak inside the outline" in inside and "(its area: 6%)" in inside  # 85 %: rounded crop quarter
    assert "peak outside the outline, 0% of the relevance" in trust_view.scan_localisation(
        record, geometry, off
    )
    assert trust_view.scan_localisation(record, geometry, None) is None


def test_hostile_cases_give_unknown_not_an_error():
    summary = _summary(CLEAR)
    junk = summary.cases.assign(deletion_auc="=cmd|' /C calc'!A0", pointing_hit="yes")
    t = tr.method_trust(ExplanationSummary(summary.summary, pd.DataFrame(), junk, Path(".")), "occlusion")
    assert t.deletion.word == tr.UNKNOWN and t.pointing.word == tr.UNKNOWN and t.insertion.word == tr.BETTER
    bare = ExplanationSummary(summary.summary, pd.DataFrame(), pd.DataFrame({"x": [1]}), Path("."))
    assert tr.method_trust(bare, "occlusion").overall == tr.UNKNOWN


def test_changed_settings_name_each_parameter_that_moved_since_the_summary():
    assert tr.changed_settings({"n_steps": 16, "baseline": "min"}, {"n_steps": 16, "baseline": "min"}) == []
    changed = tr.changed_settings({"n_steps": 16, "integration": "gl"}, {"n_steps": 4, "max_steps": 24})
    assert changed == ["integration: gl -> (none)", "max_steps: (none) -> 24", "n_steps: 16 -> 4"]


def test_a_verdict_measured_with_other_settings_says_so_in_plain_text():
    t = tr.MethodTrust(*[None] * 9, measured_with={"n_steps": "**16**"})  # a forged summary's value
    t = dataclasses.replace(t, method="integrated_gradients")
    line = trust_view.settings_changed(t)
    assert "earlier settings" in line and "python -m model.explain" in line and "**16**" not in line
    same = dataclasses.replace(t, measured_with=dict(EXPLAINERS["integrated_gradients"].defaults))
    assert trust_view.settings_changed(same) == ""
