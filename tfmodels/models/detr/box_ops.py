"""Box utilities of facebookresearch/detr ``util/box_ops.py`` in TensorFlow.

Boxes are (cx, cy, w, h) or (x0, y0, x1, y1) in the last axis. ``box_iou`` and
``generalized_box_iou`` are pairwise ([N, 4] × [M, 4] → [N, M], or batched
[B, N, 4] × [B, M, 4] → [B, N, M]); ``elementwise_generalized_box_iou`` pairs row i with
row i (the diagonal the original's loss takes). GIoU: Rezatofighi et al. 2019.
"""

from __future__ import annotations

import tensorflow as tf


def box_cxcywh_to_xyxy(x):
    cx, cy, w, h = tf.unstack(x, axis=-1)
    return tf.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=-1)


def box_xyxy_to_cxcywh(x):
    x0, y0, x1, y1 = tf.unstack(x, axis=-1)
    return tf.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=-1)


def box_area(boxes):
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(boxes1, boxes2):
    """Pairwise IoU and union of xyxy boxes: ([..., N, M], [..., N, M])."""
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = tf.maximum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rb = tf.minimum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    wh = tf.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[..., :, None] + area2[..., None, :] - inter
    return inter / union, union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalized IoU of xyxy boxes (degenerate boxes give inf/nan, as the original)."""
    iou, union = box_iou(boxes1, boxes2)
    lt = tf.minimum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rb = tf.maximum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    wh = tf.maximum(rb - lt, 0.0)
    area = wh[..., 0] * wh[..., 1]
    return iou - (area - union) / area


def elementwise_generalized_box_iou(boxes1, boxes2):
    """GIoU of boxes1[i] with boxes2[i] (xyxy): ``diag(generalized_box_iou(b1, b2))``."""
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = tf.maximum(boxes1[..., :2], boxes2[..., :2])
    rb = tf.minimum(boxes1[..., 2:], boxes2[..., 2:])
    wh = tf.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1 + area2 - inter
    lt = tf.minimum(boxes1[..., :2], boxes2[..., :2])
    rb = tf.maximum(boxes1[..., 2:], boxes2[..., 2:])
    wh = tf.maximum(rb - lt, 0.0)
    enclosing = wh[..., 0] * wh[..., 1]
    return inter / union - (enclosing - union) / enclosing
