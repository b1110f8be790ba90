"""The tiny test ViT's config (STYLE.md §3.6), in a module without pytest so that benchmarks can import it.

``tests.conftest.make_tiny_vit`` builds it for the tests; ``benchmarks.subjects`` measures it in a smoke run
(``python -m benchmarks.run --tiny``, from the repo root, which puts ``tests`` on the path).
"""

from __future__ import annotations

# 32 px input, 8 px patches -> a 4x4 grid, 2 layers, 2 heads: ViTConfig overrides of build_classifier("tiny").
TINY_VIT = dict(
    image_size=32,
    patch_size=8,
    num_hidden_layers=2,
    hidden_size=32,
    num_attention_heads=2,
    intermediate_size=64,
)
