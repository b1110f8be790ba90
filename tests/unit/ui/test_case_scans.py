"""dashboard.audit_view: one way to read a saved case, and no map of a class the model does not have."""

from __future__ import annotations

import hashlib

import pytest

from dashboard import audit_view, resources
from model.data.synthetic import phantom_image
from model.labels import LabelMismatchError
from model.loading import save_classifier
from model.preprocess import PreprocessConfig
from tests.conftest import make_tiny_vit


def test_a_case_inside_the_data_folder_is_read_and_decoded(tmp_path):
    (tmp_path / "yes").mkdir()
    phantom_image(0).save(tmp_path / "yes" / "Y1.png")
    sha, data, scan = audit_view.case_scan(tmp_path, "yes/Y1.png")
    assert sha == hashlib.sha256((tmp_path / "yes" / "Y1.png").read_bytes()).hexdigest()
    assert scan.image.size == phantom_image(0).size and len(data) > 0


@pytest.mark.parametrize("case", ["../outside.png", "yes/missing.png", "/etc/passwd"])
def test_a_case_outside_the_folder_or_missing_gets_the_one_sentence(tmp_path, case):
    (tmp_path / "outside.png").write_bytes(b"x")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    answer = audit_view.case_scan(data_dir, case)
    assert isinstance(answer, str) and "not a readable file inside the data folder" in answer


def test_a_file_that_is_not_a_scan_says_so(tmp_path):
    (tmp_path / "notes.png").write_bytes(b"not an image")
    answer = audit_view.case_scan(tmp_path, "notes.png")
    assert isinstance(answer, str) and answer.startswith("notes.png cannot be read: ")


def test_a_class_the_model_lacks_is_reported_not_replaced_by_class_0(tiny_classifier):
    assert audit_view.class_target(tiny_classifier, "tumor") == 1
    answer = audit_view.class_target(tiny_classifier, "glioma")
    assert isinstance(answer, str) and answer.startswith("No map:") and "glioma" in answer


def test_the_dashboard_refuses_a_model_without_a_tumour_class(tmp_path):
    hub_like = make_tiny_vit(labels=("glioma", "meningioma"))
    save_classifier(hub_like, PreprocessConfig(image_size=32), tmp_path, {})
    with pytest.raises(LabelMismatchError, match="no class 'tumor'"):
        resources.load_classifier_cached(str(tmp_path))
