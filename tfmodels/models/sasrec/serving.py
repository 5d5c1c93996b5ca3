"""Serving export of SASRec: a SavedModel that recommends from a user's item history.

Signature ``serving_default``:
  history: int64 [B, T], item ids (1..num_items) in time order, any T; 0 is padding and may
    sit on either side. The last ``maxlen`` items are used (as the original's inputs).
  exclude_seen: bool scalar; True removes the history's items from the recommendations.
Returns ``item_ids`` int64 [B, k], ``scores`` float32 [B, k] (dot products, best first) and,
when the training data had source ids (a session file), ``source_item_ids`` [B, k].

Only standard TensorFlow ops: the fused LayerNorm is traced in its composite form
(:func:`tfmodels.export.save`), so a client loads the model with
TensorFlow alone.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfmodels import export


def last_items(history, maxlen):
    """[B, T] ids with zeros anywhere -> [B, maxlen]: the last maxlen non-zero ids of each
    row, in order, left-padded with 0."""
    history = tf.cast(history, tf.int32)
    nonzero = tf.cast(history != 0, tf.int32)
    order = tf.argsort(nonzero, axis=1, stable=True)  # zeros first, items in time order
    packed = tf.gather(history, order, batch_dims=1)
    packed = tf.pad(packed, [[0, 0], [maxlen, 0]])
    return packed[:, -maxlen:]


class SASRecServing(tf.Module):
    def __init__(self, model, k=10, item_ids=None):
        super().__init__()
        if not 1 <= int(k) <= model.num_items:
            raise ValueError(f"k must be in [1, num_items={model.num_items}], got {k}")
        self.model = model
        self.k = int(k)
        self.source_ids = None
        if item_ids is not None:
            ids = np.asarray(item_ids)
            if ids.dtype.kind in "US":
                ids = ids.astype(bytes)
            self.source_ids = tf.constant(ids)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64, name="history"),
                                  tf.TensorSpec([], tf.bool, name="exclude_seen")])
    def serve(self, history, exclude_seen):
        model = self.model
        n = model.num_items + 1
        seq = last_items(history, model.maxlen)
        scores = model.score_all(model(seq, training=False)[:, -1, :])  # [B, n]
        b = tf.shape(history)[0]
        hist = tf.cast(history, tf.int32)
        valid = (hist > 0) & (hist < n)
        rows = tf.broadcast_to(tf.range(b)[:, None], tf.shape(hist))
        idx = tf.stack([tf.boolean_mask(rows, valid), tf.boolean_mask(hist, valid)], axis=1)
        seen = tf.scatter_nd(idx, tf.ones([tf.shape(idx)[0]], tf.int32), tf.stack([b, n])) > 0
        drop = tf.logical_and(seen, exclude_seen)
        drop = tf.logical_or(drop, tf.one_hot(tf.zeros([b], tf.int32), n, on_value=True,
                                              off_value=False, dtype=tf.bool))
        scores = tf.where(drop, tf.constant(-np.inf, scores.dtype), scores)
        top = tf.math.top_k(scores, k=self.k)
        out = {"item_ids": tf.cast(top.indices, tf.int64),
               "scores": tf.cast(top.values, tf.float32)}
        if self.source_ids is not None:
            out["source_item_ids"] = tf.gather(self.source_ids, tf.maximum(top.indices - 1, 0))
        return out


def export_saved_model(model, export_dir, k=10, item_ids=None):
    """Writes the serving SavedModel to ``export_dir`` (atomically); returns the path."""
    module = SASRecServing(model, k, item_ids)
    export.save(module, export_dir, signatures={"serving_default": module.serve})
    return export_dir
