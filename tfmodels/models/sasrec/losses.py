"""SASRec training losses over the positions of a batch that have a target (pos != 0).

- ``bce_loss`` (the original, kang205/SASRec ``model.py``)::

      loss = sum_t [ -log(sigmoid(s_pos) + 1e-24) - sum_j log(1 - sigmoid(s_neg_j) + 1e-24) ]
             / #targets

  with one negative per position in the original; several (``neg`` of shape [B, T, n]) are an
  option. The 1e-24 is kept: it bounds each term at 55.26 and, as in the original, a saturated
  sigmoid gives no gradient.
- ``softmax_ce_loss`` (an option): full-softmax cross-entropy of the next item over every item
  1..num_items, averaged over target positions.
- ``pairwise_auc``: the original's training "auc", mean of (sign(s_pos - s_neg) + 1) / 2.
"""

from __future__ import annotations

import tensorflow as tf

EPS = 1e-24


def _target_mask(pos):
    return tf.cast(tf.not_equal(pos, 0), tf.float32)


def bce_loss(pos_logits, neg_logits, pos):
    """pos_logits [B, T], neg_logits [B, T] or [B, T, n], pos ids [B, T] (0: no target)."""
    pos_logits = tf.cast(pos_logits, tf.float32)
    neg_logits = tf.cast(neg_logits, tf.float32)
    target = _target_mask(pos)
    pos_term = -tf.math.log(tf.sigmoid(pos_logits) + EPS)
    neg_term = -tf.math.log(1.0 - tf.sigmoid(neg_logits) + EPS)
    if neg_term.shape.rank == pos_term.shape.rank + 1:
        neg_term = tf.reduce_sum(neg_term, axis=-1)
    return tf.reduce_sum((pos_term + neg_term) * target) / tf.maximum(
        tf.reduce_sum(target), 1.0)


def softmax_ce_loss(all_logits, pos):
    """all_logits [B, T, num_items + 1] (column 0 = padding, excluded), pos ids [B, T]."""
    logits = tf.cast(all_logits[..., 1:], tf.float32)
    target = _target_mask(pos)
    labels = tf.maximum(tf.cast(pos, tf.int32) - 1, 0)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_sum(ce * target) / tf.maximum(tf.reduce_sum(target), 1.0)


def pairwise_auc(pos_logits, neg_logits, pos):
    """The original's training AUC against the first negative of each position."""
    pos_logits = tf.cast(pos_logits, tf.float32)
    neg_logits = tf.cast(neg_logits, tf.float32)
    if neg_logits.shape.rank == pos_logits.shape.rank + 1:
        neg_logits = neg_logits[..., 0]
    target = _target_mask(pos)
    hit = (tf.sign(pos_logits - neg_logits) + 1.0) / 2.0
    return tf.reduce_sum(hit * target) / tf.maximum(tf.reduce_sum(target), 1.0)
