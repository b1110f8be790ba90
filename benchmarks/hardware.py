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

# AVX-512: one 512-bit FMA per cycle = 16 lanes x 2 FLOP (the figure the issue gives for this CPU). Xeons with
# a second FMA port reach 64; the hypervisor does not say which, so the bound may be 2x too generous to us.
FP32_FLOP_PER_CYCLE = 32
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
        peak_gflops: cores x FP32 FLOP/cycle x clock (GFLOP/s).
        gemm_gflops: measured fp32 GEMM rate with ``threads`` threads (GFLOP/s), the practical ceiling.
        torch: torch version; python: Python version.
    """

    cpu: str
    cores: int
    threads: int
    clock_ghz: float
    clock_source: str
    peak_gflops: float
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


def describe_machine(threads: int, quick: bool) -> Machine:
    """Collect the :class:`Machine` facts (runs one short GEMM measurement, fewer repeats when ``quick``)."""
    clock, source = read_clock_ghz()
    cores = os.cpu_count() or 1
    return Machine(
        cpu=cpu_name(),
        cores=cores,
        threads=threads,
        clock_ghz=clock,
        clock_source=source,
        peak_gflops=min(cores, threads) * FP32_FLOP_PER_CYCLE * clock,
        gemm_gflops=gemm_gflops(threads, repeats=2 if quick else 5),
        torch=torch.__version__,
        python=platform.python_version(),
    )
