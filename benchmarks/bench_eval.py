"""Batch evaluation throughput: ``model.evaluate.run.predict_paths`` vs a Hugging Face pipeline loop.

Both read the same image files from disk. The pipeline is what a reader would write first:
``pipeline("image-classification")`` on the model folder, with the folder's ``preprocessor_config.json`` read
by ``AutoImageProcessor.from_pretrained(dir, backend="pil")`` (``ViTImageProcessor`` wants torchvision, which
the project does not install), called once per image, with SDPA attention (transformers' default).
``predict_paths`` also crops the brain first, so it does more work per image than the pipeline; it decodes
and crops batch k + 1 in a thread while the model runs batch k, and its fp32 forward uses SDPA on the same
weights (int8 stays on eager attention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from transformers import AutoImageProcessor, Pipeline, pipeline

from benchmarks.report import Check, Row
from benchmarks.settings import Settings
from benchmarks.timing import measure
from model.evaluate.run import predict_paths, quantize_int8
from model.loading import Classifier

SECTION = "evaluation"
MIN_SPEEDUP = 1.5
# The issue allows int8 only where its predictions agree with fp32 on at least 99 % of cases.
INT8_MIN_AGREEMENT = 0.99


def make_pipeline(model_dir: Path) -> Pipeline:
    """A transformers image-classification pipeline on the model folder (PIL image processor)."""
    processor = AutoImageProcessor.from_pretrained(str(model_dir), backend="pil")
    return pipeline("image-classification", model=str(model_dir), image_processor=processor, device="cpu")


def pipeline_loop(pipe: Pipeline, paths: list[Path]) -> list[str]:
    """Classify each file with the pipeline, one call per image; returns the top labels."""
    return [pipe(str(p), top_k=1)[0]["label"] for p in paths]


def run_eval(
    classifier: Classifier, model_dir: Path, paths: list[Path], where: str, s: Settings
) -> list[Row]:
    """Images per second of fp32 and int8 ``predict_paths`` and of the pipeline loop on the same files.

    Args:
        classifier: the loaded model. model_dir: its folder (the pipeline loads it itself).
        paths: image files. where: where they come from (for the table). s: run settings.
    """
    n, bs = len(paths), s.eval_batch_size
    int8_classifier, pipe = quantize_int8(classifier), make_pipeline(model_dir)
    for warm in (
        lambda: predict_paths(classifier, paths[:2], bs, progress=False),
        lambda: predict_paths(int8_classifier, paths[:2], bs, progress=False),
        lambda: pipeline_loop(pipe, paths[:2]),
    ):
        warm()
    # One timed pass over all images each (warmup=0: the warm-up on two images was done above).
    fp32 = measure(lambda: predict_paths(classifier, paths, bs, progress=False), 1, 0)
    int8 = measure(lambda: predict_paths(int8_classifier, paths, bs, progress=False), 1, 0)
    loop = measure(lambda: pipeline_loop(pipe, paths), 1, 0)
    fp32_pred, int8_pred = np.argmax(fp32.value, axis=1), np.argmax(int8.value, axis=1)
    same = float(np.mean(fp32_pred == int8_pred))
    pipe_labels = [classifier.labels[i] for i in fp32_pred]
    pipe_same = float(np.mean([a == b for a, b in zip(pipe_labels, loop.value, strict=True)]))
    rate = lambda t: n / t.median_s  # noqa: E731 - images per second
    return [
        Row(
            "eval.pipeline",
            SECTION,
            f"HF pipeline('image-classification') loop, 1 call per image; {where}",
            loop.median_s,
            value=rate(loop),
            unit="images/s",
            note=f"no brain crop (the pipeline cannot); same top label as predict_paths on {pipe_same:.0%}",
        ),
        Row(
            "eval.fp32",
            SECTION,
            f"model.evaluate.run.predict_paths, fp32 (SDPA), batch {bs} "
            "(+ decode, brain crop, in a thread one batch ahead)",
            fp32.median_s,
            value=rate(fp32),
            unit="images/s",
            checks=[Check("× pipeline throughput", rate(fp32) / rate(loop), ">=", MIN_SPEEDUP)],
        ),
        Row(
            "eval.int8",
            SECTION,
            f"predict_paths on quantize_int8 (dynamic int8 Linear, eager attention), batch {bs}",
            int8.median_s,
            value=rate(int8),
            unit="images/s",
            checks=[
                Check("× pipeline throughput", rate(int8) / rate(loop), ">=", MIN_SPEEDUP),
                Check("top-1 agreement with fp32", same, ">=", INT8_MIN_AGREEMENT),
            ],
            note=f"int8 and fp32 predict the same class on {same:.1%} of the {n} images",
        ),
    ]


def expected_ids() -> list[str]:
    """Row ids this section always produces."""
    return ["eval.pipeline", "eval.fp32", "eval.int8"]
