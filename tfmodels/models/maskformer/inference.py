"""MaskFormer inference (``MaskFormer.semantic_inference`` of ``mask_former_model.py``).

Semantic: mask logits are resized bilinearly to the output size (PyTorch
``F.interpolate(mode="bilinear", align_corners=False)`` = ``tf.image.resize`` bilinear),
then ``semseg = einsum("qc,qhw->chw", softmax(class)[..., :-1], sigmoid(masks))``; the map is
its argmax over classes.
"""

from __future__ import annotations

import tensorflow as tf


def resize_masks(mask_logits, size):
    """[B, Q, h, w] logits -> [B, Q, H, W] (bilinear, half-pixel centres as PyTorch)."""
    m = tf.transpose(mask_logits, [0, 2, 3, 1])
    m = tf.image.resize(m, size, method="bilinear")
    return tf.transpose(m, [0, 3, 1, 2])


def semantic_scores(class_logits, mask_logits, size=None):
    """[B, K, H, W] per-class scores; ``size`` (H, W) resizes the masks first."""
    if size is not None:
        mask_logits = resize_masks(mask_logits, size)
    probs = tf.nn.softmax(class_logits, axis=-1)[..., :-1]
    return tf.einsum("bqc,bqhw->bchw", probs, tf.sigmoid(mask_logits))


def semantic_inference(class_logits, mask_logits, size=None):
    """[B, H, W] int32 class map (argmax of :func:`semantic_scores`)."""
    return tf.argmax(semantic_scores(class_logits, mask_logits, size), axis=1,
                     output_type=tf.int32)


def panoptic_inference(class_logits, mask_logits, is_thing, object_mask_threshold=0.8,
                       overlap_threshold=0.8):
    """One image's panoptic segmentation (``MaskFormer.panoptic_inference``), in TF ops.

    ``class_logits`` [Q, K + 1], ``mask_logits`` [Q, H, W] (already at the output size),
    ``is_thing`` [K] bools. Queries whose best class is not "no object" and whose score
    exceeds ``object_mask_threshold`` are kept; each pixel goes to the kept query with the
    largest ``score · sigmoid(mask)``; a query keeps its segment only if the pixels it won
    are at least ``overlap_threshold`` of its own mask (``sigmoid ≥ 0.5``) and both are
    non-empty; stuff queries of one class merge into the first such segment.

    The original's loop, vectorised with the same result. Returns ``(panoptic_seg [H, W]
    int32`` (0 = void, segment ``i`` has id ``i + 1``), ``segment_classes [S] int32``,
    ``segment_is_thing [S] bool)``.
    """
    class_logits = tf.convert_to_tensor(class_logits, tf.float32)
    mask_logits = tf.convert_to_tensor(mask_logits, tf.float32)
    is_thing = tf.cast(tf.convert_to_tensor(is_thing), tf.bool)
    num_classes = tf.shape(class_logits)[-1] - 1
    probs = tf.nn.softmax(class_logits, axis=-1)
    scores = tf.reduce_max(probs, axis=-1)
    labels = tf.argmax(probs, axis=-1, output_type=tf.int32)
    keep = tf.logical_and(labels != num_classes, scores > object_mask_threshold)
    cur_scores = tf.boolean_mask(scores, keep)
    cur_classes = tf.boolean_mask(labels, keep)
    cur_masks = tf.sigmoid(tf.boolean_mask(mask_logits, keep))  # [n, H, W]
    n = tf.shape(cur_classes)[0]
    hw = tf.shape(mask_logits)[1:3]

    def empty():
        return (tf.zeros(hw, tf.int32), tf.zeros([0], tf.int32), tf.zeros([0], tf.bool))

    def segments():
        ids = tf.argmax(cur_scores[:, None, None] * cur_masks, axis=0, output_type=tf.int32)
        won = tf.one_hot(ids, n, dtype=tf.float32)  # [H, W, n]
        area = tf.reduce_sum(won, axis=[0, 1])
        original = tf.reduce_sum(tf.cast(cur_masks >= 0.5, tf.float32), axis=[1, 2])
        valid = ((area > 0) & (original > 0)
                 & (area / tf.maximum(original, 1.0) >= overlap_threshold))
        thing = tf.gather(is_thing, cur_classes)
        k = tf.range(n)
        same = (valid[None, :] & valid[:, None] & (cur_classes[None, :] == cur_classes[:, None])
                & ~thing[:, None] & (k[None, :] < k[:, None]))  # [k, j]: j earlier stuff twin
        has_prev = tf.reduce_any(same, axis=1)
        first = tf.where(has_prev, tf.argmax(tf.cast(same, tf.int32), axis=1,
                                             output_type=tf.int32), k)
        new = valid & ~has_prev
        new_id = tf.cumsum(tf.cast(new, tf.int32))
        seg_id = tf.where(valid, tf.gather(new_id, first), 0)
        return (tf.gather(seg_id, ids), tf.boolean_mask(cur_classes, new),
                tf.boolean_mask(thing, new))

    return tf.cond(n > 0, segments, empty)


def instance_inference(class_logits, mask_logits, topk=100):
    """One image's instances (Mask2Former ``instance_inference``, which MaskFormer's HF
    ``post_process_instance_segmentation`` follows): the ``topk`` (query, class) pairs by
    class probability, binary masks ``logit > 0``, score = class probability × the mean
    mask probability inside the binary mask. ``mask_logits`` [Q, H, W] at the output size.
    Returns ``{"scores" [k], "labels" [k], "masks" [k, H, W] bool}``.
    """
    class_logits = tf.convert_to_tensor(class_logits, tf.float32)
    mask_logits = tf.convert_to_tensor(mask_logits, tf.float32)
    probs = tf.nn.softmax(class_logits, axis=-1)[:, :-1]  # [Q, K]
    num_classes = tf.shape(probs)[1]
    flat = tf.reshape(probs, [-1])
    k = tf.minimum(topk, tf.size(flat))
    scores, index = tf.math.top_k(flat, k=k, sorted=True)
    labels, query = index % num_classes, index // num_classes
    masks = tf.gather(mask_logits, query)
    binary = tf.cast(masks > 0, tf.float32)
    mask_score = tf.reduce_sum(tf.sigmoid(masks) * binary, axis=[1, 2]) / (
        tf.reduce_sum(binary, axis=[1, 2]) + 1e-6)
    return {"scores": scores * mask_score, "labels": labels, "masks": binary > 0}
