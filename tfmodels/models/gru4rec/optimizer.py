"""Adagrad with momentum and sparse row updates, as the official GRU4Rec ``adagrad``.

Official: hidasib/GRU4Rec ``adagrad``/``RMSprop`` (Theano), ``IndexedAdagradM``
(PyTorch) and ``AdagradM`` (TF). For a dense parameter w with gradient g:

    acc += g**2
    step = g / sqrt(acc + eps)                      (eps = 1e-6, acc starts at 0)
    momentum == 0:  w -= lr * step
    momentum  > 0:  v = momentum * v - lr * step;  w += v

The official docstring calls this "Nesterov momentum"; the update it performs is the
one above, which is what we do. Item-indexed matrices (Wy, By, E, the one-hot GRU input
matrix) get sparse updates: the gradient rows of repeated indices are summed first
(as PyTorch's ``coalesce``) and only those rows of w, acc and v change; untouched
rows keep their velocity without decaying it, as in the official code.

``sparse_rows`` computes the same update with shapes known at trace time (a sort instead
of ``tf.unique``), so it can be compiled with XLA together with the rest of a training
step; ``write_rows`` then scatters the new rows (a scatter into a variable inside XLA
would copy the whole item matrix).
"""

from __future__ import annotations

import tensorflow as tf


def _tf_var(v):
    return v.value if hasattr(v, "value") and isinstance(v.value, tf.Variable) else v


class AdagradM:
    """Slot-holding Adagrad(+momentum) for a fixed set of dense and sparse variables."""

    def __init__(self, learning_rate: float = 0.05, momentum: float = 0.0, epsilon: float = 1e-6):
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self._slots: dict[int, tuple] = {}

    def build(self, variables) -> None:
        for v in variables:
            var = _tf_var(v)
            if id(var) in self._slots:
                continue
            acc = tf.Variable(tf.zeros_like(var), trainable=False, name="acc")
            mom = (tf.Variable(tf.zeros_like(var), trainable=False, name="mom")
                   if self.momentum > 0 else None)
            self._slots[id(var)] = (var, acc, mom)

    def slots(self, v):
        """(accumulator, velocity or None) of a built variable."""
        _, acc, mom = self._slots[id(_tf_var(v))]
        return acc, mom

    def apply_dense(self, v, grad) -> None:
        var, acc, mom = self._slots[id(_tf_var(v))]
        acc.assign_add(grad * grad)
        step = grad / tf.sqrt(acc + self.epsilon)
        if mom is not None:
            mom.assign(self.momentum * mom - self.learning_rate * step)
            var.assign_add(mom)
        else:
            var.assign_sub(self.learning_rate * step)

    def apply_sparse(self, v, indices, values) -> None:
        """Update rows ``indices`` of v with gradient rows ``values`` (repeats summed)."""
        var, acc, mom = self._slots[id(_tf_var(v))]
        uniq, pos = tf.unique(tf.reshape(indices, [-1]))
        g = tf.math.unsorted_segment_sum(values, pos, tf.shape(uniq)[0])
        acc_rows = tf.gather(acc, uniq) + g * g
        acc.scatter_update(tf.IndexedSlices(acc_rows, uniq))
        step = g / tf.sqrt(acc_rows + self.epsilon)
        if mom is not None:
            vel = self.momentum * tf.gather(mom, uniq) - self.learning_rate * step
            mom.scatter_update(tf.IndexedSlices(vel, uniq))
            var.scatter_add(tf.IndexedSlices(vel, uniq))
        else:
            var.scatter_sub(tf.IndexedSlices(self.learning_rate * step, uniq))

    def sparse_rows(self, v, indices, values):
        """The new rows of a sparse update, with static shapes (XLA-compilable).

        Returns ``(rows_idx [N], new (var, acc[, mom]) rows [N, ...])`` for the N index
        rows: sorted, repeats summed into one slot; slots left over by repeats repeat the
        first slot (same index, same values), so ``write_rows`` can scatter all N rows
        without a data-dependent shape and the result equals ``apply_sparse``.
        """
        var, acc, mom = self._slots[id(_tf_var(v))]
        idx = tf.reshape(indices, [-1])
        n = tf.shape(idx)[0]
        sidx = tf.sort(idx)
        order = tf.argsort(idx, stable=True)
        first = tf.concat([[True], sidx[1:] != sidx[:-1]], axis=0)
        seg = tf.cumsum(tf.cast(first, tf.int32)) - 1
        g = tf.math.unsorted_segment_sum(tf.gather(values, order), seg, n)
        uidx = tf.math.unsorted_segment_max(sidx, seg, n)
        slot = tf.where(tf.range(n) <= seg[-1], tf.range(n), 0)   # leftovers -> slot 0
        g = tf.gather(g, slot)
        uidx = tf.gather(uidx, slot)
        acc_rows = tf.gather(acc, uidx) + g * g
        step = g / tf.sqrt(acc_rows + self.epsilon)
        if mom is not None:
            vel = self.momentum * tf.gather(mom, uidx) - self.learning_rate * step
            return uidx, (tf.gather(var, uidx) + vel, acc_rows, vel)
        return uidx, (tf.gather(var, uidx) - self.learning_rate * step, acc_rows)

    def write_rows(self, v, rows_idx, rows) -> None:
        """Scatters the rows from ``sparse_rows`` into the variable and its slots."""
        var, acc, mom = self._slots[id(_tf_var(v))]
        for target, r in zip((var, acc, mom), rows):
            target.scatter_update(tf.IndexedSlices(r, rows_idx))
