"""GRU4Rec losses vs numpy re-derivations of the official formulas on hand-set scores."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.gru4rec import losses

# 3 lanes (M = 3), 2 extra sampled negatives: N = 5 columns; the diagonal is the target.
SCORES = np.array([
    [2.0, -1.0, 0.5, 0.0, 3.0],
    [0.3, 1.5, -2.0, 1.0, -0.5],
    [-1.0, 0.2, -0.4, 2.5, 0.1],
], dtype=np.float64)


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax_neg_row(row, i):
    """Softmax over the row's negatives (every column except i), written per element."""
    negs = [j for j in range(len(row)) if j != i]
    e = {j: np.exp(row[j]) for j in negs}
    z = sum(e.values())
    return {j: e[j] / z for j in negs}


def np_xe(o, log_q=None, logq=0.0):
    total = 0.0
    for i, row in enumerate(o):
        r = row - logq * log_q if log_q is not None else row
        total += -np.log(np.exp(r[i]) / np.exp(r).sum() + 1e-24)
    return total


def np_bpr_max(o, bpreg):
    total = 0.0
    for i, row in enumerate(o):
        s = np_softmax_neg_row(row, i)
        total += -np.log(sum(sig(row[i] - row[j]) * s[j] for j in s) + 1e-24)
        total += bpreg * sum(row[j] ** 2 * s[j] for j in s)
    return total


def np_top1_max(o):
    total = 0.0
    for i, row in enumerate(o):
        s = np_softmax_neg_row(row, i)
        total += sum(s[j] * (sig(row[j] - row[i]) + sig(row[j] ** 2)) for j in s)
    return total


def np_top1(o):
    n = o.shape[1]
    total = 0.0
    for i, row in enumerate(o):
        total += sum(sig(row[j] - row[i]) + sig(row[j] ** 2) for j in range(n)) / n
        total -= sig(row[i] ** 2) / n
    return total


def np_bpr(o):
    return sum(-np.log(sig(row[i] - row[j])) for i, row in enumerate(o) for j in range(len(row)))


def np_elu(x, a):
    return np.where(x >= 0, x, a * (np.exp(x) - 1))


def tf32(x):
    return tf.constant(x, tf.float32)


def test_softmax_neg_masks_the_diagonal():
    s = losses.softmax_neg(tf32(SCORES)).numpy()
    for i in range(3):
        assert s[i, i] == 0.0
        ref = np_softmax_neg_row(SCORES[i], i)
        for j, v in ref.items():
            np.testing.assert_allclose(s[i, j], v, rtol=1e-5)


def test_cross_entropy_plain_and_logq():
    np.testing.assert_allclose(losses.cross_entropy(tf32(SCORES)).numpy(), np_xe(SCORES), rtol=1e-5)
    pop = np.array([4.0, 9.0, 1.0, 16.0, 2.0])
    # In-batch columns use the popularity, sampled columns popularity ** alpha (alpha=0.5).
    log_q = np.log(np.r_[pop[:3], pop[3:] ** 0.5])
    got = losses.cross_entropy(tf32(SCORES), tf32(log_q), logq=0.7).numpy()
    np.testing.assert_allclose(got, np_xe(SCORES, log_q, 0.7), rtol=1e-5)
    assert abs(got - np_xe(SCORES)) > 1e-2  # the correction matters on this matrix


@pytest.mark.parametrize("bpreg", [0.0, 1.0, 1.95])
def test_bpr_max(bpreg):
    got = losses.bpr_max(tf32(SCORES), bpreg).numpy()
    np.testing.assert_allclose(got, np_bpr_max(SCORES, bpreg), rtol=1e-5)


def test_bpr_max_with_elu_final_activation():
    got = losses.training_loss("bpr-max", tf32(SCORES), final_act="elu-0.5", bpreg=1.0).numpy()
    np.testing.assert_allclose(got, np_bpr_max(np_elu(SCORES, 0.5), 1.0), rtol=1e-5)


def test_top1_max():
    got = losses.top1_max(tf32(SCORES)).numpy()
    np.testing.assert_allclose(got, np_top1_max(SCORES), rtol=1e-5)


def test_top1():
    np.testing.assert_allclose(losses.top1(tf32(SCORES)).numpy(), np_top1(SCORES), rtol=1e-5)


def test_bpr():
    np.testing.assert_allclose(losses.bpr(tf32(SCORES)).numpy(), np_bpr(SCORES), rtol=1e-5)


@pytest.mark.parametrize("name,ref", [
    ("linear", lambda x: x),
    ("relu", lambda x: np.maximum(x, 0)),
    ("tanh", np.tanh),
    ("leaky-0.1", lambda x: np.where(x >= 0, x, 0.1 * x)),
    ("elu-1", lambda x: np_elu(x, 1.0)),
    ("selu-1.05-1.67", lambda x: 1.05 * np_elu(x, 1.67)),
])
def test_final_activations(name, ref):
    got = losses.final_activation(name)(tf32(SCORES)).numpy()
    np.testing.assert_allclose(got, ref(SCORES), rtol=1e-5, atol=1e-6)


def test_training_loss_applies_final_act_to_ranking_losses():
    got = losses.training_loss("top1", tf32(SCORES), final_act="tanh").numpy()
    np.testing.assert_allclose(got, np_top1(np.tanh(SCORES)), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.training_loss("hinge", tf32(SCORES))


def test_bpr_max_gradient_is_finite_when_target_saturates():
    """No log(0): a far-ahead target keeps a finite loss and gradient (the 1e-24 term)."""
    o = tf.Variable([[60.0, -60.0, -60.0], [-60.0, 60.0, -60.0]])
    with tf.GradientTape() as tape:
        loss = losses.bpr_max(o, 1.0)
    g = tape.gradient(loss, o)
    assert np.isfinite(loss.numpy()) and np.all(np.isfinite(g.numpy()))
