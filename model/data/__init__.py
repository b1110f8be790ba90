"""Stage 1, data: decode scans (PNG/JPEG/DICOM), group near duplicates, write the leak-free split and pool
manifests, read tumour masks and case folders, and check that an input looks like the training data.

CLI: ``python -m model.data`` (split manifest, :mod:`model.data.split`), ``python -m model.data.pool``,
``python -m model.data.input_check``.
"""
