"""Explanation engine: one registry of methods, one result type, and scores of how much to trust a map.

- :mod:`model.explain.heatmap`: :class:`~model.explain.heatmap.Heatmap` and the display convention
  (nonnegative share of relevance summing to 1; show ``relative()`` = "x uniform" on one colour scale).
- :mod:`model.explain.registry`: ``EXPLAINERS`` (feeds the dashboard) and ``safe_explain``.
- One module per method, each ``explain(model, pixel_values, target, **params) -> Heatmap`` and its own
  ``EXPLAINER`` entry (:class:`~model.explain.explainer.Explainer`):
  ``rollout``, ``gradient_rollout``, ``gradcam``, ``integrated_gradients``, ``gradient_shap``, ``smoothgrad``,
  ``occlusion``
  (shared pieces: ``explainer`` (entry type, closing step), ``state`` (shared-model safety), ``baselines``,
  ``captum_common``).
- :mod:`model.explain.quality` (deletion/insertion, pointing game, mask share), :mod:`model.explain.sanity`
  (model-parameter randomisation) and :mod:`model.explain.summary` (the saved batch summary).
"""
