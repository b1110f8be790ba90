"""Learn: a walk-through, in order, of how a Vision Transformer reads a scan and how each method explains it.

image -> patches and the CLS token -> attention per head -> rollout layer by layer -> gradients ->
perturbation, all on a generated phantom (never a real scan), then every method in brief and a button to
try the same on a real scan. The steps are data in ``model.explain.lesson``, the sections
``dashboard.learn_view``.
"""

from __future__ import annotations

from dashboard import layout, learn_view

layout.page_header(
    "Learn",
    "How a Vision Transformer 'looks' at a scan and how the explanation methods work, step by step, on a "
    "generated phantom. The phantom has no disease: it only shows what each method does.",
)
classifier = layout.require_classifier()
ls = learn_view.prepare(classifier)
learn_view.show_image_and_patches(ls)
learn_view.show_attention_and_rollout(ls)
target = learn_view.show_gradients(ls)
learn_view.show_perturbation(ls, target)
learn_view.show_method_reference(ls, target)
learn_view.show_try_real_scan()
