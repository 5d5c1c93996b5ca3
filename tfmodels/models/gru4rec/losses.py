"""GRU4Rec losses and final activations, with the official formulas.

Every loss takes the training score matrix ``O`` of shape ``[M, M + n_sample]``: row i
is lane i's scores for the mini-batch targets (column j < M is lane j's target, so
the diagonal holds the positives) followed by the ``n_sample`` shared negatives.
Each returns the SUM over the M rows; the trainer divides by ``batch_size`` as the
official ``fit`` does. The formulas follow hidasib/GRU4Rec ``gru4rec.py``
(``cross_entropy``, ``bpr``, ``bpr_max``, ``top1``, ``top1_max``, ``softmax_neg``)
and the PyTorch/TF official ``xe_loss_with_softmax``/``bpr_max_loss_with_elu``:

- cross-entropy: ``-sum_i log(softmax(O - logq * log q)_ii + 1e-24)`` where q is the
  target popularity for in-batch columns and popularity**sample_alpha for samples.
- bpr-max: ``-log(sum_j sigma(o_ii - o_ij) s_ij + 1e-24) + bpreg * sum_j o_ij^2 s_ij``
  with s = softmax over the negatives only (the diagonal masked out).
- top1-max: ``sum_j s_ij (sigma(o_ij - o_ii) + sigma(o_ij^2))``.
- top1: ``mean_j (sigma(o_ij - o_ii) + sigma(o_ij^2)) - sigma(o_ii^2) / N`` (N columns).
- bpr: ``sum_j -log sigma(o_ii - o_ij)`` over all N columns (the diagonal included,
  as in the original).
"""

from __future__ import annotations

import tensorflow as tf

_EPS = 1e-24


def final_activation(name: str):
    """The official final activations: linear, relu, tanh, leaky-X, elu-X, selu-X-Y."""
    if name in ("linear", "softmax"):
        return lambda x: x
    if name == "relu":
        return tf.nn.relu
    if name == "tanh":
        return tf.tanh
    kind, *args = name.split("-")
    vals = [float(a) for a in args]
    if kind == "leaky":
        return lambda x: tf.where(x >= 0, x, vals[0] * x)
    if kind == "elu":
        # Theano original: switch(x >= 0, x, alpha * (exp(x) - 1)).
        return lambda x: tf.where(x >= 0, x, vals[0] * (tf.exp(tf.minimum(x, 0.0)) - 1.0))
    if kind == "selu":
        lmbd, alpha = vals
        return lambda x: lmbd * tf.where(x >= 0, x, alpha * (tf.exp(tf.minimum(x, 0.0)) - 1.0))
    raise ValueError(f"unknown final activation {name!r}")


def _diag(o):
    return tf.linalg.diag_part(o)[:, None]  # [M, 1]


def softmax_neg(o):
    """Softmax over each row with the diagonal (the positive) excluded."""
    hm = 1.0 - tf.eye(tf.shape(o)[0], tf.shape(o)[1], dtype=o.dtype)
    x = o * hm
    e_x = tf.exp(x - tf.reduce_max(x, axis=1, keepdims=True)) * hm
    return e_x / tf.reduce_sum(e_x, axis=1, keepdims=True)


def cross_entropy(o, log_q=None, logq: float = 0.0):
    """Softmax cross-entropy over the sampled columns; ``log_q`` [N] is log popularity."""
    if log_q is not None and logq > 0:
        o = o - logq * log_q[None, :]
    x = tf.exp(o - tf.reduce_max(o, axis=1, keepdims=True))
    p = tf.linalg.diag_part(x) / tf.reduce_sum(x, axis=1)
    return -tf.reduce_sum(tf.math.log(p + _EPS))


def bpr_max(o, bpreg: float = 1.0):
    s = softmax_neg(o)
    term = tf.reduce_sum(tf.sigmoid(_diag(o) - o) * s, axis=1)
    reg = tf.reduce_sum(tf.square(o) * s, axis=1)
    return tf.reduce_sum(-tf.math.log(term + _EPS) + bpreg * reg)


def top1_max(o):
    s = softmax_neg(o)
    return tf.reduce_sum(s * (tf.sigmoid(o - _diag(o)) + tf.sigmoid(tf.square(o))))


def top1(o):
    d = _diag(o)
    n = tf.cast(tf.shape(o)[1], o.dtype)
    per_row = tf.reduce_mean(tf.sigmoid(o - d) + tf.sigmoid(tf.square(o)), axis=1)
    return tf.reduce_sum(per_row - tf.sigmoid(tf.square(d[:, 0])) / n)


def bpr(o):
    # -log(sigmoid(x)) written as -log_sigmoid(x): equal where finite, no log(0).
    return -tf.reduce_sum(tf.math.log_sigmoid(_diag(o) - o))


def training_loss(name: str, o, *, final_act: str = "linear", bpreg: float = 1.0,
                  log_q=None, logq: float = 0.0):
    """Apply the final activation (ranking losses) and the named loss; returns the sum."""
    if name == "cross-entropy":
        return cross_entropy(o, log_q, logq)
    o = final_activation(final_act)(o)
    if name == "bpr-max":
        return bpr_max(o, bpreg)
    if name == "top1-max":
        return top1_max(o)
    if name == "top1":
        return top1(o)
    if name == "bpr":
        return bpr(o)
    raise ValueError(f"unknown loss {name!r}")
