"""Image pipeline and the fine-tuning recipe's pieces, against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from pipelines import images as pp
from tfmodels.models.vit.training import ViTLearningRate, classification_loss, make_optimizer


def test_learning_rate_warmup_then_cosine_and_linear():
    lr = ViTLearningRate(total_steps=110, base=0.03, decay_type="cosine", warmup_steps=10)
    # step 5: warmup factor 0.5, progress 0 -> 0.015; step 60: progress 0.5 -> 0.015.
    assert float(lr(0)) == 0.0
    assert float(lr(5)) == pytest.approx(0.015)
    assert float(lr(10)) == pytest.approx(0.03)
    assert float(lr(60)) == pytest.approx(0.03 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert float(lr(110)) == pytest.approx(0.0, abs=1e-9)
    lin = ViTLearningRate(total_steps=110, base=0.03, decay_type="linear", warmup_steps=10)
    assert float(lin(60)) == pytest.approx(1e-5 + (0.03 - 1e-5) * 0.5)
    assert float(lin(500)) == pytest.approx(1e-5)
    opt = make_optimizer(100, 0.1, "cosine", 10)
    assert opt.momentum == 0.9
    with pytest.raises(ValueError, match="decay_type"):
        ViTLearningRate(10, 0.1, "step")


def test_classification_loss_values():
    class Fixed:
        def __call__(self, images, training=False):
            return tf.constant([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])

    loss, metrics = classification_loss(Fixed(), (None, tf.constant([0, 1])), True)
    want = np.mean([-2 + math.log(math.exp(2) + 2), -1 + math.log(1 + math.e + math.exp(3))])
    assert float(loss) == pytest.approx(want, rel=1e-6)
    assert [float(v) for v in metrics["accuracy"]] == [1.0, 2.0]


def test_eval_and_train_preprocessing():
    image = tf.constant(np.arange(8 * 6 * 3).reshape(8, 6, 3) % 256, tf.uint8)
    same = pp.preprocess_for_eval(image, (8, 6)).numpy()
    np.testing.assert_allclose(same, (image.numpy() - 127.5) / 127.5)  # no resampling
    assert pp.preprocess_for_eval(image, (4, 4)).shape == (4, 4, 3)
    out = pp.preprocess_for_train(image, (5, 7), seed=1).numpy()
    assert out.shape == (5, 7, 3) and out.min() >= -1.0 and out.max() <= 1.0
    grey = pp.to_rgb(tf.zeros((4, 4, 1), tf.uint8))
    assert grey.shape == (4, 4, 3)
    with pytest.raises(ValueError, match="pic has 4 channels"):
        pp.to_rgb(tf.zeros((4, 4, 4), tf.uint8), "pic")


def test_directory_dataset_classes_sorted_and_batches(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 10, 12, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    pp.write_class_folders(images, labels, ["cat", "ant", "bee"], str(tmp_path / "test"))
    info = pp.directory_info(str(tmp_path / "test"))
    assert info["class_names"] == ["ant", "bee", "cat"] and info["num_examples"] == 6
    data, info = pp.get_data(str(tmp_path), "test", "test", batch_size=4, image_size=10)
    batches = list(data)
    assert [b[0].shape[0] for b in batches] == [4, 2]  # evaluation keeps the remainder
    got = {int(y) for b in batches for y in b[1]}
    assert got == {0, 1, 2}
    first = batches[0][0].numpy()
    assert first.shape == (4, 10, 10, 3) and -1.0 <= first.min() and first.max() <= 1.0
    train, _ = pp.get_data(str(tmp_path), "test", "train", batch_size=4, image_size=8, seed=0)
    x, y = next(iter(train))
    assert x.shape == (4, 8, 8, 3) and y.dtype == tf.int32
    with pytest.raises(FileNotFoundError, match="not a directory|not prepared|not found"):
        pp.directory_info(str(tmp_path / "nope"))
