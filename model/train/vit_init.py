"""Mimetic initialisation of ViT self-attention for training from scratch on small data.

Trockman & Kolter, "Mimetic Initialization of Self-Attention Layers", ICML 2023: pretrained ViTs have
``W_q W_k^T`` close to a positive multiple of the identity plus noise (tokens attend to similar tokens) and
``W_v W_o`` close to a negative multiple of the identity. Initialising each head that way, instead of with
independent random matrices, makes small-data training from scratch faster and better. Only the
initial values change; the model is a plain ``ViTForImageClassification``.
"""

from __future__ import annotations

import math

import torch
from transformers import ViTForImageClassification

# The paper's values for ViT-Tiny: W_q W_k^T ~ 0.7 Z + 0.7 I, W_v W_o ~ 0.4 Z - 0.4 I (Z ~ N(0, 1/d)).
QK_NOISE, QK_IDENTITY = 0.7, 0.7
VO_NOISE, VO_IDENTITY = 0.4, 0.4


def _factor(
    d: int, k: int, noise: float, identity: float, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (k, d) factors a, b with ``a.T @ b`` the best rank-k approximation of noise*Z + identity*I."""
    z = torch.randn(d, d, generator=g) / math.sqrt(d)
    u, s, vh = torch.linalg.svd(noise * z + identity * torch.eye(d))
    root = s[:k].sqrt()
    return root[:, None] * u[:, :k].T, root[:, None] * vh[:k]  # (k, d), (k, d)


@torch.no_grad()
def mimetic_init(model: ViTForImageClassification, seed: int) -> ViTForImageClassification:
    """Re-initialise every attention layer's query/key and value/output weights per head (in place).

    Args:
        model: a ViT with ``vit.layers[i].attention.{q,k,v,o}_proj`` linear layers.
        seed: seeds the random parts.

    Returns:
        The same model. For each head h (rows ``h*k:(h+1)*k`` of q/k/v, columns of o), ``W_q^h.T @ W_k^h``
        approximates ``0.7 Z + 0.7 I`` and ``W_v^h.T @ W_o^h.T`` approximates ``0.4 Z - 0.4 I``.
    """
    g = torch.Generator().manual_seed(seed)
    for layer in model.vit.layers:
        att = layer.attention
        d = att.q_proj.weight.shape[1]
        k = d // att.num_attention_heads
        for h in range(att.num_attention_heads):
            rows = slice(h * k, (h + 1) * k)
            q, key = _factor(d, k, QK_NOISE, QK_IDENTITY, g)
            att.q_proj.weight[rows], att.k_proj.weight[rows] = q, key
            v, o = _factor(d, k, VO_NOISE, -VO_IDENTITY, g)
            att.v_proj.weight[rows], att.o_proj.weight[:, rows] = v, o.T
    return model
