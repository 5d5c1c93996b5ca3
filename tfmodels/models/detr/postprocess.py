"""DETR's ``PostProcess`` (facebookresearch/detr ``models/detr.py``) in TensorFlow.

Scores and labels are the softmax maximum over the real classes (no-object dropped); boxes
go from normalised (cx, cy, w, h) to absolute (x0, y0, x1, y1) in the ORIGINAL image size
``[h, w]`` per image, as the original does for COCO evaluation. Only standard TensorFlow ops,
so it exports in a SavedModel.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.models.detr.box_ops import box_cxcywh_to_xyxy


def post_process(pred_logits, pred_boxes, target_sizes):
    """``{"scores", "labels", "boxes"}``: [B, Q], [B, Q], [B, Q, 4]; target_sizes [B, 2] (h, w)."""
    prob = tf.nn.softmax(tf.cast(pred_logits, tf.float32), axis=-1)[..., :-1]
    scores = tf.reduce_max(prob, axis=-1)
    labels = tf.argmax(prob, axis=-1, output_type=tf.int32)
    boxes = box_cxcywh_to_xyxy(tf.cast(pred_boxes, tf.float32))
    size = tf.cast(target_sizes, tf.float32)
    scale = tf.stack([size[:, 1], size[:, 0], size[:, 1], size[:, 0]], axis=1)[:, None, :]
    return {"scores": scores, "labels": labels, "boxes": boxes * scale}
