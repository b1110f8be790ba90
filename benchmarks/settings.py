"""How much work a benchmark run does: the full run, ``--quick``, and the tiny smoke-test run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Repeats, reference accuracy and sample sizes of one run.

    Attributes:
        quick: fewer repeats and cheaper references (for development; the table says so).
        tiny: use the tiny test ViT instead of ViT-Base (smoke test only; figures are meaningless).
        repeats: timed repeats of fast operations (median reported); slow ones run once (see ``slow_s``).
        warmup: untimed calls before the timed ones.
        slow_s: an operation whose first call takes longer than this is timed from that call alone.
        ig_reference_steps: Integrated-Gradients steps of the high-accuracy reference map.
        shap_reference_samples: GradientSHAP draws of its reference map.
        smoothgrad_reference_samples: SmoothGrad noisy copies of its reference map.
        n_eval_images: images in the throughput comparison.
        eval_batch_size: ``model.evaluate.run.predict_paths`` batch size.
        with_memory: measure the dashboard process's peak RSS in a subprocess.
        with_ray: compare the local and the Ray engine (starts a local Ray; off in the tiny smoke run, whose
            Ray path tests/unit/evaluate/test_engine_ray.py covers).
        ray_explain_images: scans explained by each engine in that comparison.
        concurrency_sessions: Explain-page sessions run at once in the concurrency section (each also once
            alone, and one more scan for the warm-up; needs ``n_eval_images`` >= this + 1).
        threads: torch intra-op threads (2, the machine's cores; 1 for the tiny smoke run, whose figures are
            meaningless and where thread hand-offs would only add noise on a busy machine).
    """

    quick: bool = False
    tiny: bool = False
    repeats: int = 5
    warmup: int = 2
    slow_s: float = 5.0
    ig_reference_steps: int = 256
    shap_reference_samples: int = 128
    smoothgrad_reference_samples: int = 64
    n_eval_images: int = 32
    eval_batch_size: int = 16
    with_memory: bool = True
    with_ray: bool = True
    ray_explain_images: int = 4
    concurrency_sessions: int = 6
    threads: int = 2

    @classmethod
    def make(cls, quick: bool, tiny: bool) -> Settings:
        """The preset for a run: full, ``--quick``, or tiny (quick settings on the tiny model)."""
        if not (quick or tiny):
            return cls()
        return cls(
            quick=quick,
            tiny=tiny,
            repeats=2 if tiny else 3,
            warmup=1,
            ig_reference_steps=64,
            shap_reference_samples=48,
            smoothgrad_reference_samples=32,
            n_eval_images=8 if tiny else 16,
            eval_batch_size=4 if tiny else 16,
            with_ray=not tiny,
            ray_explain_images=2,
            concurrency_sessions=2 if tiny else 4,
            threads=1 if tiny else 2,
        )

    def describe(self) -> str:
        """One line for the table's header."""
        mode = "tiny smoke run" if self.tiny else ("quick" if self.quick else "full")
        return (
            f"{mode}: median of {self.repeats} timed runs after {self.warmup} warm-up(s) (operations "
            f"slower than {self.slow_s:g} s: one run); references IG {self.ig_reference_steps} steps, "
            f"GradientSHAP {self.shap_reference_samples} draws, SmoothGrad "
            f"{self.smoothgrad_reference_samples} copies; {self.n_eval_images} images for throughput; "
            f"{self.concurrency_sessions} concurrent dashboard sessions"
        )
