"""The Ray engine of the batch jobs (issue #18): Ray Data decodes, an actor pool runs the model.

Pipeline (one per job)::

    from_items(work items) -> map(decode + brain crop; Ray tasks, spread over the nodes)
        -> map_batches(model actor; an ActorPoolStrategy of N actors, each holding one model, on a GPU when
           it has one) -> iter_rows on the driver (progress bar) -> merged in input order -> the local writers

Nothing is written until every result is back: the driver then hands the merged results to the writers the
local engine uses (``model.evaluate.artifacts.write_evaluation``,
``model.explain.summary.write_explanations``),
which replace the files atomically, so a killed job leaves the previous results readable. A dead actor is
restarted and its unfinished batch retried (``max_restarts`` / ``max_task_retries``); a result is kept per
input index, so a retry can neither lose nor duplicate a record. Imported only for ``--engine ray``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import ray
import ray.data
import torch
from numpy.typing import NDArray
from ray.util.annotations import RayDeprecationWarning
from tqdm import tqdm

import model
from model.data.scan import ScanError, load_scan
from model.evaluate.engine import EngineError, RayOptions
from model.evaluate.run import EvaluationInputError, quantize_int8
from model.loading import Classifier, load_classifier, with_sdpa_attention
from model.preprocess import PreprocessConfig, crop_and_resize, normalise

# CPUs of one decoding task. Actors hold their CPUs for the whole job, so a pool that took every CPU would
# starve the decoding and never finish: one CPU in DECODE_SHARE's inverse (at least one) is always left to
# it. Decoding + cropping (20-40 ms a scan) is about a tenth of a one-thread ViT-Base forward pass, so an
# evaluation on many CPU actors is not starved of decoded batches either.
DECODE_CPUS = 1.0
DECODE_SHARE = 0.125
# Memory reserved per decoding task: the largest accepted scan (model.data.scan.MAX_PIXELS, 40 MP) as RGB plus
# its working copies. A reservation also keeps Ray Data from fusing decoding into the model actors, so the
# decoding stays a pool of tasks of its own.
DECODE_MEMORY = 512 * 2**20
# Ray Data blocks of the input list: enough for every node to decode in parallel, few enough to keep the
# per-block overhead small on a job of 100,000 scans.
MAX_BLOCKS = 1000


@contextlib.contextmanager
def ray_session(options: RayOptions, known: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Join ``options.address`` (or an already initialised Ray, e.g. a test's), else start a local Ray.

    A Ray started here is shut down on exit; one that was running already is left alone. When joining a
    remote cluster the ``model`` package is shipped with the job (``runtime_env.py_modules``).

    Args:
        options: cluster settings.
        known: error types the CLI reports in one line: one raised in a task or actor is re-raised as
            itself, without Ray's wrapping (whose message carries the remote traceback).
    """
    started = not ray.is_initialized()
    if started and options.address:
        ray.init(address=options.address, runtime_env={"py_modules": [str(Path(model.__file__).parent)]})
    elif started:
        ray.init(include_dashboard=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the job shows one tqdm bar of its own
    context.raise_original_map_exception = True  # a task's own error, not Ray Data's UserCodeException
    try:
        yield
    except Exception as err:
        cause = first_known_cause(err, (*known, EngineError))
        if cause is None or cause is err:
            raise
        # Ray Data appends its retry advice to the message: the CLI prints our one-line message only.
        cause.args = (str(cause).splitlines()[0],)
        raise cause from None
    finally:
        if started:
            ray.shutdown()


def actor_count(options: RayOptions) -> int:
    """Actors to start: ``options.actors``, else one per GPU (or per ``cpus_per_actor`` CPUs) of the cluster.

    Automatically, one CPU in eight (at least one) is left to the decoding tasks; asked-for actors must
    leave at least one.

    Raises:
        EngineError: the cluster cannot hold even one actor (or the requested ones) with those resources.
    """
    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    spare = max(DECODE_CPUS, DECODE_SHARE * cpus)
    if options.gpus_per_actor > 0 and options.actors is None:
        n = int(gpus // options.gpus_per_actor)
    else:
        n = options.actors or int((cpus - spare) // options.cpus_per_actor)
    if n < 1 or n * options.cpus_per_actor > cpus - DECODE_CPUS or n * options.gpus_per_actor > gpus:
        raise EngineError(
            f"The Ray cluster ({cpus:g} CPUs, {gpus:g} GPUs) cannot hold {max(n, 1)} actor(s) of "
            f"{options.cpus_per_actor:g} CPU / {options.gpus_per_actor:g} GPU and still decode: lower "
            "--actors, --cpus-per-actor or --gpus-per-actor, or add nodes."
        )
    return n


def first_known_cause(err: BaseException, known: tuple[type[BaseException], ...]) -> BaseException | None:
    """The innermost error of a type in ``known`` wrapped in a Ray error (task error, user-code error).

    Follows each error's Ray ``cause`` (else ``__cause__``) chain, stopping at a cycle.

    Args:
        err: the error the driver caught.
        known: error types to look for; Ray's own error types never match.

    Returns:
        The innermost matching error in the chain (``err`` itself when only it matches), or None.
    """
    found, seen, current = None, set(), err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, known) and not isinstance(current, ray.exceptions.RayError):
            found = current
        current = getattr(current, "cause", None) or current.__cause__
    return found


def run_pipeline(
    items: list[dict],
    decode: Callable[[dict], dict],
    decode_kwargs: dict,
    actor: type,
    actor_kwargs: dict,
    options: RayOptions,
    progress: tuple[str, Callable[[dict], int], int] | None,
    rows_per_call: int = 1,
) -> list[dict]:
    """Run ``items`` through decoding tasks and the model actors; the output rows sorted by ``"index"``.

    Args:
        items: work items, each with a unique int ``"index"`` (0..N-1).
        decode: row -> row function run as Ray tasks; ``decode_kwargs`` are its keyword arguments.
        actor: callable class (batch dict -> batch dict keeping ``"index"``); ``actor_kwargs`` build it.
        options: cluster resources and retries.
        progress: (bar label, units of one output row, total units), or None for no bar.
        rows_per_call: decoded rows per actor call.

    Raises:
        EngineError: a record came back twice or never (a retry that went wrong; nothing is written then).
    """
    n = actor_count(options)
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), MAX_BLOCKS)))
    ds = ds.map(decode, fn_kwargs=decode_kwargs, num_cpus=DECODE_CPUS, memory=DECODE_MEMORY)
    with warnings.catch_warnings():
        # Ray 2.60 takes the actors' fault tolerance only as plain remote args, which it flags as deprecated
        # for 2.64 (requirements.txt pins 2.60); without a bound a scan that kills its actor every time
        # would restart it forever.
        warnings.simplefilter("ignore", RayDeprecationWarning)
        ds = ds.map_batches(
            actor,
            fn_constructor_kwargs=actor_kwargs,
            batch_size=rows_per_call,
            compute=ray.data.ActorPoolStrategy(size=n),
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
            max_restarts=options.max_restarts,
            max_task_retries=options.max_restarts,
        )
    label, units, total = progress or ("", lambda _: 0, 0)
    rows = []
    with tqdm(total=total, desc=label, unit="scan", disable=progress is None) as bar:
        for row in ds.iter_rows():
            rows.append(row)
            bar.update(units(row))
    indices = sorted(int(r["index"]) for r in rows)
    if indices != list(range(len(items))):
        raise EngineError(
            f"The Ray job returned records {indices[:10]}... for {len(items)} inputs; rerun it."
        )
    return sorted(rows, key=lambda r: int(r["index"]))


def device_for(gpus: float) -> torch.device:
    """The actor's device: its GPU when Ray gave it one and torch sees CUDA, else the CPU."""
    return (
        torch.device("cuda")
        if gpus > 0 and ray.get_gpu_ids() and torch.cuda.is_available()
        else torch.device("cpu")
    )


def decode_chunk(item: dict, cfg: PreprocessConfig) -> dict:
    """Ray task: decode, check and brain-crop one forward batch of files.

    Args:
        item: ``{"index": batch number, "paths": [...], "sha256": [...] or []}``.
        cfg: the model's preprocessing.

    Returns:
        ``{"index", "pixels": (B, S, S, 3) uint8}`` (normalised in the actor, as ``preprocess`` does).

    Raises:
        ScanError: a file is not a readable scan (named). EvaluationInputError: a hash differs.
    """
    pixels = []
    for k, path in enumerate(item["paths"]):
        try:
            scan = load_scan(path)
        except ScanError as err:
            raise ScanError(f"{path}: {err}") from err
        if len(item["sha256"]) and scan.sha256 != item["sha256"][k]:
            raise EvaluationInputError(
                f"{path} differs from the manifest (sha256 mismatch): use the data the manifest was made "
                "from, or regenerate the manifest."
            )
        pixels.append(crop_and_resize(scan.image, cfg)[0])
    return {"index": item["index"], "pixels": np.stack(pixels)}


class Predictor:
    """Model actor of an evaluation: one classifier (fp32 or int8), logits of one forward batch per call."""

    def __init__(self, model_source: str, fingerprint: str, int8: bool, gpus: float, threads: int) -> None:
        torch.set_num_threads(threads)
        classifier = load_classifier(model_source)
        if classifier.fingerprint != fingerprint:
            raise EngineError(
                f"The model at {model_source} on this node has weights {classifier.fingerprint}, the "
                f"driver's {fingerprint}: give every node the same model folder."
            )
        self.classifier = quantize_int8(classifier) if int8 else classifier
        self.device = device_for(gpus)
        # the local engine's forward pass (SDPA on the same weights), so both give the same logits
        self.model = with_sdpa_attention(self.classifier.model).to(self.device)

    def __call__(self, batch: dict) -> dict:
        """``{"index": (1,), "pixels": (1, B, S, S, 3)}`` -> ``{"index", "logits": (1, B, K) float32}``."""
        logits = []
        with torch.inference_mode():
            for pixels in batch["pixels"]:
                x = normalise(pixels, self.classifier.preprocess).to(self.device)  # (B, 3, S, S)
                logits.append(self.model(pixel_values=x).logits.float().cpu().numpy())  # (B, K)
        return {"index": batch["index"], "logits": logits}


def predict_groups(
    classifier: Classifier,
    model_source: str,
    groups: Sequence[tuple[Sequence[str | Path], Sequence[str] | None]],
    batch_size: int,
    options: RayOptions,
    int8: bool = False,
    progress: bool = True,
    predictor: type = Predictor,
) -> list[NDArray[np.float32]]:
    """Logits of several file lists (e.g. the splits) in one Ray job, batched exactly as the local engine.

    Each group is cut into forward batches of ``batch_size`` from its start, as
    :func:`model.evaluate.run.predict_paths` does, so every image meets the same batch shape and the logits
    are
    the local engine's.

    Args:
        classifier: the driver's model (labels, fingerprint and preprocessing are taken from it).
        model_source: its folder (visible on every node) or hub id, from which each actor loads it.
        groups: (paths, expected sha256 or None) per group.
        batch_size: images per forward pass. options: cluster settings.
        int8: dynamic int8 quantization in each actor. progress: show a bar.
        predictor: the actor class (a subclass may add behaviour, e.g. a test's crash).

    Returns:
        One (N_g, K) float32 array per group.
    """
    items, spans = [], []
    for paths, hashes in groups:
        first = len(items)
        for start in range(0, len(paths), batch_size):
            chunk = [str(p) for p in paths[start : start + batch_size]]
            expected = list(hashes[start : start + batch_size]) if hashes is not None else []
            items.append({"index": len(items), "paths": chunk, "sha256": expected})
        spans.append((first, len(items)))
    kwargs = dict(
        model_source=str(model_source),
        fingerprint=classifier.fingerprint,
        int8=int8,
        gpus=options.gpus_per_actor,
        threads=max(1, int(options.cpus_per_actor)),
    )
    bar = (
        ("inference (ray)", lambda r: len(r["logits"]), sum(len(p) for p, _ in groups)) if progress else None
    )
    decode_kwargs = {"cfg": classifier.preprocess}
    rows = run_pipeline(items, decode_chunk, decode_kwargs, predictor, kwargs, options, bar) if items else []
    empty = np.zeros((0, len(classifier.labels)), np.float32)
    return [
        np.concatenate([empty, *(np.asarray(r["logits"], np.float32) for r in rows[a:b])]) for a, b in spans
    ]
