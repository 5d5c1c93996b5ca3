"""DETR's set criterion (facebookresearch/detr ``SetCriterion`` in ``models/detr.py``).

After Hungarian matching (:mod:`~tfmodels.models.detr.matcher`):

- ``loss_ce``: cross-entropy over all queries, unmatched ones labelled "no object"
  (index ``num_classes``), with class weights 1 and ``eos_coef`` (0.1) for no-object; the mean
  divides by the sum of the targets' weights, as PyTorch's ``cross_entropy(weight=...)``.
- ``loss_bbox``: L1 between matched boxes (normalised cx, cy, w, h), summed, / num_boxes.
- ``loss_giou``: Σ (1 − GIoU) over matched boxes / num_boxes.
- logged, not trained: ``class_error`` (100 − top-1 accuracy of matched queries) and
  ``cardinality_error`` (|number of non-no-object predictions − number of targets|, mean).

With auxiliary outputs every decoder layer is matched and scored again (keys suffixed
``_0``, ``_1``, …). ``loss`` is the weighted sum with DETR's weights (ce 1, bbox 5, giou 2).
``num_boxes`` is the number of target boxes in the batch (at least 1); under a distribution
strategy pass the global count divided by the number of replicas, as the original's
``all_reduce`` / ``world_size``.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.models.detr import box_ops
from tfmodels.models.detr.matcher import HungarianMatcher


def _matched(match):
    """(batch index, target index, query index) of every matched target."""
    bj = tf.cast(tf.where(match >= 0), tf.int32)  # [K, 2]
    q = tf.gather_nd(match, bj)
    return bj[:, 0], bj[:, 1], q


class SetCriterion:
    """``SetCriterion(num_classes, matcher, weight_dict, eos_coef, losses)`` of the original."""

    def __init__(self, num_classes, matcher=None, eos_coef=0.1, ce_loss_coef=1.0,
                 bbox_loss_coef=5.0, giou_loss_coef=2.0, aux_loss=True):
        self.num_classes = int(num_classes)
        self.matcher = matcher or HungarianMatcher()
        self.eos_coef = float(eos_coef)
        self.weight_dict = {"loss_ce": float(ce_loss_coef), "loss_bbox": float(bbox_loss_coef),
                            "loss_giou": float(giou_loss_coef)}
        self.aux_loss = bool(aux_loss)
        self.empty_weight = tf.concat(
            [tf.ones([self.num_classes]), [self.eos_coef]], axis=0)

    def check_targets(self, labels):
        """Graph assertion: every label is a real class (< num_classes)."""
        return tf.debugging.assert_less(
            tf.cast(labels, tf.int32), self.num_classes,
            message=f"target label >= num_classes ({self.num_classes})")

    def loss_labels(self, outputs, targets, match):
        logits = tf.cast(outputs["pred_logits"], tf.float32)
        b, j, q = _matched(match)
        target_classes = tf.fill(tf.shape(logits)[:2], self.num_classes)
        labels = tf.gather_nd(tf.cast(targets["labels"], tf.int32), tf.stack([b, j], 1))
        target_classes = tf.tensor_scatter_nd_update(target_classes, tf.stack([b, q], 1), labels)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(target_classes, logits)
        w = tf.gather(self.empty_weight, target_classes)
        loss_ce = tf.reduce_sum(w * ce) / tf.reduce_sum(w)
        matched_logits = tf.gather_nd(logits, tf.stack([b, q], 1))
        correct = tf.cast(tf.equal(tf.argmax(matched_logits, -1, output_type=tf.int32), labels),
                          tf.float32)
        accuracy = tf.math.divide_no_nan(tf.reduce_sum(correct) * 100.0,
                                         tf.cast(tf.size(labels), tf.float32))
        return {"loss_ce": loss_ce, "class_error": 100.0 - accuracy}

    def loss_cardinality(self, outputs, targets):
        logits = outputs["pred_logits"]
        card_pred = tf.reduce_sum(tf.cast(
            tf.not_equal(tf.argmax(logits, -1, output_type=tf.int32), self.num_classes),
            tf.float32), axis=1)
        tgt_lengths = tf.reduce_sum(tf.cast(targets["valid"], tf.float32), axis=1)
        return {"cardinality_error": tf.reduce_mean(tf.abs(card_pred - tgt_lengths))}

    def loss_boxes(self, outputs, targets, match, num_boxes):
        b, j, q = _matched(match)
        src = tf.gather_nd(tf.cast(outputs["pred_boxes"], tf.float32), tf.stack([b, q], 1))
        tgt = tf.gather_nd(tf.cast(targets["boxes"], tf.float32), tf.stack([b, j], 1))
        loss_bbox = tf.reduce_sum(tf.abs(src - tgt)) / num_boxes
        giou = box_ops.elementwise_generalized_box_iou(box_ops.box_cxcywh_to_xyxy(src),
                                                        box_ops.box_cxcywh_to_xyxy(tgt))
        return {"loss_bbox": loss_bbox, "loss_giou": tf.reduce_sum(1.0 - giou) / num_boxes}

    def single(self, outputs, targets, num_boxes, match=None):
        """Losses of one decoder layer's outputs (matching them first unless ``match``)."""
        if match is None:
            match = self.matcher(outputs, targets)
        losses = self.loss_labels(outputs, targets, match)
        losses.update(self.loss_cardinality(outputs, targets))
        losses.update(self.loss_boxes(outputs, targets, match, num_boxes))
        return losses

    def __call__(self, outputs, targets, num_boxes=None):
        """Dict of losses and logged metrics, ``"loss"`` the weighted total."""
        if num_boxes is None:
            num_boxes = tf.reduce_sum(tf.cast(targets["valid"], tf.float32))
        num_boxes = tf.maximum(tf.cast(num_boxes, tf.float32), 1.0)
        losses = self.single(outputs, targets, num_boxes)
        if self.aux_loss:
            for i, aux in enumerate(outputs.get("aux_outputs", ())):
                for k, v in self.single(aux, targets, num_boxes).items():
                    if k in self.weight_dict:
                        losses[f"{k}_{i}"] = v
        losses["loss"] = tf.add_n([
            v * self.weight_dict[k.rsplit("_", 1)[0] if k[-1].isdigit() else k]
            for k, v in losses.items()
            if (k.rsplit("_", 1)[0] if k[-1].isdigit() else k) in self.weight_dict])
        return losses
