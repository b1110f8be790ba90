"""Stage 3, evaluate: per-split records and metrics with grouped-bootstrap intervals, calibration, THE saved
evaluation format (:mod:`model.evaluate.artifacts`), model comparison, cohorts, engines and the model card.

CLI: ``python -m model.evaluate`` (:mod:`model.evaluate.run`), ``python -m model.evaluate.compare``,
``python -m model.evaluate.card``.
"""
