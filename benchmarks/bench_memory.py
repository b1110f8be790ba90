"""Peak memory (RSS) of a dashboard process with the model loaded (section "memory").

A fresh subprocess imports the dashboard's resources (streamlit, torch, transformers, captum), loads the
model through ``resources.load_classifier_cached`` and builds the Explain page's default panel for one scan,
then reports its peak RSS (``VmHWM`` of /proc/self/status: ``ru_maxrss`` would include the high-water mark
of the forking parent, which Linux carries across exec). A second subprocess stops after the imports, so the
difference is what the model and one panel add. Subprocess command::

    python -m benchmarks.bench_memory MODEL_DIR SCAN [--eval-dir DIR] [--imports-only]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.report import Row

SECTION = "memory"
REPO_ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_TIMEOUT_S = 600


def peak_rss_mib() -> float:
    """This process's own peak RSS in MiB (VmHWM; ru_maxrss where /proc is absent)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_subprocess(model_dir: Path, scan: Path, eval_dir: str, imports_only: bool) -> float:
    """Run this module in a fresh interpreter and return its peak RSS in MiB.

    Raises:
        RuntimeError: the subprocess failed (its stderr tail is in the message).
    """
    cmd = [sys.executable, "-m", "benchmarks.bench_memory", str(model_dir), str(scan), "--eval-dir", eval_dir]
    cmd += ["--imports-only"] if imports_only else []
    done = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory subprocess failed ({done.returncode}): {done.stderr[-800:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def run_memory(model_dir: Path, scan: Path, eval_dir: str) -> list[Row]:
    """The two memory rows: dashboard process with model + panel, and the same process after imports only."""
    full = peak_rss_subprocess(model_dir, scan, eval_dir, imports_only=False)
    base = peak_rss_subprocess(model_dir, scan, eval_dir, imports_only=True)
    return [
        Row(
            "memory.dashboard",
            SECTION,
            "peak RSS: dashboard resources + model + default Explain panel",
            value=full,
            unit="MiB",
            note=f"{full - base:.0f} MiB more than after the imports alone",
        ),
        Row(
            "memory.imports",
            SECTION,
            "peak RSS: same process after importing dashboard.resources only",
            value=base,
            unit="MiB",
        ),
    ]


def expected_ids() -> list[str]:
    """Row ids this section always produces."""
    return ["memory.dashboard", "memory.imports"]


def main(argv: Sequence[str] | None = None) -> int:
    """Subprocess entry: optionally load the model and build one panel, then print the peak RSS as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("scan")
    parser.add_argument("--eval-dir", default="", help="evaluation folder (calibration temperature)")
    parser.add_argument("--imports-only", action="store_true")
    args = parser.parse_args(argv)
    from benchmarks.bench_panel import run_panel
    from benchmarks.timing import set_threads
    from dashboard import resources

    set_threads()
    if not args.imports_only:
        classifier = resources.load_classifier_cached(args.model_dir)
        run_panel(classifier.source, classifier.fingerprint, Path(args.scan).read_bytes(), args.eval_dir)
    print(json.dumps({"peak_rss_mib": peak_rss_mib()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
