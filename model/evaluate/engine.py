"""Which engine runs a batch job: ``local`` (this process) or ``ray`` (a Ray cluster, issue #18).

This module only parses and validates the options; it never imports ``ray``, so the dashboard and the local
engine start exactly as before. The Ray engine itself lives in :mod:`model.evaluate.engine_ray` (evaluation)
and
:mod:`model.explain.engine_ray` (explanations), imported only when ``--engine ray`` is chosen.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

from model.errors import MriExplainError

ENGINES = ("local", "ray")
DEFAULT_MAX_RESTARTS = 3


class EngineError(MriExplainError, ValueError):
    """The engine options cannot work as given (or Ray is missing); the message names the fix."""


@dataclass(frozen=True)
class RayOptions:
    """How a job uses a Ray cluster.

    Attributes:
        address: a running cluster (``auto``, ``HOST:6379`` or ``ray://HOST:10001``); None starts a local
            one for the job (or joins ``$RAY_ADDRESS`` when that is set, as ``ray.init`` does).
        actors: model actors (each holds one model); None fills the cluster, leaving one CPU for decoding.
        cpus_per_actor: CPUs reserved per actor (also its torch thread count).
        gpus_per_actor: GPUs per actor (0: CPU only; fractions share a GPU between actors).
        max_restarts: times a dead actor is restarted, its unfinished batch retried (Ray's ``max_restarts``
            and ``max_task_retries``). A decoding task whose worker died is retried by Ray (3 times).
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    max_restarts: int = DEFAULT_MAX_RESTARTS

    def __post_init__(self) -> None:
        if self.actors is not None and self.actors < 1:
            raise EngineError(f"--actors must be >= 1, got {self.actors}.")
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise EngineError("--cpus-per-actor must be > 0 and --gpus-per-actor >= 0.")
        if self.max_restarts < 0:
            raise EngineError(f"--max-restarts must be >= 0, got {self.max_restarts}.")


ENGINE_GROUP = ("engine", "where the job runs (see README, 'Running on a cluster')")


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """``--engine`` and the Ray options of a batch CLI (listed under their own help heading).

    Attributes:
        kind: ``local`` (this process) or ``ray`` (a Ray cluster).
        address, actors, cpus_per_actor, gpus_per_actor, max_restarts: as in :class:`RayOptions`.

    Raises:
        EngineError: an option is out of range, or Ray options were given with ``--engine local``.
    """

    kind: Literal["local", "ray"] = field(
        default="local",
        metadata={"flag": "--engine", "help": "local (default) or ray", "group": ENGINE_GROUP},
    )
    address: str | None = field(
        default=None,
        metadata={"help": "Ray cluster address (default: start a local one)", "group": ENGINE_GROUP},
    )
    actors: int | None = field(
        default=None, metadata={"help": "model actors (default: fill the cluster)", "group": ENGINE_GROUP}
    )
    cpus_per_actor: float = field(
        default=1.0, metadata={"help": "CPUs per model actor (default 1)", "group": ENGINE_GROUP}
    )
    gpus_per_actor: float = field(
        default=0.0, metadata={"help": "GPUs per model actor (default 0)", "group": ENGINE_GROUP}
    )
    max_restarts: int = field(
        default=DEFAULT_MAX_RESTARTS,
        metadata={
            "help": f"restarts of a dead actor, its batch retried (default {DEFAULT_MAX_RESTARTS})",
            "group": ENGINE_GROUP,
        },
    )

    def __post_init__(self) -> None:
        ray_options(self)


def ray_options(engine: EngineConfig) -> RayOptions:
    """The :class:`RayOptions` of an engine config (validated).

    Args:
        engine: the parsed engine options.

    Returns:
        The Ray settings (ignored by the local engine).

    Raises:
        EngineError: an option is out of range, or Ray options were given with ``--engine local``.
    """
    options = RayOptions(
        engine.address, engine.actors, engine.cpus_per_actor, engine.gpus_per_actor, engine.max_restarts
    )
    if engine.kind == "local" and options != RayOptions(max_restarts=options.max_restarts):
        raise EngineError("--address/--actors/--cpus-per-actor/--gpus-per-actor need --engine ray.")
    return options


def load_ray_engine(module: str = "model.evaluate.engine_ray") -> ModuleType:
    """Import a Ray engine module (``model.evaluate.engine_ray``, ``model.explain.engine_ray``) on first use.

    Raises:
        EngineError: Ray is not installed (the message says how to install the pinned version).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != "ray" and not str(err.name).startswith("ray."):
            raise
        raise EngineError(
            "--engine ray needs Ray: python3 -m pip install -r requirements.txt (pins ray[data])."
        ) from err
