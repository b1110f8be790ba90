"""The machine and the arithmetic: CPU clock, peak FP32 rate, ViT forward FLOPs, and measured GEMM rate.

The FLOP bound of a forward pass is ``FLOPs / peak``, with ``peak = cores x FP32 FLOP per cycle x clock``.
One fused multiply-add counts as 2 FLOPs (the convention behind "FLOP per cycle" peaks). ViT-Base/16 at
224 px does 17.6 G multiply-accumulates, the figure papers quote as "17.6 GFLOPs" (DeiT, Touvron et al.
2021), i.e. 35.1 GFLOP in the units of the peak.
"""

from __future__ import annotations

import os
import platform
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

# One 512-bit FMA per cycle = 16 lanes x 2 FLOP: the figure issue #8 gives for this CPU.
NOMINAL_FP32_FLOP_PER_CYCLE = 32
# Xeons with a second AVX-512 FMA port do twice that. The hypervisor does not say which, so the port count is
# inferred: when a measured GEMM beats the nominal peak, that peak is no bound and this one is used.
DUAL_FMA_FP32_FLOP_PER_CYCLE = 64
# A square GEMM of this side runs at close to the machine's practical peak (compute bound, fits in L3).
GEMM_SIDE = 2048


@dataclass(frozen=True)
class Machine:
    """What the numbers were measured on.

    Attributes:
        cpu: model name from /proc/cpuinfo.
        cores: logical CPUs visible to this process.
        threads: torch intra-op threads used.
        clock_ghz: clock used for the peak, in GHz.
        clock_source: where ``clock_ghz`` came from (file and field).
        nominal_peak_gflops: cores x 32 FP32 FLOP/cycle x clock, the issue's formula (GFLOP/s).
        peak_gflops: the peak the FLOP bound uses (GFLOP/s): see :func:`choose_peak`.
        peak_note: how ``peak_gflops`` was chosen, in words.
        gemm_gflops: measured fp32 GEMM rate with ``threads`` threads (GFLOP/s), the practical ceiling.
        torch: torch version; python: Python version.
    """

    cpu: str
    cores: int
    threads: int
    clock_ghz: float
    clock_source: str
    nominal_peak_gflops: float
    peak_gflops: float
    peak_note: str
    gemm_gflops: float
    torch: str
    python: str

    def to_dict(self) -> dict:
        """JSON-ready copy."""
        return asdict(self)


def read_clock_ghz(cpuinfo: str | None = None) -> tuple[float, str]:
    """The CPU clock in GHz and where it came from.

    Prefers the ``cpu MHz`` field of /proc/cpuinfo (what the kernel reports for this VM; lscpu shows no
    max-MHz here), else a ``@ 2.10GHz`` suffix of the model name.

    Args:
        cpuinfo: text of /proc/cpuinfo (read from the file when None).

    Returns:
        (GHz, source description).

    Raises:
        RuntimeError: no clock could be found (set the peak by hand in that case).
    """
    text = cpuinfo if cpuinfo is not None else Path("/proc/cpuinfo").read_text()
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.MULTILINE)
    if mhz:
        return float(mhz.group(1)) / 1000, "/proc/cpuinfo 'cpu MHz' (first core)"
    named = re.search(r"^model name\s*:.*@\s*([\d.]+)\s*GHz", text, re.MULTILINE)
    if named:
        return float(named.group(1)), "/proc/cpuinfo model name"
    raise RuntimeError("No CPU clock in /proc/cpuinfo; the FLOP bound cannot be computed on this machine.")


def cpu_name() -> str:
    """The CPU model name (or the platform's processor string)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "unknown"


def vit_forward_macs(config: object, image_size: int, batch: int = 1) -> int:
    """Multiply-accumulates of one ViT forward pass (matrix products only; norms/softmax/GELU are <1 %).

    Args:
        config: a ``ViTConfig`` (hidden_size, num_hidden_layers, intermediate_size, patch_size, num_channels).
        image_size: input side in pixels.
        batch: images per pass.

    Returns:
        MACs for the batch (ViT-Base/16 at 224: 17.57e9 per image).
    """
    d, mlp, p = config.hidden_size, config.intermediate_size, config.patch_size
    patches = (image_size // p) ** 2
    tokens = patches + 1  # + CLS
    embed = patches * (config.num_channels * p * p) * d
    # Q, K, V and output projections; the two MLP layers; QK^T and attention x V over all heads.
    per_layer = 4 * tokens * d * d + 2 * tokens * d * mlp + 2 * tokens * tokens * d
    head = d * config.num_labels
    return batch * (embed + config.num_hidden_layers * per_layer + head)


def gemm_gflops(threads: int, side: int = GEMM_SIDE, repeats: int = 3) -> float:
    """Measured fp32 matrix-multiply rate (GFLOP/s, 2 FLOP per MAC), best of ``repeats``."""
    torch.set_num_threads(threads)
    a, b = torch.randn(side, side), torch.randn(side, side)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * side**3 / best / 1e9


def choose_peak(cores: int, clock_ghz: float, gemm: float) -> tuple[float, str]:
    """The FP32 peak (GFLOP/s) for the FLOP bound: the issue's formula unless a measurement beats it.

    A peak that a measured GEMM exceeds is not a bound, so the estimate is raised step by step: 32 FLOP/cycle
    (one AVX-512 FMA port), then 64 (two ports), then the measured GEMM rate itself (the cores then run
    above the reported clock, e.g. turbo).

    Args:
        cores: cores used. clock_ghz: reported clock. gemm: measured fp32 GEMM rate (GFLOP/s).

    Returns:
        (peak in GFLOP/s, one sentence saying how it was chosen).
    """
    nominal = cores * NOMINAL_FP32_FLOP_PER_CYCLE * clock_ghz
    dual = cores * DUAL_FMA_FP32_FLOP_PER_CYCLE * clock_ghz
    if gemm <= nominal:
        return nominal, f"{cores} cores x {NOMINAL_FP32_FLOP_PER_CYCLE} FP32 FLOP/cycle x {clock_ghz:.2f} GHz"
    beaten = (
        f"a measured fp32 GEMM ({gemm:.0f} GFLOP/s) beats the issue's {cores} x "
        f"{NOMINAL_FP32_FLOP_PER_CYCLE} FLOP/cycle x {clock_ghz:.2f} GHz = {nominal:.1f} GFLOP/s"
    )
    if gemm <= dual:
        return dual, (
            f"{beaten}, so the cores have two AVX-512 FMA ports: {cores} x "
            f"{DUAL_FMA_FP32_FLOP_PER_CYCLE} x {clock_ghz:.2f} GHz = {dual:.1f} GFLOP/s"
        )
    return gemm, (
        f"{beaten} and even {DUAL_FMA_FP32_FLOP_PER_CYCLE} FLOP/cycle ({dual:.1f} GFLOP/s), so the "
        f"cores run above the reported clock (turbo, >= {gemm / dual * clock_ghz:.2f} GHz): the "
        "measured GEMM rate is used as the peak"
    )


def describe_machine(threads: int, quick: bool) -> Machine:
    """Collect the :class:`Machine` facts (runs one short GEMM measurement, fewer repeats when ``quick``)."""
    clock, source = read_clock_ghz()
    cores = os.cpu_count() or 1
    used = min(cores, threads)
    gemm = gemm_gflops(threads, repeats=3 if quick else 5)
    peak, note = choose_peak(used, clock, gemm)
    return Machine(
        cpu=cpu_name(),
        cores=cores,
        threads=threads,
        clock_ghz=clock,
        clock_source=source,
        nominal_peak_gflops=used * NOMINAL_FP32_FLOP_PER_CYCLE * clock,
        peak_gflops=peak,
        peak_note=note,
        gemm_gflops=gemm,
        torch=torch.__version__,
        python=platform.python_version(),
    )
