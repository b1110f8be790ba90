from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from model.config import AugmentConfig
from model.teacher import SmallCNN, distillation_loss, train_teacher
from model.train import save_run, train
from tests.unit.test_train import _config, _phantom_manifest


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run far slower on two threads when the cores are shared; restore afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_cnn_maps_a_batch_to_logits():
    logits = SmallCNN(num_labels=3)(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()


def test_distillation_loss_matches_a_hand_computed_kl():
    student = torch.zeros(1, 2)  # p = (1/2, 1/2)
    teacher = torch.tensor([[math.log(3.0), 0.0]])  # p = (3/4, 1/4)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert distillation_loss(student, teacher, 1.0).item() == pytest.approx(expected, rel=1e-5)
    assert distillation_loss(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)  # float32 x T^2


def test_distillation_loss_pulls_the_student_towards_the_teacher():
    student = torch.zeros(3, 2, requires_grad=True)
    teacher = torch.tensor([[2.0, -2.0], [-1.0, 1.0], [0.5, 0.0]])
    distillation_loss(student, teacher, 2.0).backward()
    assert torch.equal(torch.sign(-student.grad[:, 0]), torch.sign(teacher[:, 0] - teacher[:, 1]))


def test_teacher_learns_the_phantoms_and_is_returned_in_eval_mode():
    from model.synthetic import phantom_image

    images = [phantom_image(i, (32, 32), tumour=i % 2 == 1) for i in range(24)]
    pixels = torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in images])  # (N, 3, 32, 32)
    labels = torch.tensor([i % 2 for i in range(24)])
    torch.manual_seed(0)
    teacher = train_teacher(
        pixels,
        labels,
        lambda x: (x - 0.5) / 0.5,
        AugmentConfig(strength=0.0),
        15,
        torch.Generator().manual_seed(0),
    )
    assert not teacher.training
    with torch.no_grad():
        accuracy = (teacher((pixels.float() / 255 - 0.5) / 0.5).argmax(-1) == labels).float().mean()
    assert accuracy >= 0.9  # a bright blob is easy for a CNN


def test_distilled_run_records_the_teacher(tmp_path):
    manifest = _phantom_manifest(tmp_path / "data")
    cfg = _config(
        tmp_path / "data", manifest, tmp_path / "model", epochs=2, teacher_epochs=2, distill_alpha=0.7
    )
    result = train(cfg)
    assert set(result.teacher_validation) >= {"validation_loss", "accuracy", "roc_auc"}
    run = json.loads((save_run(cfg, result) / "training_config.json").read_text())
    assert run["teacher_epochs"] == 2
    assert run["teacher_validation"]["accuracy"] == result.teacher_validation["accuracy"]
