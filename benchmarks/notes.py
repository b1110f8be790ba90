"""Words around the numbers: the table's preamble, why a target was missed, one-line progress output."""

from __future__ import annotations

import math

from benchmarks.report import ModelResult, Row
from model.explain import integrated_gradients

COMMAND = "python -m benchmarks.run"
# Load above the core count by more than the benchmark's own extra processes means other work was running.
BUSY_LOAD_MARGIN = 0.5
# Why a target is missed: (row id, check) -> reason, appended to the row's note only when that check fails.
# Each reason was found by profiling or by varying the setting (see the issue #8 report).
MISS_NOTES = {
    ("panel.first_answer", "× forward"): "besides the eager pass with attentions (predict_rollout's time) "
    "the first answer decodes the file by content and crops the brain before the model sees it; the TTA "
    "views no longer run first (they follow the fast maps)",
    ("predict_rollout", "× forward"): "the eager pass returns every layer's attention maps (transformers' "
    "capture hooks keep 12 (heads, T, T) tensors) and the rollout multiplies 12 (T, T) float64 matrices "
    "(~6 ms for ViT-Base); the heads are already fused before the float64 cast (it was 8-15 % of a pass)",
    ("forward.int8", "× FLOP bound"): "dynamic int8 quantises activations on every call and keeps attention, "
    "layer norms and GELU in fp32, so it gains far less than 4x on the Linear layers",
    ("eval.int8", "top-1 agreement with fp32"): "int8 rounding flips the top class of scans whose two logits "
    "are nearly equal (most scans of a randomly initialised model; scans near P = 0.5 for a "
    "trained one)",
    ("eval.fp32", "× pipeline throughput"): "the forward pass is most of the time and the pipeline's is "
    "as fast per image: batching 16 scans makes it only ~10 % cheaper on 2 cores and both use SDPA; "
    "decoding and cropping (10-20 ms a scan on one core, about a fifth of the bundled model's serial time) "
    "now run in a thread beside a forward pass that already keeps both cores busy, so they save less",
    ("occlusion.project", "Spearman vs reference"): "a patch-aligned window hides exactly one patch, a "
    "window sliding at half a patch hides parts of four, and the model reacts differently to the two; "
    "2-patch windows at a 1-patch stride agreed no better (bundled model, 6 scans)",
    ("occlusion.sliding", "speed-up vs library"): "it computes the library's own map (the same windows, "
    "Spearman 1.0): batching 16 copies a pass saves Captum's per-pass overheads but makes each forward pass "
    "only ~15 % cheaper on 2 cores, and it skips only windows that are exactly the baseline already "
    "(0-9 % of them on the JPEG scans, whose black background is noisy)",
    ("integrated_gradients.project", "speed-up vs library"): "the 5 % delta target took more path points on "
    f"this scan (see the delta note: the cap is {integrated_gradients.MAX_STEPS} of Captum's 50), and each "
    "refinement round is a small "
    "batch of 4, less efficient per point than Captum's one batch of 50",
    ("integrated_gradients.project", "Spearman vs reference"): "pixel ranks of IG's positive part are "
    "dominated by near-zero pixels whose sign changes with the step count; Captum's 50 steps agreed no "
    "better on the bundled model (3 tumour scans), and the patch-grid agreement is in this note",
}
# A forward pass faster than this is a small model: fixed per-call costs (Python, returned attentions,
# activation quantisation, float64 rollout, scan decoding) dominate, and ratio targets set for ViT-Base do not
# transfer. These reasons replace the ones above for such a model.
SMALL_MODEL_S = 0.02
SMALL_MODEL_NOTES = {
    ("forward", "× FLOP bound"): "its matrices are too small to keep two cores' vector units busy: "
    "per-operator overheads, not FLOPs, set the time",
    ("predict_rollout", "× forward"): "fixed per-call costs (returning the attention maps, float64 rollout) "
    "are a large share of a forward pass this short",
    ("forward.int8", "× FLOP bound"): "quantising activations on every call costs about as much as the "
    "small matrix products it speeds up",
    ("integrated_gradients.project", "speed-up vs library"): "per-batch overheads, not FLOPs, dominate a "
    "model this small, so fewer path points in small refinement batches save less",
    ("eval.fp32", "× pipeline throughput"): "decoding and brain-cropping each scan costs more than this "
    "model's forward pass, and the pipeline skips the crop",
    ("eval.int8", "× pipeline throughput"): "decoding and brain-cropping each scan costs more than this "
    "model's forward pass, and the pipeline skips the crop",
}


def _fmt_time(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def one_line(row: Row) -> str:
    """A compact progress line for one row (time, ratio, agreement, value, verdict)."""
    parts = []
    if row.time_s is not None:
        parts.append(_fmt_time(row.time_s))
    if row.ratio is not None:
        parts.append(f"{row.ratio:.2f}x fwd")
    if row.agreement is not None and not math.isnan(row.agreement):
        parts.append(f"rho {row.agreement:.3f}")
    if row.value is not None:
        parts.append(f"{row.value:.4g} {row.unit}")
    if row.met is not None:
        parts.append("target met" if row.met else "TARGET MISSED")
    return " · ".join(parts)


def annotate(result: ModelResult) -> None:
    """Append the known reason to every row whose target is missed (small-model reasons for small models)."""
    small = result.facts.get("forward_start_s", 1.0) < SMALL_MODEL_S
    for row in result.rows:
        for check in row.checks:
            key = (row.id, check.what)
            why = SMALL_MODEL_NOTES.get(key) if small and key in SMALL_MODEL_NOTES else MISS_NOTES.get(key)
            if not check.met and why and why not in row.note:
                row.note = f"{row.note}; {check.what} missed because {why}".lstrip("; ")


def _load_text(header: dict, cores: int) -> str:
    loads = [v for v in header.get("load_average", {}).values() if v is not None]
    if not loads:
        return ""
    text = f" Load average {' -> '.join(f'{v:.1f}' for v in loads)} (start -> end)."
    if max(loads) > cores + BUSY_LOAD_MARGIN:
        text += (
            " **The machine was busy during this run: other processes competed for the cores, so times "
            "are inflated and ratios noisy. Rerun on a quiet machine before judging targets.**"
        )
    return text


def _targets(results: list[ModelResult]) -> list[str]:
    lines = ["## Targets", ""]
    for m in results:
        checked = [r for r in m.rows if r.checks]
        if m.skipped or not checked:
            continue
        missed = [r for r in checked if not r.met]
        lines.append(
            f"- **{m.name}**: {len(checked) - len(missed)} of {len(checked)} rows meet their targets"
            + ("; missed:" if missed else ".")
        )
        for r in missed:
            failed = ", ".join(f"{c.what} {c.value:.3g} (target {c.target()})" for c in r.checks if not c.met)
            lines.append(f"  - `{r.id}`: {failed}")
    return lines + [""]


def preamble(header: dict, results: list[ModelResult]) -> list[str]:
    """Markdown before the tables: how it was run, on what, the FLOP bound, the method, target summary."""
    mach, st = header["machine"], header["settings"]
    base = next((m for m in results if not m.skipped and m.rows), None)
    bound = next((r for r in base.rows if r.id == "flop_bound"), None) if base else None
    bound_text = (
        f" One forward pass of the first model below is {bound.value:.1f} GFLOP (multiply-adds x "
        '2; the "17.6 GFLOPs" usually quoted for ViT-Base/16 counts multiply-adds), so its bound '
        f"is {_fmt_time(bound.time_s)}."
        if bound and bound.value is not None
        else ""
    )
    nominal = mach["nominal_peak_gflops"]
    return [
        "# Benchmarks (issue #8)",
        "",
        f"Generated by `{COMMAND}{' --quick' if st['quick'] else ''}{' --tiny' if st['tiny'] else ''}` on "
        f"{header['created']} in {header['duration_s'] / 60:.1f} min. Rerun it to refresh this file and "
        "`results.json`; absolute times vary between machines, the ratios are what the targets judge.",
        "",
        f"**Machine.** {mach['cpu']}, {mach['cores']} logical CPUs, {mach['threads']} torch threads, "
        f"torch {mach['torch']}, Python {mach['python']}.{_load_text(header, mach['cores'])}",
        "",
        f"**FLOP bound.** Clock {mach['clock_ghz']:.2f} GHz from {mach['clock_source']}. The issue's "
        f"formula, cores x 32 FP32 FLOP/cycle (one AVX-512 FMA per cycle) x clock, gives {nominal:.1f} "
        f"GFLOP/s; a large fp32 matrix product measured in the same run reaches {mach['gemm_gflops']:.0f} "
        "GFLOP/s. "
        f"Peak used: {mach['peak_gflops']:.1f} GFLOP/s ({mach['peak_note']}).{bound_text}",
        "",
        f"**Method.** {st['description']}. Ratios are to the fp32 forward pass of the same run and model. "
        "Map agreement is the Spearman rank correlation with a high-accuracy reference map of the same "
        "method on the same input (pixels when both maps are pixel maps, else the model's patch grid), "
        "explaining the class the model predicts. The library alternatives use the libraries' numerical "
        "defaults with the project's baseline image (the scan's black background). Extra RSS is how far the "
        "benchmark process's resident memory rose above its level at the start of that row, at peak (freed "
        "heap is returned to the OS first).",
        "",
        *_targets(results),
        "## Results",
        "",
    ]
