"""MaskFormer's matcher and set criterion (MaskFormer ``matcher.py``, ``criterion.py``).

Targets are padded per image: ``labels`` [B, M] int, ``masks`` [B, M, H, W] (binary, at the
image resolution), ``valid`` [B, M] (1 = a real segment).

Matching (``HungarianMatcher``): target masks are resized to the prediction size by
PyTorch-style nearest sampling, then

    C = cost_class · (−softmax(class)[label]) + cost_mask · focal(m, t) + cost_dice · dice(m, t)

with the pairwise sigmoid focal loss (α 0.25, γ 2, mean over pixels) and dice loss
``1 − (2·Σ σ(m)·t + 1) / (Σ σ(m) + Σ t + 1)``; the assignment is DETR's
(``scipy.optimize.linear_sum_assignment`` outside the graph, :func:`detr.matcher.solve`).

Criterion (``SetCriterion``): ``loss_ce`` = cross-entropy over all queries with the
no-object class weighted ``eos_coef`` (0.1), normalised by the sum of weights as
PyTorch's weighted mean; matched predicted masks are up-sampled bilinearly to the target
size, then ``loss_mask`` = Σ focal (mean over pixels) / num_masks and ``loss_dice`` =
Σ dice / num_masks. Weights ce 1, mask 20, dice 1; with deep supervision every auxiliary
output is matched and scored again (keys suffixed ``_0``, ``_1``, …).
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.models.detr.matcher import solve
from tfmodels.models.maskformer.pixel_decoder import upsample_nearest


def pairwise_focal(logits, targets, alpha=0.25, gamma=2.0):
    """[N, P] logits × [M, P] binary targets -> [N, M] mean focal loss
    (``batch_sigmoid_focal_loss``)."""
    p = tf.sigmoid(logits)
    pos = alpha * (1 - p) ** gamma * tf.nn.softplus(-logits)  # BCE(x, 1) = softplus(−x)
    neg = (1 - alpha) * p ** gamma * tf.nn.softplus(logits)  # BCE(x, 0) = softplus(x)
    hw = tf.cast(tf.shape(logits)[1], logits.dtype)
    return (tf.matmul(pos, targets, transpose_b=True)
            + tf.matmul(neg, 1 - targets, transpose_b=True)) / hw


def pairwise_dice(logits, targets):
    """[N, P] × [M, P] -> [N, M] dice loss (``batch_dice_loss``)."""
    p = tf.sigmoid(logits)
    num = 2 * tf.matmul(p, targets, transpose_b=True)
    den = tf.reduce_sum(p, -1)[:, None] + tf.reduce_sum(targets, -1)[None, :]
    return 1 - (num + 1) / (den + 1)


def focal_loss(logits, targets, num_masks, alpha=0.25, gamma=2.0):
    """``sigmoid_focal_loss``: Σ over masks of the per-pixel mean, / num_masks."""
    p = tf.sigmoid(logits)
    ce = tf.nn.sigmoid_cross_entropy_with_logits(targets, logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return tf.reduce_sum(tf.reduce_mean(loss, axis=1)) / num_masks


def dice_loss(logits, targets, num_masks):
    p = tf.sigmoid(logits)
    num = 2 * tf.reduce_sum(p * targets, -1)
    den = tf.reduce_sum(p, -1) + tf.reduce_sum(targets, -1)
    return tf.reduce_sum(1 - (num + 1) / (den + 1)) / num_masks


def resize_targets_nearest(masks, size):
    """[B, M, H, W] -> [B, M, h, w] as ``F.interpolate(mode="nearest")``."""
    s = tf.shape(masks)
    flat = tf.reshape(masks, [-1, s[2], s[3], 1])
    out = upsample_nearest(flat, size)
    return tf.reshape(out, [s[0], s[1], size[0], size[1]])


class HungarianMatcher:
    """``HungarianMatcher(cost_class=1, cost_mask=20, cost_dice=1)``; ``matcher(outputs,
    targets)`` -> ``match`` [B, M] int32 (query per target, −1 for padding)."""

    def __init__(self, cost_class=1.0, cost_mask=20.0, cost_dice=1.0):
        if cost_class == 0 and cost_mask == 0 and cost_dice == 0:
            raise ValueError("all costs can't be 0")
        self.cost_class, self.cost_mask, self.cost_dice = (float(cost_class), float(cost_mask),
                                                           float(cost_dice))

    def costs(self, outputs, targets):
        logits = tf.cast(outputs["class_queries_logits"], tf.float32)
        pred = tf.cast(outputs["masks_queries_logits"], tf.float32)  # [B, Q, h, w]
        size = tf.shape(pred)[2:4]
        tgt = resize_targets_nearest(tf.cast(targets["masks"], tf.float32), size)
        prob = tf.nn.softmax(logits, -1)
        c_class = -tf.gather(prob, tf.cast(targets["labels"], tf.int32), axis=2, batch_dims=1)
        b, q = tf.shape(pred)[0], tf.shape(pred)[1]
        pred = tf.reshape(pred, [b, q, -1])
        tgt = tf.reshape(tgt, [b, tf.shape(tgt)[1], -1])
        c_mask = tf.map_fn(lambda a: pairwise_focal(a[0], a[1]), (pred, tgt),
                           fn_output_signature=tf.float32)
        c_dice = tf.map_fn(lambda a: pairwise_dice(a[0], a[1]), (pred, tgt),
                           fn_output_signature=tf.float32)
        return self.cost_mask * c_mask + self.cost_class * c_class + self.cost_dice * c_dice

    def __call__(self, outputs, targets):
        costs = tf.stop_gradient(self.costs(outputs, targets))
        valid = tf.cast(targets["valid"], tf.bool)
        match = tf.numpy_function(solve, [costs, valid], tf.int32, stateful=False)
        match.set_shape(valid.shape)
        return match


class SetCriterion:
    """``SetCriterion(num_classes, matcher, weight_dict, eos_coef)`` of the original."""

    def __init__(self, num_classes, matcher=None, eos_coef=0.1, ce_weight=1.0,
                 mask_weight=20.0, dice_weight=1.0, deep_supervision=True):
        self.num_classes = int(num_classes)
        self.matcher = matcher or HungarianMatcher(1.0, mask_weight, dice_weight)
        self.eos_coef = float(eos_coef)
        self.weight_dict = {"loss_ce": float(ce_weight), "loss_mask": float(mask_weight),
                            "loss_dice": float(dice_weight)}
        self.deep_supervision = bool(deep_supervision)
        self.empty_weight = tf.concat([tf.ones([self.num_classes]), [self.eos_coef]], 0)

    def check_targets(self, labels, valid):
        """Graph assertion: every valid label is a real class (< num_classes)."""
        labels = tf.where(tf.cast(valid, tf.bool), tf.cast(labels, tf.int32), 0)
        return tf.debugging.assert_less(
            labels, self.num_classes, message=f"target label >= num_classes ({self.num_classes})")

    def single(self, outputs, targets, num_masks, match=None):
        if match is None:
            match = self.matcher(outputs, targets)
        logits = tf.cast(outputs["class_queries_logits"], tf.float32)
        bj = tf.cast(tf.where(match >= 0), tf.int32)
        b = bj[:, 0]
        q = tf.gather_nd(match, bj)
        labels = tf.gather_nd(tf.cast(targets["labels"], tf.int32), bj)
        target_classes = tf.tensor_scatter_nd_update(
            tf.fill(tf.shape(logits)[:2], self.num_classes), tf.stack([b, q], 1), labels)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(target_classes, logits)
        w = tf.gather(self.empty_weight, target_classes)
        losses = {"loss_ce": tf.reduce_sum(w * ce) / tf.reduce_sum(w)}
        pred = tf.gather_nd(tf.cast(outputs["masks_queries_logits"], tf.float32),
                            tf.stack([b, q], 1))  # [N, h, w]
        tgt = tf.gather_nd(tf.cast(targets["masks"], tf.float32), bj)  # [N, H, W]
        # bilinear, half-pixel centres (PyTorch align_corners=False); masks as the batch axis
        # so that an image set without any target (N = 0) works
        pred = tf.image.resize(pred[..., None], tf.shape(tgt)[1:3], method="bilinear")[..., 0]
        n = tf.shape(pred)[0]
        pred, tgt = tf.reshape(pred, [n, -1]), tf.reshape(tgt, [n, -1])
        losses["loss_mask"] = focal_loss(pred, tgt, num_masks)
        losses["loss_dice"] = dice_loss(pred, tgt, num_masks)
        return losses

    def __call__(self, outputs, targets, num_masks=None):
        """Dict of the loss terms and ``"loss"``, their weighted sum."""
        if num_masks is None:
            num_masks = tf.reduce_sum(tf.cast(targets["valid"], tf.float32))
        num_masks = tf.maximum(tf.cast(num_masks, tf.float32), 1.0)
        losses = self.single(outputs, targets, num_masks)
        if self.deep_supervision:
            for i, aux in enumerate(outputs.get("aux_outputs", ())):
                for k, v in self.single(aux, targets, num_masks).items():
                    losses[f"{k}_{i}"] = v

        def base(k):
            return k.rsplit("_", 1)[0] if k[-1].isdigit() else k

        losses["loss"] = tf.add_n([v * self.weight_dict[base(k)] for k, v in losses.items()])
        return losses
