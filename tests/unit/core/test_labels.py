"""model.labels: the positive class is found by one rule, and a model without it is refused, not guessed."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from model.errors import MriExplainError
from model.inference import predict_tensor
from model.labels import LABELS, LabelMismatchError, class_index, positive_index
from model.loading import load_classifier, save_classifier
from model.preprocess import PreprocessConfig
from tests.conftest import make_tiny_vit

OTHER_LABELS = ("glioma", "meningioma", "pituitary")  # a hub model's classes: none is called "tumor"


def test_the_positive_class_is_found_wherever_it_is():
    assert positive_index(LABELS) == 1
    assert positive_index(["tumor", "no tumor"]) == 0
    assert class_index(OTHER_LABELS, "pituitary") == 2


@pytest.mark.parametrize("labels", [OTHER_LABELS, ("healthy", "sick")])
def test_a_model_without_the_positive_class_is_refused_with_the_fix(labels):
    with pytest.raises(LabelMismatchError) as err:
        positive_index(labels)
    assert isinstance(err.value, MriExplainError) and isinstance(err.value, ValueError)
    assert str(list(labels)) in str(err.value) and "'tumor'" in str(err.value)
    assert err.value.fix and str(err.value).endswith(err.value.fix)


def test_inference_refuses_instead_of_answering_for_the_last_class(tmp_path):
    save_classifier(make_tiny_vit(labels=OTHER_LABELS), PreprocessConfig(image_size=32), tmp_path, {})
    classifier = load_classifier(tmp_path)
    with pytest.raises(LabelMismatchError, match="no class 'tumor'"):
        predict_tensor(classifier, torch.zeros(3, 32, 32), tta=False)
    renamed = dataclasses.replace(classifier, labels=("no tumor", "x", "tumor"))
    assert predict_tensor(renamed, torch.zeros(3, 32, 32), tta=False).positive_index == 2
