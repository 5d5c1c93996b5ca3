"""The trainer under 2 replicas (2 logical CPU devices, MirroredStrategy) against 1
replica and against hand computations: eval metrics (every key of BERT's
eval_results.txt), and how per-replica gradients combine.

The logical devices can only be set before TensorFlow initialises its runtime; when
another test already did that in this process, the file reruns itself in a subprocess
and each test checks its own outcome there.
"""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.helpers import linear_model, mse_loss_fn
from tfmodels import training

CHILD = "TFMODELS_TWO_REPLICA_CHILD"


def _two_cpus():
    try:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    except RuntimeError:
        pass  # already initialised
    return len(tf.config.list_logical_devices("CPU")) >= 2


IN_PROCESS = _two_cpus()


@pytest.fixture(scope="module")
def child_outcomes():
    """Outcomes of this file's tests run in a fresh process (only when needed)."""
    if IN_PROCESS:
        return None
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", os.path.abspath(__file__), "-q", "-rA",
         "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, **{CHILD: "1", "CUDA_VISIBLE_DEVICES": ""}))
    outcomes = dict((name, status) for status, name in
                    re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", proc.stdout, re.M))
    return outcomes, proc.stdout[-4000:]


def two_replicas(test):
    """Runs ``test`` here when 2 CPU devices exist, else checks its outcome in the child."""
    def wrapper(child_outcomes, *args, **kwargs):
        if IN_PROCESS:
            return test(*args, **kwargs)
        outcomes, log = child_outcomes
        assert outcomes.get(test.__name__) == "PASSED", log
    wrapper.__name__ = test.__name__
    wrapper.__doc__ = test.__doc__
    return wrapper


def _strategies():
    return (tf.distribute.OneDeviceStrategy("/cpu:0"),
            tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))


TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            max_position_embeddings=32, type_vocab_size=2)


def _pretraining_batches(n_batches=3, b=8, t=16, p=4, vocab=120, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        weights = np.zeros((b, p), np.float32)
        for i in range(b):  # the first half of each batch has far fewer masked tokens
            weights[i, : 1 if i < b // 2 else p] = 1.0
        positions = np.stack([rng.choice(np.arange(1, t), p, replace=False) for _ in range(b)])
        out.append({
            "input_ids": rng.integers(5, vocab, size=(b, t)).astype(np.int32),
            "input_mask": np.ones((b, t), np.int32),
            "segment_ids": (np.arange(t)[None, :] >= t // 2).repeat(b, 0).astype(np.int32),
            "masked_lm_positions": positions.astype(np.int32),
            "masked_lm_ids": rng.integers(5, vocab, size=(b, p)).astype(np.int32),
            "masked_lm_weights": weights,
            "next_sentence_labels": rng.integers(0, 2, size=(b, 1)).astype(np.int32),
        })
    return out


@two_replicas
def test_bert_eval_results_agree_under_two_replicas():
    from tfmodels.models.bert import BertConfig
    from tfmodels.models.bert.pretraining import (
        BertPretrainer,
        eval_batch_loss,
        pretraining_loss_fn,
        pretraining_losses,
    )

    batches = _pretraining_batches()
    results, weights = [], None
    for strategy in _strategies():
        with strategy.scope():
            keras.utils.set_random_seed(3)
            model = BertPretrainer(BertConfig(**TINY))
            model.build()
            if weights is None:
                weights = model.get_weights()
            model.set_weights(weights)
            optimizer = keras.optimizers.SGD(0.0)
        trainer = training.Trainer(model, optimizer, pretraining_loss_fn, strategy=strategy,
                                   global_batch_size=8, eval_batch_metrics=eval_batch_loss,
                                   print_fn=lambda *a: None)
        data = tf.data.Dataset.from_tensor_slices(
            {k: np.stack([b[k] for b in batches]) for k in batches[0]})
        results.append(trainer.evaluate(data, steps=10))
    one, two = results
    assert sorted(one) == sorted(two) == ["global_step", "loss", "masked_lm_accuracy",
                                          "masked_lm_loss", "next_sentence_accuracy",
                                          "next_sentence_loss"]
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
    # The Estimator's loss: mean over batches of each whole batch's model_fn loss.
    expected = np.mean([float(pretraining_losses(model(b), b)["loss"]) for b in batches])
    assert one["loss"] == pytest.approx(expected, rel=1e-5)


def _per_replica_grads(w, b, x, y):
    """Gradient of each half-batch's mean squared error (replica r gets half r)."""
    out = []
    for xs, ys in ((x[:4], y[:4]), (x[4:], y[4:])):
        err = xs @ w + b - ys
        out.append((2 * xs.T @ err / len(ys), np.array([2 * err.mean()])))
    return out


def _clip(gs, norm):
    total = np.sqrt(sum(float((g ** 2).sum()) for g in gs))
    return [g * norm / max(total, norm) for g in gs]


def _one_step(strategy, optimizer_fn, x, y, **kwargs):
    with strategy.scope():
        model = linear_model(seed=5)
        optimizer = optimizer_fn()
    trainer = training.Trainer(model, optimizer, mse_loss_fn, strategy=strategy,
                               global_batch_size=8, print_fn=lambda *a: None, **kwargs)
    start = [v.copy() for v in model.get_weights()]
    trainer.train(tf.data.Dataset.from_tensors((x, y)).repeat(), 1)
    return start, model.get_weights()


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    x[:4] *= 6.0  # replica 0's gradient is large (clipped), replica 1's small
    y = rng.normal(size=(8,)).astype(np.float32)
    return x, y


@two_replicas
def test_bert_optimizer_sums_per_replica_clipped_gradients():
    """The original TPU path: each shard clips its own gradient (clip_by_global_norm 1.0),
    CrossShardOptimizer sums them (cross_replica_sum), AdamWeightDecay applies the sum."""
    from tfmodels.optimization import AdamWeightDecay

    x, y = _data()
    lr, wd, b1, b2, eps = 0.1, 0.01, 0.9, 0.999, 1.0  # eps=1: the update scales with g

    def opt():
        return AdamWeightDecay(lr, weight_decay_rate=wd, beta_1=b1, beta_2=b2, epsilon=eps,
                               exclude_from_weight_decay=["bias"], clip_norm=1.0)

    start, after = _one_step(_strategies()[1], opt, x, y, gradient_reduction="sum")
    w, b = start[0][:, 0], start[1][0]
    clipped = [_clip(list(g), 1.0) for g in _per_replica_grads(w, b, x, y)]
    assert np.sqrt((clipped[0][0] ** 2).sum() + clipped[0][1] ** 2) < 1.0 + 1e-6
    g = [clipped[0][i] + clipped[1][i] for i in range(2)]
    expected = []
    for value, grad, decayed in ((w, g[0], True), (np.array([b]), g[1], False)):
        m, v = (1 - b1) * grad, (1 - b2) * grad ** 2
        update = m / (np.sqrt(v) + eps) + (wd * value if decayed else 0.0)
        expected.append(value - lr * update)
    np.testing.assert_allclose(after[0][:, 0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after[1], expected[1], rtol=1e-5, atol=1e-6)


@two_replicas
def test_mean_reduction_and_clip_after_reduction():
    x, y = _data()
    one_dev, two_dev = _strategies()
    # mean reduction: 2 replicas give the gradient of the whole batch (= 1 replica)
    ref = _one_step(one_dev, lambda: keras.optimizers.SGD(0.1), x, y)[1]
    got = _one_step(two_dev, lambda: keras.optimizers.SGD(0.1), x, y)[1]
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Trainer(clip_norm): the reduced (mean) gradient is clipped, not each replica's
    start, after = _one_step(two_dev, lambda: keras.optimizers.SGD(0.1), x, y, clip_norm=0.5)
    w, b = start[0][:, 0], start[1][0]
    per = _per_replica_grads(w, b, x, y)
    g = _clip([(per[0][0] + per[1][0]) / 2, (per[0][1] + per[1][1]) / 2], 0.5)
    np.testing.assert_allclose(after[0][:, 0], w - 0.1 * g[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after[1], b - 0.1 * g[1], rtol=1e-5, atol=1e-6)


@two_replicas
def test_accumulation_under_two_replicas_equals_one_replica():
    x, y = _data()
    one_dev, two_dev = _strategies()
    ref = _one_step(one_dev, lambda: keras.optimizers.SGD(0.1), x, y)[1]
    got = _one_step(two_dev, lambda: keras.optimizers.SGD(0.1), x, y,
                    gradient_accumulation_steps=2)[1]
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="per-replica batch size 4"):
        training.Trainer(linear_model(), keras.optimizers.SGD(0.1), mse_loss_fn,
                         strategy=two_dev, global_batch_size=8, gradient_accumulation_steps=3)
