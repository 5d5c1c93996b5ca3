"""Hungarian matcher (facebookresearch/detr ``models/matcher.py``).

For each image the cost of assigning query i to target j is

    C[i, j] = cost_class · (−softmax(logits_i)[label_j])
            + cost_bbox · ||box_i − box_j||₁          (normalised cx, cy, w, h)
            + cost_giou · (−GIoU(xyxy(box_i), xyxy(box_j)))

and the assignment minimising the total cost is found with
``scipy.optimize.linear_sum_assignment``, per image, outside the compiled graph (a
``tf.numpy_function``, so the step may be a ``tf.function`` but not XLA-compiled around it).
The cost matrices are computed in TensorFlow on padded targets.

Targets are padded: ``labels`` [B, M] int, ``boxes`` [B, M, 4], ``valid`` [B, M] (1 = a real
box). The result ``match`` [B, M] int32 gives the query matched to each target (−1 for
padding, or for targets left over when there are more targets than queries); the original's
``(index_i, index_j)`` lists are ``sorted((match[b, j], j) for valid j)``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from scipy.optimize import linear_sum_assignment

from tfmodels.models.detr import box_ops


def match_costs(pred_logits, pred_boxes, labels, boxes, cost_class=1.0, cost_bbox=5.0,
                cost_giou=2.0):
    """Cost matrices [B, Q, M] (padding columns included; the solver ignores them)."""
    prob = tf.nn.softmax(tf.cast(pred_logits, tf.float32), axis=-1)  # [B, Q, C+1]
    pred_boxes = tf.cast(pred_boxes, tf.float32)
    boxes = tf.cast(boxes, tf.float32)
    c_class = -tf.gather(prob, tf.cast(labels, tf.int32), axis=2, batch_dims=1)  # [B, Q, M]
    c_bbox = tf.reduce_sum(tf.abs(pred_boxes[:, :, None, :] - boxes[:, None, :, :]), axis=-1)
    c_giou = -box_ops.generalized_box_iou(box_ops.box_cxcywh_to_xyxy(pred_boxes),
                                          box_ops.box_cxcywh_to_xyxy(boxes))
    return cost_bbox * c_bbox + cost_class * c_class + cost_giou * c_giou


def solve(costs, valid):
    """numpy: per-image ``linear_sum_assignment`` on the valid columns → match [B, M] int32."""
    costs = np.asarray(costs)
    valid = np.asarray(valid).astype(bool)
    match = np.full(valid.shape, -1, np.int32)
    for b in range(costs.shape[0]):
        cols = np.flatnonzero(valid[b])
        if cols.size == 0:
            continue
        c = costs[b][:, cols]
        if not np.all(np.isfinite(c)):
            raise ValueError("matcher: non-finite matching cost (degenerate predicted or "
                             "target boxes with zero area)")
        rows, picked = linear_sum_assignment(c)
        match[b, cols[picked]] = rows
    return match


class HungarianMatcher:
    """``HungarianMatcher(cost_class=1, cost_bbox=5, cost_giou=2)`` (DETR's training values).

    ``matcher(outputs, targets)`` with ``outputs = {"pred_logits", "pred_boxes"}`` and
    ``targets = {"labels", "boxes", "valid"}`` returns ``match`` [B, M] int32.
    """

    def __init__(self, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
        if cost_class == 0 and cost_bbox == 0 and cost_giou == 0:
            raise ValueError("all costs can't be 0")
        self.cost_class = float(cost_class)
        self.cost_bbox = float(cost_bbox)
        self.cost_giou = float(cost_giou)

    def __call__(self, outputs, targets):
        costs = match_costs(outputs["pred_logits"], outputs["pred_boxes"], targets["labels"],
                            targets["boxes"], self.cost_class, self.cost_bbox, self.cost_giou)
        costs = tf.stop_gradient(costs)
        valid = tf.cast(targets["valid"], tf.bool)
        match = tf.numpy_function(solve, [costs, valid], tf.int32, stateful=False)
        match.set_shape(valid.shape)
        return match
