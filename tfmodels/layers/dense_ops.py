"""Apply a keras Dense layer's weights as one 2-D MatMul + BiasAdd.

Keras 3 on TensorFlow runs ``Dense`` on a [B, T, D] input as ``tensordot`` (shape
ops around a MatMul) followed by a broadcast ``AddV2``. Flattening to [B·T, D] and
using ``tf.nn.bias_add`` gives the same numbers with fewer graph ops, and the
MatMul + BiasAdd pair is what TensorFlow's grappler remapper fuses into one
``_FusedMatMul`` kernel outside XLA. The variables stay the Dense layer's own
(``kernel`` [in, out], ``bias``), so checkpoint names do not change.
"""

from __future__ import annotations

import tensorflow as tf


def apply_dense(dense, x, activation=None):
    """``activation(x @ dense.kernel + dense.bias)`` over the last axis of ``x``.

    ``activation`` defaults to the Dense layer's own. The kernel is cast to the
    input's dtype (Keras autocasting under a mixed precision policy).
    """
    x = tf.convert_to_tensor(x)
    kernel = tf.cast(dense.kernel, x.dtype)
    rank = x.shape.rank
    if rank == 2:
        y = tf.matmul(x, kernel)
    else:
        lead = tf.shape(x)[:-1]
        y = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel)
    if dense.use_bias:
        y = tf.nn.bias_add(y, tf.cast(dense.bias, y.dtype))
    fn = dense.activation if activation is None else activation
    if fn is not None:
        y = fn(y)
    if rank != 2:
        y = tf.reshape(y, tf.concat([lead, [kernel.shape[-1]]], axis=0))
    return y
