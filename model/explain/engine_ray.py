"""Explanation batch jobs on Ray (issue #18): cases decoded by Ray tasks, explained by model actors.

Each actor holds the classifier and its randomised copies (for the sanity check) and runs
:func:`model.explain.batch.explain_loaded` on the cases it is handed, exactly as the local engine does; the
driver merges the per-case results in case order, so ``cases.csv``, the curves and the maps are assembled as
by the local loop. Explanations run on the actors' CPUs: the explainers draw their seeded noise from CPU
generators and the quality curves build their masks on the CPU, so they are not yet device-aware.
Imported only for ``--engine ray``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from model.data.masks import MaskError, MaskIndex
from model.data.scan import ScanError
from model.evaluate.engine import EngineError, RayOptions
from model.evaluate.engine_ray import ray_session, run_pipeline
from model.explain import sanity
from model.explain.batch import BatchInputError, ExplainConfig, Run, explain_loaded, load_case
from model.loading import load_classifier
from model.preprocess import Geometry, PreprocessConfig

CASE_KEYS = ("path", "sha256", "group", "label")
NO_MASK = np.zeros((0, 0), bool)  # Arrow columns hold arrays, not None


def decode_case(item: dict, data: str, cfg: PreprocessConfig, masks: MaskIndex | None) -> dict:
    """Ray task: :func:`model.explain.batch.load_case` on one case, as plain arrays.

    Args:
        item: one case row with the keys of :data:`CASE_KEYS` (``path`` relative to ``data``).
        data: the data folder the case paths are relative to.
        cfg: the classifier's preprocessing.
        masks: tumour masks by case, or None when the job has none.

    Returns:
        The case's keys plus ``x`` (3, S, S) float32, ``geom`` (8,) int64 (original size, crop box, input
        size) and ``mask`` (H, W) bool, or (0, 0) when the case has none.

    Raises:
        BatchInputError: the file differs from the evaluated one (raised by ``load_case``).
        ScanError: the file cannot be decoded.
    """
    x, geom, mask = load_case(Path(data), item, cfg, masks)
    flat = np.array([*geom.original_size, *geom.crop_box, *geom.input_size], np.int64)
    return {**item, "x": x[0].numpy(), "geom": flat, "mask": NO_MASK if mask is None else mask}


def _geometry(flat: np.ndarray) -> Geometry:
    v = [int(a) for a in flat]
    return Geometry((v[0], v[1]), (v[2], v[3], v[4], v[5]), (v[6], v[7]))


class CaseExplainer:
    """Model actor of an explanation job: the classifier, its randomised copies, every method per case."""

    def __init__(
        self, args: ExplainConfig, methods: dict, sanity_indices: frozenset[int], fingerprint: str
    ) -> None:
        torch.set_num_threads(max(1, int(args.engine.cpus_per_actor)))
        classifier = load_classifier(args.model)
        if classifier.fingerprint != fingerprint:
            raise EngineError(
                f"The model at {args.model} on this node has weights {classifier.fingerprint}, the driver's "
                f"{fingerprint}: give every node the same model folder."
            )
        copies = sanity.randomised_models(classifier.model, seed=args.seed) if args.sanity_cases > 0 else []
        self.run = Run(classifier, pd.DataFrame(), methods, None, copies, sanity_indices, args)

    def __call__(self, batch: dict) -> dict:
        """Decoded cases -> ``{"index", "result": pickled (cases.csv rows, store)}``, one per case.

        The results are nested dicts of floats, curves and maps: pickled, as Ray itself would, since Arrow
        cannot type them.
        """
        results = []
        for k, index in enumerate(batch["index"]):
            row = pd.Series({key: batch[key][k] for key in CASE_KEYS})
            x = torch.from_numpy(np.array(batch["x"][k], np.float32))[None]  # (1, 3, S, S)
            mask = batch["mask"][k] if np.asarray(batch["mask"][k]).size else None
            store: dict = {"maps": {}, "curves": {}}
            rows = explain_loaded(self.run, int(index), row, x, _geometry(batch["geom"][k]), mask, store)
            results.append(pickle.dumps((rows, store)))
        return {"index": batch["index"], "result": results}


def merge(results: list[tuple[list[dict], dict]]) -> tuple[list[dict], dict]:
    """Per-case (rows, store) pairs, in case order, into the rows and store of the local loop."""
    rows: list[dict] = []
    store: dict = {"maps": {}, "curves": {}}
    for case_rows, case_store in results:
        rows.extend(case_rows)
        for name, curves in case_store["curves"].items():
            store["curves"].setdefault(name, []).extend(curves)
        store["maps"].update(case_store["maps"])
        store["fractions"] = case_store["fractions"]
    return rows, store


def explain_cases_ray(
    run: Run, options: RayOptions, explainer: type = CaseExplainer
) -> tuple[list[dict], dict]:
    """The Ray engine of :func:`model.explain.batch.explain_cases`: the same rows and store.

    Args:
        run: the prepared job (its cases, methods, masks and arguments).
        options: cluster settings (explanations need CPU actors: ``gpus_per_actor`` must be 0).
        explainer: the actor class (a subclass may add behaviour, e.g. a test's crash).

    Raises:
        EngineError: GPUs were asked for, or the cluster cannot hold the actors.
    """
    if options.gpus_per_actor > 0:
        raise EngineError(
            "Explanations run on CPU actors (the explainers are not device-aware): drop --gpus-per-actor."
        )
    args = run.args
    items = [
        {"index": i, **{k: row[k] for k in CASE_KEYS}} for i, (_, row) in enumerate(run.cases.iterrows())
    ]
    decode_kwargs = {"data": str(args.data), "cfg": run.classifier.preprocess, "masks": run.masks}
    actor_kwargs = {
        "args": args,
        "methods": run.methods,
        "sanity_indices": run.sanity_indices,
        "fingerprint": run.classifier.fingerprint,
    }
    bar = (f"explaining {args.split} (ray)", lambda _: 1, len(items))
    with ray_session(options, known=(BatchInputError, ScanError, MaskError, FileNotFoundError)):
        rows = run_pipeline(
            items, decode_case, decode_kwargs, explainer, actor_kwargs, options, bar, args.batch_size
        )
    return merge([pickle.loads(r["result"]) for r in rows])
