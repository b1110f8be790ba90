"""The benchmark command (issue #8): its arithmetic, its bookkeeping, and one end-to-end run on the tiny ViT.

Nothing here asserts a timing: the figures of a tiny model on a shared machine mean nothing. The tests check
that every row is produced and written, and that the numbers in a row are consistent with each other.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import bench_explain, notes
from benchmarks.hardware import choose_peak, read_clock_ghz, vit_forward_macs
from benchmarks.report import JSON_FILE, MARKDOWN_FILE, SCHEMA_VERSION, Check, ModelResult, Row
from benchmarks.run import expected_ids, parse_args, run
from benchmarks.subjects import make_random_subject
from benchmarks.timing import measure
from model.explain.heatmap import Heatmap
from model.loading import build_classifier
from tests.conftest import TINY_VIT

# Times in the JSON are rounded by nothing, so ratio * forward reproduces time up to float rounding.
RATIO_REL_TOL = 1e-9
# Two fresh interpreters differ by a few MiB of allocator and import-order noise in their peak RSS.
RSS_NOISE_MIB = 16.0


def test_tiny_subject_is_the_test_fixture_vit(tmp_path):
    config = make_random_subject(tmp_path, tiny=True).classifier.model.config
    assert {name: getattr(config, name) for name in TINY_VIT} == TINY_VIT


@pytest.mark.parametrize("arch,size", [("tiny", 32), ("base", 224)])
def test_forward_macs_match_torch_flop_counter(arch, size):
    overrides = TINY_VIT if size == 32 else {"num_hidden_layers": 1}  # one ViT-Base layer keeps the test fast
    model = build_classifier(arch, **overrides)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(pixel_values=torch.zeros(1, 3, size, size))
    assert 2 * vit_forward_macs(model.config, size) == counter.get_total_flops()


def test_vit_base_forward_is_17_6_g_multiply_adds():
    config = build_classifier("base", num_hidden_layers=1).config
    config.num_hidden_layers = 12  # the count needs only the config
    assert vit_forward_macs(config, 224) / 1e9 == pytest.approx(17.56, abs=0.01)
    assert vit_forward_macs(config, 224, batch=4) == 4 * vit_forward_macs(config, 224)


def test_clock_is_read_from_cpu_mhz_then_model_name():
    assert read_clock_ghz("model name\t: Xeon\ncpu MHz\t\t: 2100.000\n")[0] == pytest.approx(2.1)
    assert read_clock_ghz("model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n")[0] == pytest.approx(2.0)
    with pytest.raises(RuntimeError, match="FLOP bound"):
        read_clock_ghz("model name\t: mystery\n")


def test_peak_is_raised_only_when_a_measured_gemm_beats_it():
    assert choose_peak(2, 2.1, gemm=100.0)[0] == pytest.approx(2 * 32 * 2.1)  # the formula holds
    peak, note = choose_peak(2, 2.1, gemm=200.0)
    assert peak == pytest.approx(2 * 64 * 2.1) and "two AVX-512 FMA ports" in note
    peak, note = choose_peak(2, 2.1, gemm=300.0)
    assert peak == 300.0 and "turbo" in note
    for gemm in (50.0, 150.0, 290.0, 400.0):
        assert choose_peak(2, 2.1, gemm)[0] >= gemm  # never a "bound" the hardware beats


def test_missed_targets_get_the_reason_for_their_model_size():
    def result(forward_s):
        row = Row("predict_rollout", "forward", "x", checks=[Check("× forward", 1.3, "<=", 1.1)])
        met = Row("panel.cached", "panel", "y", checks=[Check("seconds", 0.001, "<=", 0.05)])
        return ModelResult("m", "src", [row, met], facts={"forward_start_s": forward_s})

    small, large = result(0.004), result(0.2)
    notes.annotate(small)
    notes.annotate(large)
    key = ("predict_rollout", "× forward")
    small_note, large_note = small.rows[0].note, large.rows[0].note
    assert notes.SMALL_MODEL_NOTES[key] in small_note and notes.MISS_NOTES[key] not in small_note
    assert notes.MISS_NOTES[key] in large_note and notes.SMALL_MODEL_NOTES[key] not in large_note
    assert small.rows[1].note == large.rows[1].note == ""  # met targets get no excuse


def test_check_verdicts_and_nan_never_meets():
    assert Check("x", 1.1, "<=", 1.1).met and not Check("x", 1.2, "<=", 1.1).met
    assert Check("x", 2.0, ">=", 2.0).met and not Check("x", 1.9, ">=", 2.0).met
    assert not Check("x", math.nan, "<=", 1.0).met and not Check("x", math.nan, ">=", 1.0).met


def test_measure_counts_calls_and_times_slow_work_once():
    calls = []
    timing = measure(lambda: calls.append(1) or len(calls), repeats=3, warmup=2)
    assert len(calls) == 5 and len(timing.runs_s) == 3 and timing.value == 5
    assert min(timing.runs_s) <= timing.median_s <= max(timing.runs_s)
    cold_calls = []
    cold = measure(lambda: cold_calls.append(1), repeats=2, warmup=0)
    assert len(cold_calls) == 2 and len(cold.runs_s) == 2
    slow_calls = []
    slow = measure(lambda: slow_calls.append(1), repeats=5, warmup=3, slow_s=0.0)
    assert len(slow_calls) == 1 and slow.runs_s == (slow.median_s,)
    with pytest.raises(ValueError, match="repeats"):
        measure(lambda: None, repeats=0)


def test_agreement_compares_pixel_and_patch_maps_on_the_patch_grid():
    rng = np.random.default_rng(0)
    patch = rng.random((4, 4)).astype(np.float32)
    patch /= patch.sum()
    coarse = Heatmap(patch, "patch", "m", 0, (32, 32))
    fine = Heatmap(coarse.on_input_grid(), "input", "m", 0, (32, 32))
    reversed_fine = Heatmap(
        Heatmap(patch[::-1, ::-1].copy(), "patch", "m", 0, (32, 32)).on_input_grid(),
        "input",
        "m",
        0,
        (32, 32),
    )
    assert bench_explain.agreement(coarse, fine, 8) == pytest.approx(1.0)
    assert bench_explain.agreement(fine, reversed_fine, 8) < 1.0


def test_bad_models_option_exits_with_code_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--models", "base,huge"])
    assert exit_info.value.code == 2
    assert "huge" in capsys.readouterr().err


def _rows_consistent(rows: list[dict]) -> None:
    forward = next(r for r in rows if r["id"] == "forward")
    assert forward["ratio"] == 1.0 and forward["time_s"] > 0
    for r in rows:
        if r["ratio"] is not None and r["id"] != "flop_bound":
            assert r["ratio"] * forward["time_s"] == pytest.approx(r["time_s"], rel=RATIO_REL_TOL)
        if r["agreement"] is not None:
            assert -1.0 <= r["agreement"] <= 1.0
        for c in r["checks"]:
            assert c["met"] == (c["value"] <= c["bound"] if c["op"] == "<=" else c["value"] >= c["bound"])
        assert r["met"] == (all(c["met"] for c in r["checks"]) if r["checks"] else None)


@pytest.mark.slow
def test_tiny_quick_run_writes_json_and_markdown_with_every_row(tmp_path):
    threads_before = torch.get_num_threads()
    out, ok = run(quick=True, tiny=True, out=tmp_path)
    assert ok and out == tmp_path
    assert torch.get_num_threads() == threads_before  # the run leaves the process as it found it
    data = json.loads((tmp_path / JSON_FILE).read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["settings"]["tiny"] is True
    tiny, bundled = data["models"]
    assert [r["id"] for r in tiny["rows"]] == expected_ids(
        with_ray=False
    )  # Ray: tests/unit/evaluate/test_engine_ray.py
    assert bundled["skipped"] and not bundled["rows"]
    _rows_consistent(tiny["rows"])
    by_id = {r["id"]: r for r in tiny["rows"]}
    for method in ("integrated_gradients", "gradient_shap", "smoothgrad"):
        assert by_id[f"{method}.reference"]["agreement"] == 1.0
    assert by_id["eval.fp32"]["value"] == pytest.approx(8 / by_id["eval.fp32"]["time_s"])
    assert "delta target 5%" in by_id["integrated_gradients.project"]["note"]
    assert by_id["memory.dashboard"]["value"] >= by_id["memory.imports"]["value"] - RSS_NOISE_MIB > 0
    markdown = (tmp_path / MARKDOWN_FILE).read_text()
    for row_id in expected_ids(with_ray=False):
        assert f"| `{row_id}` |" in markdown
    assert "Skipped: tiny smoke run" in markdown and "## Targets" in markdown
