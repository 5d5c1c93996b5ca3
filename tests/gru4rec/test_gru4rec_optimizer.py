"""AdagradM vs a numpy re-derivation of the official update, dense and sparse."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.gru4rec.optimizer import AdagradM

EPS = 1e-6


def np_dense(w, grads, lr, mom):
    acc = np.zeros_like(w)
    vel = np.zeros_like(w)
    for g in grads:
        acc += g * g
        step = g / np.sqrt(acc + EPS)
        if mom > 0:
            vel = mom * vel - lr * step
            w = w + vel
        else:
            w = w - lr * step
    return w


def np_sparse(w, updates, lr, mom):
    """updates: list of (indices, rows); repeated indices summed first, only those rows move."""
    acc = np.zeros_like(w)
    vel = np.zeros_like(w)
    w = w.copy()
    for idx, rows in updates:
        g = {}
        for i, r in zip(idx, rows):
            g[i] = g.get(i, 0) + r
        for i, gi in g.items():
            acc[i] += gi * gi
            step = gi / np.sqrt(acc[i] + EPS)
            if mom > 0:
                vel[i] = mom * vel[i] - lr * step
                w[i] += vel[i]
            else:
                w[i] -= lr * step
    return w


@pytest.mark.parametrize("mom", [0.0, 0.4])
def test_dense_updates(mom):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(4)]
    var = tf.Variable(w0)
    opt = AdagradM(0.1, mom)
    opt.build([var])
    for g in grads:
        opt.apply_dense(var, tf.constant(g))
    np.testing.assert_allclose(var.numpy(), np_dense(w0.astype(np.float64), grads, 0.1, mom),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("mom", [0.0, 0.5])
def test_sparse_row_updates_with_repeated_indices(mom, static):
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(8, 3)).astype(np.float32)
    updates = [
        (np.array([1, 5, 1, 2]), rng.normal(size=(4, 3)).astype(np.float32)),
        (np.array([5, 7]), rng.normal(size=(2, 3)).astype(np.float32)),
        (np.array([2, 2, 2]), rng.normal(size=(3, 3)).astype(np.float32)),
        (np.array([1]), rng.normal(size=(1, 3)).astype(np.float32)),
    ]
    var = tf.Variable(w0)
    opt = AdagradM(0.2, mom)
    opt.build([var])
    # static: the XLA-compiled new rows, then the scatter (as the fused training step)
    rows_fn = tf.function(lambda i, r: opt.sparse_rows(var, i, r), jit_compile=True)
    for idx, rows in updates:
        if static:
            opt.write_rows(var, *rows_fn(tf.constant(idx, tf.int32), tf.constant(rows)))
        else:
            opt.apply_sparse(var, tf.constant(idx, tf.int32), tf.constant(rows))
    ref = np_sparse(w0.astype(np.float64), updates, 0.2, mom)
    np.testing.assert_allclose(var.numpy(), ref, rtol=1e-5, atol=1e-6)
    untouched = [0, 3, 4, 6]
    np.testing.assert_array_equal(var.numpy()[untouched], w0[untouched])
    acc, _ = opt.slots(var)
    np.testing.assert_array_equal(acc.numpy()[untouched], 0.0)


def test_sparse_on_a_vector_bias():
    w0 = np.zeros(5, np.float32)
    var = tf.Variable(w0)
    opt = AdagradM(0.1, 0.0)
    opt.build([var])
    opt.apply_sparse(var, tf.constant([3, 3, 0]), tf.constant([1.0, 2.0, -4.0]))
    ref = np_sparse(w0.astype(np.float64)[:, None],
                    [(np.array([3, 3, 0]), np.array([[1.0], [2.0], [-4.0]]))], 0.1, 0.0)[:, 0]
    np.testing.assert_allclose(var.numpy(), ref, rtol=1e-6)


def test_bad_hyperparameters():
    with pytest.raises(ValueError):
        AdagradM(0.0)
    with pytest.raises(ValueError):
        AdagradM(0.1, -0.1)
