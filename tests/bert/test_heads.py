"""Pre-training, classifier and span heads against numpy re-derivations."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tests.bert import numpy_reference as ref
from tests.bert.helpers import random_inputs, randomize, tiny_config
from tfmodels.models.bert import (
    BertModel,
    BertPretrainingHeads,
    ClassifierHead,
    SpanHead,
    classification_loss,
    masked_lm_loss,
    next_sentence_loss,
)


def _pretraining_setup(hidden_act="gelu"):
    config = tiny_config(hidden_act=hidden_act)
    model = BertModel(config)
    heads = BertPretrainingHeads(config, model)
    weights = randomize(model, heads, seed=3)
    return config, model, heads, weights


def test_pretraining_heads_match_numpy():
    config, model, heads, weights = _pretraining_setup()
    ids, mask, types = random_inputs(config)
    positions = np.array([[1, 2, 0], [0, 1, 1], [3, 0, 1]], np.int32)
    out = model([ids, mask, types])
    got = heads(out, positions)
    assert got["masked_lm_log_probs"].shape == (9, config.vocab_size)
    expected = ref.masked_lm_log_probs(weights, config, out["sequence_output"], positions)
    np.testing.assert_allclose(got["masked_lm_log_probs"], expected, atol=2e-5)
    expected_nsp = ref.next_sentence_log_probs(weights, out["pooled_output"])
    np.testing.assert_allclose(got["next_sentence_log_probs"], expected_nsp, atol=2e-5)
    # The decoder is tied: the heads own no copy of the embedding table.
    assert all(v.shape != (config.vocab_size, config.hidden_size) for v in heads.weights)


def test_masked_lm_loss_formula():
    rng = np.random.default_rng(0)
    log_probs = ref.log_softmax(rng.normal(size=(6, 10)))
    labels = rng.integers(0, 10, (2, 3))
    w = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    loss, per_example = masked_lm_loss(log_probs, labels, w)
    nll = -log_probs[np.arange(6), labels.reshape(-1)]
    np.testing.assert_allclose(per_example, nll, rtol=1e-6)
    np.testing.assert_allclose(loss, (nll * w.reshape(-1)).sum() / (w.sum() + 1e-5), rtol=1e-6)
    # All weights zero: the 1e-5 keeps the loss finite (0), as the original.
    zero_loss, _ = masked_lm_loss(log_probs, labels, np.zeros_like(w))
    assert float(zero_loss) == 0.0


def test_next_sentence_and_classification_losses():
    log_probs = np.log(np.array([[0.9, 0.1], [0.3, 0.7]]))
    loss, per = next_sentence_loss(log_probs, [0, 0])
    np.testing.assert_allclose(per, [-np.log(0.9), -np.log(0.3)], rtol=1e-6)
    np.testing.assert_allclose(loss, (-np.log(0.9) - np.log(0.3)) / 2, rtol=1e-6)
    logits = np.array([[2.0, 0.0, -1.0]])
    loss, _, probs = classification_loss(logits, [2])
    p = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(probs, p, rtol=1e-6)
    np.testing.assert_allclose(loss, -np.log(p[0, 2]), rtol=1e-6)


def test_classifier_and_span_heads():
    rng = np.random.default_rng(1)
    pooled = rng.normal(size=(4, 32)).astype(np.float32)
    clf = ClassifierHead(3, 32)
    clf.build()
    clf.output_bias.assign([0.1, -0.2, 0.3])
    logits = clf(pooled, training=False)
    w, b = clf.output_weights.numpy(), clf.output_bias.numpy()
    assert w.shape == (3, 32)
    np.testing.assert_allclose(logits, pooled @ w.T + b, atol=1e-5)
    assert np.abs(clf(pooled, training=True) - logits).max() > 1e-4  # dropout active

    seq = rng.normal(size=(2, 5, 32)).astype(np.float32)
    span = SpanHead(32)
    span.build()
    span.output_bias.assign([0.5, -0.5])
    start, end = span(seq)
    w, b = span.output_weights.numpy(), span.output_bias.numpy()
    np.testing.assert_allclose(start, seq @ w[0] + b[0], atol=1e-5)
    np.testing.assert_allclose(end, seq @ w[1] + b[1], atol=1e-5)


def test_masked_lm_gradient_reaches_tied_embedding_table():
    config, model, heads, _ = _pretraining_setup()
    ids, mask, types = random_inputs(config)
    positions = np.array([[1, 2], [0, 1], [1, 1]], np.int32)
    with tf.GradientTape() as tape:
        out = heads(model([ids, mask, types]), positions)
        loss, _ = masked_lm_loss(out["masked_lm_log_probs"], ids[:, :2], np.ones((3, 2)))
    table = model.get_embedding_table()
    grad = tape.gradient(loss, table)
    grad = tf.convert_to_tensor(grad).numpy()
    # Every row gets decoder gradient (softmax over the whole vocab).
    assert np.all(np.abs(grad).sum(1) > 0)
