from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from model.train.config import AugmentConfig
from model.train.run import save_run, train
from model.train.teacher import (
    TEACHER_BATCH,
    SmallCNN,
    distillation_loss,
    recalibrate_batchnorm,
    train_teacher,
)
from tests.unit.train.test_train import _config, _phantom_manifest


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


def _phantom_pixels(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    from model.data.synthetic import phantom_image

    images = [phantom_image(i, (32, 32), tumour=i % 2 == 1) for i in range(n)]
    pixels = torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in images])  # (N, 3, 32, 32)
    return pixels, torch.tensor([i % 2 for i in range(n)])


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5) / 0.5


def test_teacher_training_is_seeded_and_returns_an_eval_mode_model():
    # What the teacher learns depends on the CPU's rounding, so only what holds on any CPU is checked here.
    pixels, labels = _phantom_pixels(24)

    def teacher(seed: int) -> SmallCNN:
        torch.manual_seed(seed)
        return train_teacher(
            pixels, labels, _normalise, AugmentConfig(strength=0.0), 2, torch.Generator().manual_seed(seed)
        )

    first, again, other = teacher(0), teacher(0), teacher(1)
    assert not first.training
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first.head[-1].weight, other.head[-1].weight)
    with torch.no_grad():
        logits = first(_normalise(pixels.float() / 255))
    assert logits.shape == (24, 2) and torch.isfinite(logits).all()


def test_batchnorm_is_recalibrated_to_the_mean_over_the_training_scans():
    pixels, _ = _phantom_pixels(2 * TEACHER_BATCH)  # whole batches: the average of batch means is the mean
    torch.manual_seed(0)
    model = SmallCNN()
    recalibrate_batchnorm(model, pixels, _normalise)
    assert not model.training
    with torch.no_grad():
        conv_out = model.features[0](_normalise(pixels.float() / 255))  # (N, 16, 32, 32) into the first BN
    torch.testing.assert_close(model.features[1].running_mean, conv_out.mean(dim=(0, 2, 3)))


def test_distilled_run_records_the_teacher(tmp_path):
    manifest = _phantom_manifest(tmp_path / "data")
    cfg = _config(
        tmp_path / "data", manifest, tmp_path / "model", epochs=2, teacher_epochs=2, distill_alpha=0.7
    )
    result = train(cfg)
    assert set(result.teacher_validation) >= {"validation_loss", "accuracy", "roc_auc"}
    record = json.loads((save_run(cfg, result) / "training_config.json").read_text())
    assert record["config"]["teacher_epochs"] == 2
    assert record["outcome"]["teacher_validation"]["accuracy"] == result.teacher_validation["accuracy"]
