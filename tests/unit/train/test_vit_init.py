from __future__ import annotations

import math

import torch

from model.train.vit_init import QK_IDENTITY, VO_IDENTITY, _factor, mimetic_init
from tests.conftest import TINY_VIT, make_tiny_vit

HEADS, HIDDEN = TINY_VIT["num_attention_heads"], TINY_VIT["hidden_size"]
HEAD_DIM = HIDDEN // HEADS


def _head_products(model, layer: int, h: int) -> tuple[torch.Tensor, torch.Tensor]:
    att = model.vit.layers[layer].attention
    rows = slice(h * HEAD_DIM, (h + 1) * HEAD_DIM)
    qk = att.q_proj.weight[rows].T @ att.k_proj.weight[rows]  # (d, d): scores = x qk x'^T
    vo = att.v_proj.weight[rows].T @ att.o_proj.weight[:, rows].T  # (d, d): output = x vo
    return qk.detach(), vo.detach()


def test_full_rank_factors_reconstruct_the_target_matrix():
    d = 12
    a, b = _factor(d, d, 0.7, -0.4, torch.Generator().manual_seed(3))
    z = torch.randn(d, d, generator=torch.Generator().manual_seed(3)) / math.sqrt(d)
    assert torch.allclose(a.T @ b, 0.7 * z - 0.4 * torch.eye(d), atol=1e-5)


def test_heads_get_identity_like_query_key_and_anti_identity_value_output():
    model = mimetic_init(make_tiny_vit(seed=0), seed=1)
    for layer in range(TINY_VIT["num_hidden_layers"]):
        for h in range(HEADS):
            qk, vo = _head_products(model, layer, h)
            assert torch.linalg.matrix_rank(qk) <= HEAD_DIM
            # The identity part dominates: a rank-k truncation keeps most of trace(0.7 I) = 0.7 d, and of
            # trace(-0.4 I); a default (truncated normal, std 0.02) init gives traces of about 0.01.
            assert torch.trace(qk) > 0.5 * QK_IDENTITY * HIDDEN
            assert torch.trace(vo) < -0.5 * VO_IDENTITY * HIDDEN


def test_only_attention_weights_change_and_the_seed_decides_them():
    before = make_tiny_vit(seed=0).state_dict()
    first = mimetic_init(make_tiny_vit(seed=0), seed=1).state_dict()
    again = mimetic_init(make_tiny_vit(seed=0), seed=1).state_dict()
    other = mimetic_init(make_tiny_vit(seed=0), seed=2).state_dict()
    changed = {k for k in before if not torch.equal(before[k], first[k])}
    assert changed == {
        k for k in before if k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"))
    }
    assert all(torch.equal(first[k], again[k]) for k in first)
    key = "vit.layers.0.attention.q_proj.weight"
    assert not torch.equal(first[key], other[key])
