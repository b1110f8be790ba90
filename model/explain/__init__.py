"""Explanation engine: one registry of methods, one result type, and scores of how much to trust a map.

- :mod:`model.explain.heatmap`: :class:`Heatmap` and the display convention (share of relevance).
- :mod:`model.explain.registry`: ``EXPLAINERS`` and :func:`safe_explain`.
- One module per method: ``rollout``, ``gradient_rollout``, ``gradcam``, ``integrated_gradients``,
  ``gradient_shap``, ``smoothgrad``, ``occlusion``.
- :mod:`model.explain.quality` (faithfulness, localisation) and :mod:`model.explain.sanity` (randomisation).
"""
