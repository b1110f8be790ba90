"""One forward pass, prediction + attention rollout, int8, and the FLOP bound (section "forward")."""

from __future__ import annotations

import torch

from benchmarks.hardware import Machine, vit_forward_macs
from benchmarks.report import Check, Row
from benchmarks.settings import Settings
from benchmarks.timing import Timing, measure, measure_interleaved
from model.evaluate.calibration import softmax_with_temperature
from model.evaluate.run import quantize_int8
from model.explain import rollout
from model.loading import Classifier, load_classifier

SECTION = "forward"
# Targets of issue #8 (ratios within one run).
ROLLOUT_MAX_RATIO = 1.1
FP32_MAX_BOUND_RATIO = 3.0
INT8_MAX_BOUND_RATIO = 2.0


def forward_pass(classifier: Classifier, x: torch.Tensor) -> torch.Tensor:
    """(1, C) logits of one plain forward pass (no attentions), as the evaluation runs it."""
    with torch.no_grad():
        return classifier.model(pixel_values=x).logits


def predict_with_rollout(classifier: Classifier, x: torch.Tensor) -> tuple[object, object]:
    """Probabilities and the rollout grid from ONE eager pass (as ``model.inference.first_look`` starts)."""
    with torch.no_grad():
        out = classifier.model(pixel_values=x, output_attentions=True)
    probs = softmax_with_temperature(out.logits.double().numpy(), 1.0)  # (1, C)
    return probs, rollout.attention_rollout(out.attentions, classifier.patch_grid)


def bound_seconds(classifier: Classifier, machine: Machine) -> tuple[float, float]:
    """(FLOPs of one forward pass, seconds it takes at the machine's peak)."""
    flops = 2.0 * vit_forward_macs(classifier.model.config, classifier.preprocess.image_size)
    return flops, flops / (machine.peak_gflops * 1e9)


def run_forward(
    classifier: Classifier, model_dir: str, x: torch.Tensor, machine: Machine, s: Settings
) -> tuple[list[Row], Timing]:
    """Measure the forward-section rows (fp32, attentions + rollout and int8 in alternating rounds).

    Args:
        classifier: the model under test (loaded). model_dir: its folder (timed reload).
        x: (1, 3, S, S) float32 input.
        machine: clock and peak. s: run settings.

    Returns:
        The rows and the forward-pass :class:`Timing` every other ratio refers to.
    """
    int8 = quantize_int8(classifier)
    timed = measure_interleaved(
        {
            "fwd": lambda: forward_pass(classifier, x),
            "both": lambda: predict_with_rollout(classifier, x),
            "q": lambda: forward_pass(int8, x),
        },
        s.repeats,
        s.warmup,
    )
    fwd, both, q = timed["fwd"], timed["both"], timed["q"]
    ratio = lambda t: t.median_s / fwd.median_s  # noqa: E731 - local shorthand
    load = measure(lambda: load_classifier(model_dir), max(1, s.repeats // 2), 1, s.slow_s)
    flops, bound_s = bound_seconds(classifier, machine)
    nominal_s = flops / (machine.nominal_peak_gflops * 1e9)
    rows = [
        Row(
            "forward",
            SECTION,
            "one forward pass, fp32, batch 1 (no attentions)",
            fwd.median_s,
            1.0,
            value=flops / fwd.median_s / 1e9,
            unit="GFLOP/s",
            runs_s=fwd.runs_s,
            checks=[Check("× FLOP bound", fwd.median_s / bound_s, "<=", FP32_MAX_BOUND_RATIO)],
        ),
        Row(
            "flop_bound",
            SECTION,
            f"FLOP bound: {flops / 1e9:.2f} GFLOP ({flops / 2e9:.2f} G multiply-adds "
            f"x 2) at {machine.peak_gflops:.1f} GFLOP/s",
            bound_s,
            bound_s / fwd.median_s,
            value=flops / 1e9,
            unit="GFLOP",
            note=f"peak: {machine.peak_note}; with the issue's nominal "
            f"{machine.nominal_peak_gflops:.1f} GFLOP/s the bound would be {nominal_s * 1e3:.1f} ms and the "
            f"forward pass {fwd.median_s / nominal_s:.2f}x it",
        ),
        Row(
            "forward.int8",
            SECTION,
            "one forward pass, dynamic int8 Linear layers (evaluate.quantize_int8)",
            q.median_s,
            ratio(q),
            value=flops / q.median_s / 1e9,
            unit="GFLOP/s (fp32-equivalent)",
            runs_s=q.runs_s,
            checks=[Check("× FLOP bound", q.median_s / bound_s, "<=", INT8_MAX_BOUND_RATIO)],
            note="bound = the fp32 peak; prediction agreement with fp32 is in the evaluation section",
        ),
        Row(
            "predict_rollout",
            SECTION,
            "prediction + attention rollout from one eager pass (attentions out)",
            both.median_s,
            ratio(both),
            runs_s=both.runs_s,
            checks=[Check("× forward", ratio(both), "<=", ROLLOUT_MAX_RATIO)],
        ),
        Row(
            "load",
            SECTION,
            "load_classifier from the saved folder (cold read, fingerprint)",
            load.median_s,
            ratio(load),
        ),
    ]
    return rows, fwd
