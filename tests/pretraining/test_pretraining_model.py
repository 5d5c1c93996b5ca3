"""Pre-training losses/metrics vs numpy, checkpoints, and a short training run."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.bert import BertConfig
from tfmodels.models.bert.pretraining import (
    BertPretrainer,
    TrainingCheckpoint,
    pretraining_losses,
    pretraining_metrics,
    ratios,
)
from tfmodels.optimization import create_optimizer

TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            max_position_embeddings=32, type_vocab_size=2)


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_losses_and_metrics_match_numpy():
    rng = np.random.default_rng(0)
    b, p, v = 3, 4, 11
    mlm_lp = log_softmax(rng.normal(size=(b * p, v))).astype(np.float32)
    ns_lp = log_softmax(rng.normal(size=(b, 2))).astype(np.float32)
    ids = rng.integers(0, v, size=(b, p))
    ids[0, 0] = mlm_lp[0].argmax()  # at least one correct prediction
    weights = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], np.float32)
    ns_labels = np.array([[0], [1], [1]])
    features = {"masked_lm_ids": ids, "masked_lm_weights": weights,
                "next_sentence_labels": ns_labels}
    outputs = {"masked_lm_log_probs": mlm_lp, "next_sentence_log_probs": ns_lp}
    losses = pretraining_losses(outputs, features)
    nll = -mlm_lp[np.arange(b * p), ids.reshape(-1)]
    w = weights.reshape(-1)
    mlm = (w * nll).sum() / (w.sum() + 1e-5)
    ns = (-ns_lp[np.arange(b), ns_labels.reshape(-1)]).mean()
    np.testing.assert_allclose(float(losses["masked_lm_loss"]), mlm, rtol=1e-6)
    np.testing.assert_allclose(float(losses["next_sentence_loss"]), ns, rtol=1e-6)
    np.testing.assert_allclose(float(losses["loss"]), mlm + ns, rtol=1e-6)
    m = ratios(pretraining_metrics(outputs, features, losses))
    correct = (mlm_lp.argmax(-1) == ids.reshape(-1)).astype(np.float32)
    np.testing.assert_allclose(m["masked_lm_accuracy"], (w * correct).sum() / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(m["masked_lm_loss"], (w * nll).sum() / w.sum(), rtol=1e-6)
    ns_acc = (ns_lp.argmax(-1) == ns_labels.reshape(-1)).mean()
    np.testing.assert_allclose(m["next_sentence_accuracy"], ns_acc, rtol=1e-6)
    np.testing.assert_allclose(m["next_sentence_loss"], ns, rtol=1e-6)


def _batch(rng, b=8, t=16, p=3, vocab=120):
    ids = rng.integers(5, vocab, size=(b, t))
    positions = np.stack([rng.choice(np.arange(1, t), p, replace=False) for _ in range(b)])
    labels = np.take_along_axis(ids, positions, 1)
    masked = ids.copy()
    np.put_along_axis(masked, positions, 4, 1)  # [MASK] = 4
    return {"input_ids": masked.astype(np.int32), "input_mask": np.ones((b, t), np.int32),
            "segment_ids": np.zeros((b, t), np.int32),
            "masked_lm_positions": positions.astype(np.int32),
            "masked_lm_ids": labels.astype(np.int32),
            "masked_lm_weights": np.ones((b, p), np.float32),
            "next_sentence_labels": rng.integers(0, 2, size=(b, 1)).astype(np.int32)}


def _setup(steps=60, lr=2e-3):
    tf.keras.utils.set_random_seed(1) if hasattr(tf, "keras") else None
    model = BertPretrainer(BertConfig(**TINY))
    model.build()
    names = {v.path: n for n, v in model.original_names().items()}
    opt = create_optimizer(lr, steps, 5, variable_names=names)
    opt.build(model.trainable_variables)
    return model, opt


def test_masked_lm_loss_falls_by_30_percent():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # A learnable corpus: each sequence repeats a short random motif.
    batches = []
    for _ in range(4):
        b = _batch(rng)
        motif = rng.integers(5, 120, size=(8, 4))
        ids = np.tile(motif, (1, 4))
        labels = np.take_along_axis(ids, b["masked_lm_positions"], 1)
        masked = ids.copy()
        np.put_along_axis(masked, b["masked_lm_positions"], 4, 1)
        b.update(input_ids=masked.astype(np.int32), masked_lm_ids=labels.astype(np.int32))
        batches.append(b)
    model, opt = _setup(steps=120, lr=3e-3)
    tvars = model.trainable_variables

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            losses = pretraining_losses(model(batch, training=True), batch)
        opt.apply(tape.gradient(losses["loss"], tvars), tvars)
        return losses["masked_lm_loss"]

    def eval_loss():
        return np.mean([float(pretraining_losses(model(b), b)["masked_lm_loss"])
                        for b in batches])

    before = eval_loss()
    for i in range(120):
        step(batches[i % 4])
    after = eval_loss()
    assert after <= 0.7 * before, (before, after)


def test_checkpoint_names_atomicity_and_restore(tmp_path):
    model, opt = _setup()
    ckpt = TrainingCheckpoint(str(tmp_path), model, opt, max_to_keep=2)
    model.bert.pooler_dense.bias.assign(np.full(32, 0.5, np.float32))
    opt.iterations.assign(7)
    ckpt.save(7)
    model.bert.pooler_dense.bias.assign(np.full(32, 1.5, np.float32))
    opt.adam_m[0].assign(tf.ones_like(opt.adam_m[0]))
    ckpt.save(9)
    names = set(tf.train.load_checkpoint(str(tmp_path / "model.ckpt-9"))
                .get_variable_to_shape_map())
    assert {"bert/pooler/dense/bias", "bert/encoder/layer_1/output/LayerNorm/gamma",
            "cls/predictions/output_bias", "cls/seq_relationship/output_weights",
            "bert/embeddings/word_embeddings/adam_m", "global_step"} <= names
    # A later save killed half-way: a temporary bundle and a data file with no index,
    # neither named by the state file.
    (tmp_path / ".tmp-dead-model.ckpt-11.index").write_bytes(b"garbage")
    (tmp_path / "model.ckpt-11.data-00000-of-00001").write_bytes(b"garbage")
    model.bert.pooler_dense.bias.assign(np.zeros(32, np.float32))
    opt.iterations.assign(0)
    fresh = TrainingCheckpoint(str(tmp_path), model, opt)
    assert fresh.restore() == 9
    assert int(opt.iterations.numpy()) == 9
    np.testing.assert_array_equal(model.bert.pooler_dense.bias.numpy(), 1.5)
    fresh.remove_temporaries()
    assert not (tmp_path / ".tmp-dead-model.ckpt-11.index").exists()
    ckpt.save(12)  # max_to_keep=2: model.ckpt-7 is deleted
    assert [os.path.basename(p) for p in ckpt.checkpoints()] == ["model.ckpt-9", "model.ckpt-12"]
    assert not (tmp_path / "model.ckpt-7.index").exists()


def test_restore_rejects_other_config(tmp_path):
    model, opt = _setup()
    TrainingCheckpoint(str(tmp_path), model, opt).save(1)
    other = BertPretrainer(BertConfig(**{**TINY, "hidden_size": 16, "intermediate_size": 32}))
    other.build()
    opt2 = create_optimizer(1e-3, 10, 1)
    opt2.build(other.trainable_variables)
    with pytest.raises(ValueError, match="bert_config_file"):
        TrainingCheckpoint(str(tmp_path), other, opt2).restore()


def test_checkpoint_max_to_keep_one_keeps_one(tmp_path):
    model, opt = _setup()
    ckpt = TrainingCheckpoint(str(tmp_path), model, opt, max_to_keep=1)
    for step in (1, 2, 3):
        ckpt.save(step)
    assert [os.path.basename(p) for p in ckpt.checkpoints()] == ["model.ckpt-3"]
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".index")) == [
        "model.ckpt-3.index"]
    assert "all_model_checkpoint_paths" in (tmp_path / "checkpoint").read_text()
