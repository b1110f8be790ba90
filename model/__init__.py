"""mri-explain core, no Streamlit here. The stages, in the order the data flows:

- :mod:`model.data`: scans, duplicate groups, split and pool manifests, masks, input checks.
- :mod:`model.train`: configs, augmentation, training and fine-tuning, pretrained-weight import.
- :mod:`model.evaluate`: saved evaluations, metrics, calibration, comparison, the model card.
- :mod:`model.explain`: one module per explanation method, their quality and sanity scores, batch jobs.
- :mod:`model.report`: one scan's case report (PDF and text).
- :mod:`model.figures`: every figure (pages and report), matplotlib's object-oriented API only.

Shared by every stage: :mod:`model.labels`, :mod:`model.loading` (the model folder), :mod:`model.preprocess`,
:mod:`model.inference`, :mod:`model.certainty`, :mod:`model.overlay`, :mod:`model.notice`.
"""
