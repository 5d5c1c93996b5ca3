"""SavedModel export of a trained GRU4Rec for live-session serving.

Two signatures, so a server can either replay a session or keep one state per session:

- ``recommend_session``: ``items`` int32 [T] (one session's item indices, oldest first),
  ``k`` int32 [] -> ``item_idx`` int32 [k], ``scores`` float32 [k], ``hidden`` float32 [H].
- ``recommend_step`` (``serving_default``): ``hidden`` float32 [B, H] (previous states;
  zeros for a new session), ``item`` int32 [B] (the newest item of each session),
  ``k`` int32 [] -> ``item_idx`` [B, k], ``scores`` [B, k], ``hidden`` [B, H].

``H = sum(layers)``: the per-layer states concatenated in layer order. When the model
knows its item-id map, both signatures also return ``item_ids`` (original ids of the
top-k items). Scores are the raw ``h Wy^T + By`` used for ranking in evaluation.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfmodels import io
from tfmodels.models.gru4rec.model import GRU4Rec


class GRU4RecServing(tf.Module):
    def __init__(self, model: GRU4Rec):
        super().__init__(name="gru4rec_serving")
        self.model = model
        self.weights = [w.value for w in model.weights]  # track the variables
        self.sizes = list(model.params.layers)
        self.item_ids = None
        if model.item_ids is not None:
            ids = np.asarray(model.item_ids)
            ids = ids.astype(str) if ids.dtype.kind in "OUS" else ids.astype(np.int64)
            self.item_ids = tf.constant(ids)
        total = sum(self.sizes)
        self.recommend_session = tf.function(self._session, input_signature=[
            tf.TensorSpec([None], tf.int32, name="items"), tf.TensorSpec([], tf.int32, name="k")])
        self.recommend_step = tf.function(self._step, input_signature=[
            tf.TensorSpec([None, total], tf.float32, name="hidden"),
            tf.TensorSpec([None], tf.int32, name="item"), tf.TensorSpec([], tf.int32, name="k")])

    def _split(self, hidden):
        return tf.split(hidden, self.sizes, axis=1)

    def _out(self, scores, hidden_list, k):
        top = tf.math.top_k(scores, k=k)
        out = {"item_idx": top.indices, "scores": top.values,
               "hidden": tf.concat(hidden_list, axis=-1)}
        if self.item_ids is not None:
            out["item_ids"] = tf.gather(self.item_ids, top.indices)
        return out

    def _check(self, items):
        return tf.debugging.assert_less(
            items, self.model.n_items, message="item index out of range")

    def _session(self, items, k):
        with tf.control_dependencies([self._check(items)]):
            scores, hidden = self.model._history_impl(items)
        return self._out(scores, [h[0] for h in hidden], k)

    def _step(self, hidden, item, k):
        with tf.control_dependencies([self._check(item)]):
            scores, new_h = self.model._score_impl(item, self._split(hidden))
        return self._out(scores, new_h, k)


def export_saved_model(model: GRU4Rec, export_dir: str) -> None:
    """Write the serving SavedModel to ``export_dir`` (any TensorFlow filesystem).

    The export is written to a temporary directory beside ``export_dir`` and put in place
    only when complete (:func:`tfmodels.io.atomic_directory`): a previous export is moved
    aside and deleted only after the new one is in place.
    """
    module = GRU4RecServing(model)
    with io.atomic_directory(export_dir) as tmp:
        tf.saved_model.save(module, tmp, signatures={
            "serving_default": module.recommend_step,
            "recommend_step": module.recommend_step,
            "recommend_session": module.recommend_session,
        })
