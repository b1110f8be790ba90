"""Explanation methods: the project's defaults vs the libraries' defaults vs a high-accuracy reference.

For every method the table shows the time of the project's default (through
:func:`model.explain.registry.safe_explain`, as the dashboard runs it), the time of the library's default
(:mod:`benchmarks.alternatives`), and how well each map agrees with a reference map (Spearman rank
correlation on the finest grid both maps share), so that speed is never bought with a wrong map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from benchmarks import alternatives
from benchmarks.report import Check, Row
from benchmarks.settings import Settings
from benchmarks.timing import Timing, measure, measure_interleaved
from model.explain.heatmap import Heatmap
from model.explain.registry import EXPLAINERS, safe_explain
from model.explain.sanity import rank_correlation
from model.explain.state import patch_size_of
from model.loading import Classifier

SECTION = "explanations"
# Reference maps of the stochastic methods use another seed, so agreement is not inflated by shared draws.
REFERENCE_SEED = 1
REFERENCE_BATCH = 16


@dataclass(frozen=True)
class Comparison:
    """How one method is compared.

    Attributes:
        method: registry key.
        library: the alternative in words, or "" when no library implements the method.
        library_fn: ``(model, x, target) -> Heatmap`` for the alternative.
        reference: how the reference map is made, in words ("library": the alternative's map is it).
        reference_params: settings -> parameters of the project's method that make the reference.
        min_speedup: target speed-up of the project default over the library default (None: no target).
        min_agreement: target rank correlation of the project default with the reference (None: no target).
        variant: (row-id suffix, words, patch size -> parameters) of one more project setting, timed once
            and held to the same targets (None: only the defaults).
    """

    method: str
    library: str
    library_fn: Callable[..., Heatmap] | None
    reference: str
    reference_params: Callable[[Settings], dict] | None = None
    min_speedup: float | None = None
    min_agreement: float | None = None
    note: str = field(default="")
    variant: tuple[str, str, Callable[[int], dict]] | None = None


COMPARISONS = (
    Comparison(
        "integrated_gradients",
        "Captum IntegratedGradients defaults: 50 steps, no internal batching",
        alternatives.captum_ig,
        "project method, the reference step count evenly spaced",
        lambda s: {
            "n_steps": s.ig_reference_steps,
            "max_steps": s.ig_reference_steps,
            "internal_batch_size": REFERENCE_BATCH,
        },
        2.0,
        0.9,
    ),
    Comparison(
        "gradient_shap",
        "Captum GradientShap defaults: 5 draws, stdevs 0",
        alternatives.captum_gradient_shap,
        "project method with many draws (another seed)",
        lambda s: {
            "n_samples": s.shap_reference_samples,
            "seed": REFERENCE_SEED,
            "internal_batch_size": REFERENCE_BATCH,
        },
    ),
    Comparison(
        "smoothgrad",
        "Captum NoiseTunnel(Saliency) defaults: 5 copies, noise sigma 1.0",
        alternatives.captum_smoothgrad,
        "project method with many noisy copies (another seed)",
        lambda s: {
            "n_samples": s.smoothgrad_reference_samples,
            "seed": REFERENCE_SEED,
            "internal_batch_size": REFERENCE_BATCH,
        },
    ),
    Comparison(
        "occlusion",
        "Captum Occlusion: patch-sized window sliding at half a patch, 1 window/pass",
        alternatives.captum_occlusion,
        "library",
        None,
        3.0,
        0.8,
        note="reference = the sliding-window map (same windows, finer stride), summed per patch",
        variant=(
            "sliding",
            "the library's windows (stride = half a patch), batched",
            lambda p: {"stride": p // 2},
        ),
    ),
    Comparison(
        "gradcam",
        "pytorch-grad-cam ViT recipe: hook on layers[-1].layernorm_before, full pass",
        alternatives.hooked_gradcam,
        "library",
        note="same quantity computed two ways: agreement checks the project's hook-free re-run",
    ),
    Comparison(
        "gradient_rollout",
        "",
        None,
        "",
        note="no library default (Chefer et al.'s code is the same one backward pass); deterministic",
    ),
)


def agreement(a: Heatmap, b: Heatmap, patch_size: int) -> float:
    """Spearman correlation of two maps on the finest grid they share (pixels, else patches)."""
    if a.grid == b.grid == "input" or a.values.shape == b.values.shape:
        return rank_correlation(a.values, b.values)
    return patch_agreement(a, b, patch_size)


def patch_agreement(a: Heatmap, b: Heatmap, patch_size: int) -> float:
    """Spearman correlation of two maps summed per patch (robust to pixel-level noise near zero)."""
    return rank_correlation(a.on_patch_grid(patch_size), b.on_patch_grid(patch_size))


def _patch_note(a: Heatmap, b: Heatmap, patch_size: int) -> str:
    if a.grid == b.grid == "input":
        return f"Spearman on the patch grid {patch_agreement(a, b, patch_size):.3f}"
    return ""


def delta_note(heat: Heatmap) -> str:
    """For a map refined to a delta target (Integrated Gradients): whether it was met, at how many steps."""
    if "target_met" not in heat.extras:
        return ""
    ex = heat.extras
    tried = ", ".join(f"{n}: {'n/a' if r is None else f'{r:.1%}'}" for n, r in ex["schedule"])
    verdict = {True: "met", False: "NOT met", None: "cannot be judged (no logit change)"}[ex["target_met"]]
    target = f"delta target {ex['delta_target']:.0%} {verdict} at {ex['steps']} steps"
    return f"{target} (relative delta by steps: {tried})"


def _params(heat: Heatmap) -> str:
    shown = {k: v for k, v in heat.params.items() if k not in ("sign", "seed")}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "no parameters"


def time_pair(
    first: Callable[[], object], second: Callable[[], object], s: Settings
) -> tuple[Timing, Timing]:
    """Time two ways of doing the same work.

    One call each first (warm-up and peak memory); when both are fast, then alternating rounds, so that a
    slow spell of a shared machine hits both alike; a slow one keeps its single call.
    """
    probes = [measure(fn, 1, 0) for fn in (first, second)]
    if max(t.median_s for t in probes) >= s.slow_s:
        return probes[0], probes[1]
    timed = measure_interleaved({"a": first, "b": second}, s.repeats, max(0, s.warmup - 1))
    return tuple(replace(timed[k], peak_mib=t.peak_mib) for k, t in zip("ab", probes, strict=True))


def compare_method(
    c: Comparison, classifier: Classifier, x: torch.Tensor, target: int, fwd: Timing, s: Settings
) -> list[Row]:
    """Time the project default, the library default and the reference of one method; rank-correlate maps."""
    model, p = classifier.model, patch_size_of(classifier.model)
    label = EXPLAINERS[c.method].label
    project_fn = lambda: safe_explain(c.method, model, x, target)  # noqa: E731 - named for the timings
    if c.library_fn is None:
        proj = measure(project_fn, s.repeats, s.warmup, s.slow_s)
    else:
        proj, lib = time_pair(project_fn, lambda: c.library_fn(model, x, target), s)
    project_row = Row(
        f"{c.method}.project",
        SECTION,
        f"{label}, project defaults ({_params(proj.value)})",
        proj.median_s,
        proj.median_s / fwd.median_s,
        peak_mib=proj.peak_mib,
        runs_s=proj.runs_s,
        note=c.note,
    )
    rows = [project_row]
    if c.library_fn is None:
        return rows
    rows.append(
        Row(
            f"{c.method}.library",
            SECTION,
            c.library,
            lib.median_s,
            lib.median_s / fwd.median_s,
            peak_mib=lib.peak_mib,
            runs_s=lib.runs_s,
        )
    )
    if c.reference_params is None:  # the library's map is the reference
        ref_map = lib.value
        rows[-1].agreement, rows[-1].note = 1.0, "this map is the reference"
    else:
        ref = measure(lambda: safe_explain(c.method, model, x, target, **c.reference_params(s)), 1, 0)
        ref_map = ref.value
        rows.append(
            Row(
                f"{c.method}.reference",
                SECTION,
                f"reference: {c.reference} ({_params(ref_map)})",
                ref.median_s,
                ref.median_s / fwd.median_s,
                agreement=1.0,
                peak_mib=ref.peak_mib,
            )
        )
        rows[1].agreement = agreement(lib.value, ref_map, p)
        rows[1].note = _patch_note(lib.value, ref_map, p)
    speedup = lib.median_s / proj.median_s
    project_row.agreement = agreement(proj.value, ref_map, p)
    notes = (_patch_note(proj.value, ref_map, p), delta_note(proj.value), c.note)
    project_row.note = "; ".join(n for n in notes if n)
    project_row.value, project_row.unit = speedup, "× speed-up vs library default"
    _add_checks(project_row, c, speedup)
    if c.variant is not None:
        rows.append(_variant_row(c, classifier, x, target, fwd, (lib, ref_map)))
    return rows


def _add_checks(row: Row, c: Comparison, speedup: float) -> None:
    if c.min_speedup is not None:
        row.checks.append(Check("speed-up vs library", speedup, ">=", c.min_speedup))
    if c.min_agreement is not None:
        row.checks.append(Check("Spearman vs reference", row.agreement, ">=", c.min_agreement))


def _variant_row(
    c: Comparison, classifier: Classifier, x: torch.Tensor, target: int, fwd: Timing, lib_ref: tuple
) -> Row:
    """The comparison's extra project setting, timed once against the library timing of the same run."""
    (suffix, words, make_params), (lib, ref_map) = c.variant, lib_ref
    model, p = classifier.model, patch_size_of(classifier.model)
    t = measure(lambda: safe_explain(c.method, model, x, target, **make_params(p)), 1, 0)
    row = Row(
        f"{c.method}.{suffix}",
        SECTION,
        f"{EXPLAINERS[c.method].label}, {words} ({_params(t.value)})",
        t.median_s,
        t.median_s / fwd.median_s,
        value=lib.median_s / t.median_s,
        unit="× speed-up vs library default",
        agreement=agreement(t.value, ref_map, p),
        peak_mib=t.peak_mib,
        runs_s=t.runs_s,
    )
    _add_checks(row, c, lib.median_s / t.median_s)
    return row


def run_explain(classifier: Classifier, x: torch.Tensor, fwd: Timing, s: Settings) -> tuple[list[Row], int]:
    """All method comparisons on one input, explaining the predicted class (the page's default).

    Returns:
        The rows and the target class explained.
    """
    with torch.no_grad():
        target = int(np.argmax(classifier.model(pixel_values=x).logits[0].numpy()))
    rows = []
    for c in COMPARISONS:
        rows += compare_method(c, classifier, x, target, fwd, s)
    return rows, target


def expected_ids() -> list[str]:
    """Row ids this section always produces (for the smoke test)."""
    ids = []
    for c in COMPARISONS:
        ids.append(f"{c.method}.project")
        if c.library_fn is not None:
            ids.append(f"{c.method}.library")
        if c.reference_params is not None:
            ids.append(f"{c.method}.reference")
        if c.variant is not None:
            ids.append(f"{c.method}.{c.variant[0]}")
    return ids
